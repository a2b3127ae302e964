"""Rendered feed responses, made once and kept in a cachetools LRU cache bounded in bytes.

A ``Rendered`` holds everything a response needs: the body, its gzip variant (compressed once, with a zero
mtime so every worker makes the same bytes), strong ETags that hash the body, Last-Modified and Cache-Control.
Keys include the store version, so a reload never serves a stale document and old entries simply age out.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Callable, Hashable

from cachetools import LRUCache
from werkzeug.http import http_date

from .archive import ARCHIVE_MAX_AGE

GZIP_MIN_BYTES = 256


Headers = tuple[tuple[str, str], ...]

# Sent with every feed response, 200 or 304: CORS for browsers on other portals, and the safety headers.
COMMON_HEADERS: Headers = (
    ("Vary", "Accept-Encoding"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "ETag, Last-Modified"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered document and every header of its responses, built once.

    ``headers_200[gz]`` and ``headers_304[gz]`` are complete header lists for the plain (gz=0) and gzip (gz=1)
    variants, so answering a request is choosing one, not building one.
    """

    body: bytes
    gzip_body: bytes | None
    etag: str  # quoted, strong: '"<sha256 prefix>"'
    gzip_etag: str | None
    last_modified: dt.datetime
    headers_200: tuple[Headers, Headers]
    headers_304: tuple[Headers, Headers]
    size: int = field(default=0)

    @classmethod
    def make(cls, body: bytes, content_type: str, last_modified: dt.datetime | float, cache_control: str) -> "Rendered":
        """Returns a Rendered for ``body``, with a gzip variant when that is worth it.

        ``last_modified`` is an aware datetime or a POSIX timestamp.
        """
        if not isinstance(last_modified, dt.datetime):
            last_modified = dt.datetime.fromtimestamp(last_modified, dt.timezone.utc)
        digest = hashlib.sha256(body).hexdigest()[:32]
        gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        etag = f'"{digest}"'
        # A strong validator differs per content coding (RFC 9110 section 8.8.3).
        gzip_etag = f'"{digest}-gz"' if gz is not None else None
        last_modified = last_modified.replace(microsecond=0)
        lm = http_date(last_modified)
        plain_304: Headers = (("ETag", etag), ("Cache-Control", cache_control), *COMMON_HEADERS)
        plain_200: Headers = (
            ("Content-Type", content_type), ("Content-Length", str(len(body))), ("Last-Modified", lm), *plain_304
        )
        if gz is not None and gzip_etag is not None:
            gz_304: Headers = (("ETag", gzip_etag), ("Cache-Control", cache_control), *COMMON_HEADERS)
            gz_200: Headers = (
                ("Content-Type", content_type), ("Content-Length", str(len(gz))), ("Content-Encoding", "gzip"),
                ("Last-Modified", lm), *gz_304,
            )
        else:
            gz_304, gz_200 = plain_304, plain_200
        return cls(
            body=body,
            gzip_body=gz,
            etag=etag,
            gzip_etag=gzip_etag,
            last_modified=last_modified,
            headers_200=(plain_200, gz_200),
            headers_304=(plain_304, gz_304),
            size=len(body) + (len(gz) if gz else 0) + 1024,
        )


def cache_control(max_age: int, immutable: bool = False) -> str:
    if immutable:
        return f"public, max-age={ARCHIVE_MAX_AGE}, immutable"
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

    def peek(self, key: Hashable) -> Rendered | None:
        """Returns the cached value for ``key`` or None (a hit refreshes its place in the LRU order)."""
        with self._lock:
            return self._lru.get(key)

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
