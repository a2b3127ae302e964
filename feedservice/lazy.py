"""Containers that make what they hold when it is first read: the articles of a store read from a file, built
from their text when shown (``LazyArticles``), and an index made on first use (``LazyDict``). A load does
only what serving needs at once; the rest is paid for by whoever first asks, once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, overload

if TYPE_CHECKING:
    from .store import Article, Entry


class LazyDict(Mapping):
    """A read-only dict made by ``make()`` the first time it is read: an index a load need not build before it
    can serve (the id index, the reload memo's keys), paid for by whoever first asks. Reads may come from any
    thread; the dict is made once."""

    def __init__(self, make: Callable[[], dict]) -> None:
        self._make: Callable[[], dict] | None = make
        self._dict: dict = {}
        self._lock = threading.Lock()

    @property
    def made(self) -> dict:
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._dict = self._make()
                    self._make = None
        return self._dict

    def __getitem__(self, key: Any) -> Any:
        return self.made[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self.made.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.made

    def __iter__(self) -> Iterator:
        return iter(self.made)

    def __len__(self) -> int:
        return len(self.made)

    def keys(self) -> Any:
        return self.made.keys()

    def values(self) -> Any:
        return self.made.values()

    def items(self) -> Any:
        return self.made.items()

    def __repr__(self) -> str:
        return repr(self.made)


class LazyArticles(Sequence):
    """The articles of a store read from a file, oldest first, each built from its JSON text when asked for.

    A store of 100,000 articles holds its file's bytes (shared by forked workers) and one small ``Entry`` an
    article, instead of 250 MB of objects built at load; the loader checked every text before this was made, so
    ``build(text)`` gives the very Article the load checked. The most recently shown articles are kept
    (``CACHED``, see ``_keep``): a page's 50 are built once, then served from here. Reads may come from any
    thread.
    """

    CACHED = 4096

    def __init__(self, texts: Sequence[Any], entries: Sequence[Entry], build: Callable[[Any], Article]) -> None:
        if len(texts) != len(entries):
            raise ValueError("one text an entry")
        self._texts, self.entries, self._build = texts, entries, build
        self._cache: dict[int, Article] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, index: int) -> Article: ...
    @overload
    def __getitem__(self, index: slice) -> list[Article]: ...
    def __getitem__(self, index: int | slice) -> Article | list[Article]:
        if isinstance(index, slice):
            return self.many(range(*index.indices(len(self._texts))))
        n = len(self._texts)
        p = index + n if index < 0 else index
        if not 0 <= p < n:
            raise IndexError("article position out of range")
        return self._one(p)

    def __iter__(self) -> Iterator[Article]:
        return map(self._one, range(len(self._texts)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<LazyArticles: {len(self)} articles>"

    def many(self, positions: Iterable[int]) -> list[Article]:
        """Returns the articles at ``positions``, those not kept built together (``build.many``, if it has one)."""
        positions = list(positions)
        found = list(map(self._cache.get, positions))
        missing = list(dict.fromkeys(p for p, art in zip(positions, found) if art is None))
        if missing:
            many = getattr(self._build, "many", None)
            texts = list(map(self._texts.__getitem__, missing))
            built = many(texts) if many is not None else list(map(self._build, texts))
            entries = self.entries
            for p, art in zip(missing, built):
                if art.id != entries[p].id:  # cannot happen: the texts are the ones the load checked
                    raise AssertionError(f"article {p} built as {art.id!r}, indexed as {entries[p].id!r}")
            made = dict(zip(missing, built))
            self._keep(made)
            found = [made[p] if art is None else art for p, art in zip(positions, found)]
        return found

    def _one(self, p: int) -> Article:
        art = self._cache.get(p)
        return self.many((p,))[0] if art is None else art

    def _keep(self, made: dict[int, Article]) -> None:
        """Keeps the articles just built, and lets the oldest kept go beyond ``CACHED``: first in, first out (a
        dict keeps its order, so this is cheap; rendered documents are cached anyway, and what is asked again
        soon is the same page in another format)."""
        cache = self._cache
        with self._lock:
            cache.update(made)
            over = len(cache) - self.CACHED
            if over > 0:
                for p in list(islice(cache, over)):
                    del cache[p]
