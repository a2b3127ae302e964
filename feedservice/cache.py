"""Rendered feed responses, made once and kept in a cachetools LRU cache bounded in bytes.

A ``Rendered`` holds everything a response needs: the body, its gzip variant (compressed once, with a zero
mtime so every worker makes the same bytes), strong ETags that hash the body, Last-Modified and Cache-Control.
Keys include the store version, so a reload never serves a stale document and old entries simply age out.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Callable, Hashable

from cachetools import LRUCache
from werkzeug.http import http_date

GZIP_MIN_BYTES = 256
YEAR = 31536000


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str  # quoted, strong: '"<sha256 prefix>"'
    last_modified: str  # IMF-fixdate
    cache_control: str
    gzip_body: bytes | None = None
    gzip_etag: str | None = None
    size: int = field(default=0)

    @classmethod
    def make(cls, body: bytes, content_type: str, last_modified_ts: float, cache_control: str) -> "Rendered":
        """Returns a Rendered for ``body``, with a gzip variant when that is worth it."""
        digest = hashlib.sha256(body).hexdigest()[:32]
        gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(
            body=body,
            content_type=content_type,
            etag=f'"{digest}"',
            last_modified=http_date(last_modified_ts),
            cache_control=cache_control,
            gzip_body=gz,
            # A strong validator differs per content coding (RFC 9110 section 8.8.3).
            gzip_etag=f'"{digest}-gz"' if gz is not None else None,
            size=len(body) + (len(gz) if gz else 0) + 400,
        )


def cache_control(max_age: int, immutable: bool = False) -> str:
    if immutable:
        return f"public, max-age={YEAR}, immutable"
    return f"public, max-age={max_age}"


class RenderCache:
    """A thread-safe LRU cache of Rendered values whose total ``size`` stays within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lru: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=lambda r: r.size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Rendered | None:
        with self._lock:
            value = self._lru.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def get_or_make(self, key: Hashable, make: Callable[[], Rendered]) -> Rendered:
        """Returns the cached value for ``key``, rendering and storing it first if needed."""
        value = self.get(key)
        if value is not None:
            return value
        value = make()
        if value.size <= self.max_bytes:  # a value larger than the whole cache is served, not kept
            with self._lock:
                self._lru[key] = value
        return value

    @property
    def bytes_used(self) -> int:
        return int(self._lru.currsize)

    def __len__(self) -> int:
        return len(self._lru)
