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
    """A rendered document and the headers of its responses, built once.

    The gzip variant is compressed the first time a client asks for it, then kept (``variant``): walking an
    archive without gzip pays nothing for it, and every later gzip request is a lookup.
    """

    body: bytes
    etag: str  # quoted, strong: '"<sha256 prefix>"'
    gzip_etag: str | None  # None when the body is too small to be worth compressing
    last_modified: dt.datetime
    content_type: str
    headers_200: Headers  # plain variant
    headers_304: tuple[Headers, Headers]  # (plain, gzip)
    size: int  # bytes the cache counts: body, a reserve for the gzip variant, bookkeeping
    _gzip: list = field(default_factory=list, compare=False, repr=False)  # [(gzip body, its 200 headers)]

    @classmethod
    def make(cls, body: bytes, content_type: str, last_modified: dt.datetime | float, cache_control: str) -> "Rendered":
        """Returns a Rendered for ``body``; ``last_modified`` is an aware datetime or a POSIX timestamp."""
        if not isinstance(last_modified, dt.datetime):
            last_modified = dt.datetime.fromtimestamp(last_modified, dt.timezone.utc)
        last_modified = last_modified.replace(microsecond=0)
        digest = hashlib.sha256(body).hexdigest()[:32]
        etag = f'"{digest}"'
        # A strong validator differs per content coding (RFC 9110 section 8.8.3).
        gzip_etag = f'"{digest}-gz"' if len(body) >= GZIP_MIN_BYTES else None
        lm = http_date(last_modified)
        plain_304: Headers = (("ETag", etag), ("Cache-Control", cache_control), *COMMON_HEADERS)
        plain_200: Headers = (
            ("Content-Type", content_type), ("Content-Length", str(len(body))), ("Last-Modified", lm), *plain_304
        )
        gz_304: Headers = (("ETag", gzip_etag), ("Cache-Control", cache_control), *COMMON_HEADERS) if gzip_etag else plain_304
        return cls(
            body=body,
            etag=etag,
            gzip_etag=gzip_etag,
            last_modified=last_modified,
            content_type=content_type,
            headers_200=plain_200,
            headers_304=(plain_304, gz_304),
            # Feed XML compresses 5-7 times; a third of the body is a safe reserve for the gzip variant.
            size=len(body) + len(body) // 3 + 1024,
        )

    def variant(self, gz: bool) -> tuple[bytes, Headers]:
        """Returns (body, 200 headers) of the plain or the gzip variant, compressing it once on first use.

        Threads may race to compress; they make the same bytes (mtime 0), so either result is right.
        """
        if not gz or self.gzip_etag is None:
            return self.body, self.headers_200
        if not self._gzip:
            zipped = gzip.compress(self.body, compresslevel=6, mtime=0)
            headers = tuple(
                ("Content-Length", str(len(zipped))) if k == "Content-Length" else ("ETag", self.gzip_etag) if k == "ETag" else (k, v)
                for k, v in self.headers_200
            )
            headers = headers[:2] + (("Content-Encoding", "gzip"),) + headers[2:]
            self._gzip.append((zipped, headers))
        return self._gzip[0]


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
