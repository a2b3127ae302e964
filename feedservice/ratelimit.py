"""A per-client request budget that answers 429 Too Many Requests with Retry-After once it is spent.

Each client (its address, or the address a trusted proxy puts in ``FEEDSERVICE_CLIENT_IP_HEADER``) has a
token bucket of ``N`` requests per period that refills continuously. A 200 costs one token, a 304 a quarter
(revalidating is what polite pollers do, and it is cheap for us), a 429 nothing. Buckets of idle clients are
forgotten after a period, so memory is bounded whatever the number of clients. Each worker process keeps its
own buckets.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from cachetools import TTLCache

from .config import ConfigError

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RATE_RE = re.compile(r"\s*(\d{1,9})\s*/\s*(second|minute|hour|day)s?\s*")
COST = {"304": 0.25, "429": 0.0}
EXEMPT_PATHS = ("/healthz",)
MAX_CLIENTS = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int
    seconds: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def parse_rate(text: str) -> Rate:
    """Returns the Rate in text like '120/minute'; raises ConfigError naming the setting otherwise."""
    m = RATE_RE.fullmatch(text or "")
    if not m or int(m.group(1)) < 1:
        raise ConfigError(f"FEEDSERVICE_RATE_LIMIT: {text!r} is not a budget like 120/minute (per second, minute, hour or day)")
    return Rate(int(m.group(1)), PERIODS[m.group(2)])


class RateLimiter:
    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: TTLCache = TTLCache(maxsize=MAX_CLIENTS, ttl=rate.seconds, timer=lambda: self.clock())
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Returns 0 if ``client`` may make a request now, else the whole seconds until it may."""
        with self._lock:
            tokens = self._tokens(client)
            if tokens >= 1:
                return 0
            return max(1, math.ceil((1 - tokens) / self.rate.per_second))

    def charge(self, client: str, status: str) -> None:
        """Takes the cost of a response with ``status`` ('200', '304', ...) from the client's bucket."""
        cost = COST.get(status[:3], 1.0)
        if not cost:
            return
        with self._lock:
            self._buckets[client] = (self._tokens(client) - cost, self.clock())

    def _tokens(self, client: str) -> float:
        now = self.clock()
        tokens, stamp = self._buckets.get(client, (float(self.rate.requests), now))
        return min(float(self.rate.requests), tokens + (now - stamp) * self.rate.per_second)


def client_address(environ: dict[str, Any], header: str | None) -> str:
    """Returns the client's address: from the trusted proxy's header if configured, else REMOTE_ADDR."""
    if header:
        value = environ.get("HTTP_" + header.upper().replace("-", "_"), "")
        if value:
            # X-Forwarded-For: the last entry is the one our own proxy appended; the rest is client-supplied.
            return value.rsplit(",", 1)[-1].strip()[:64]
    return environ.get("REMOTE_ADDR", "")


class RateLimitMiddleware:
    """WSGI middleware applying a RateLimiter to every request but health checks."""

    def __init__(self, app: Callable, limiter: RateLimiter, header: str | None) -> None:
        self.app = app
        self.limiter = limiter
        self.header = header

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(EXEMPT_PATHS):
            return self.app(environ, start_response)
        client = client_address(environ, self.header)
        wait = self.limiter.retry_after(client)
        if wait:
            body = f"too many requests: wait {wait} s; poll at most {self.limiter.rate.requests} times per {self.limiter.rate.seconds} s, and revalidate with If-None-Match\n".encode()
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                ("Retry-After", str(wait)), ("Cache-Control", "no-store"),
            ])
            return [body]

        def counting_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            self.limiter.charge(client, status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, counting_start_response)
