"""How fast the store's JSON can be read, before any check: the floor under the loader's first read.

    .venv/bin/python bench/decode_probe.py bench/out/store-100000-413c6146.json

Prints the best of three, in this process, with the cyclic collector off as the loader has it, for orjson (what
the loader uses), msgspec into plain objects, and msgspec into typed Structs shaped like an article (no
checks, no Article). msgspec is not a dependency: `.venv/bin/pip install msgspec` to measure it. Written to
decide whether a msgspec fast path could bring the first read of a 100,000-article store under a second
(measured 2026-11-25: orjson 0.46 s, msgspec 0.39 s plain, 0.35 s typed: the parse is not where the 4-5 s go).
"""

import gc
import sys
import time
from typing import Any, Callable, Optional


def best_of(fn: Callable[[], Any], times: int = 3) -> float:
    out = []
    for _ in range(times):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
        del result
    return min(out)


def _types(msgspec: Any) -> tuple[type, type]:
    """Returns Structs shaped like an article and a store (made here: msgspec is optional)."""
    class Article(msgspec.Struct, frozen=True, gc=False):
        id: str
        title: str
        published: str  # a date or an RFC 3339 time: msgspec reads only the latter as datetime
        ministries: tuple[str, ...]
        topics: tuple[str, ...]
        summary: str
        updated: Optional[str] = None
        content_html: Optional[str] = None
        url: Optional[str] = None
        source: Optional[dict[str, Any]] = None
        corrections: Any = None
        withdrawn: Any = None

    class Store(msgspec.Struct):
        portal: Any
        ministries: Any
        topics: Any
        articles: list[Article]

    return Article, Store


def main(path: str) -> None:
    raw = open(path, "rb").read()
    gc.disable()
    import orjson

    print(f"{path}: {len(raw):,} bytes")
    print(f"orjson.loads, whole file:            {best_of(lambda: orjson.loads(raw)):.2f} s")
    try:
        import msgspec
    except ImportError:
        print("msgspec is not installed: .venv/bin/pip install msgspec")
        return

    Article, Store = _types(msgspec)
    typed = msgspec.json.Decoder(Store)
    print(f"msgspec, plain objects:              {best_of(lambda: msgspec.json.decode(raw)):.2f} s")
    print(f"msgspec, typed Structs:              {best_of(lambda: typed.decode(raw)):.2f} s")


if __name__ == "__main__":
    main(sys.argv[1])
