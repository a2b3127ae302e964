"""Getting documents for the validator (in process, over HTTP, from files) and check 5: the HTTP contract.

Only ``ValidationFailed`` leaves this module for things that stop a run (unreadable file, refused connection);
an HTTP error status for a document the store calls for is a finding, returned as a ``Response``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from . import __version__
from .errors import ValidationFailed
from .urls import CONTENT_TYPES
from .validate_rules import Collector

TIMEOUT = 30  # seconds per request
USER_AGENT = f"feedservice-validate/{__version__}"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes
    url: str

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class Fetcher(Protocol):
    def get(self, path: str, headers: dict[str, str] | None = None) -> Response: ...


class AppFetcher:
    """Answers requests in process with the app's test client: the same code path as a server, no sockets."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        resp = self.client.get(path, headers=headers or {})
        return Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.get_data(), path)


class HttpFetcher:
    """GETs paths from a running server at ``base`` (e.g. http://127.0.0.1:8000); raises ValidationFailed if unreachable."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return http_get(self.base + path, headers)


def http_get(url: str, headers: dict[str, str] | None = None) -> Response:
    """Returns the response to GET ``url`` (any status); raises ValidationFailed when there is no response."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:  # noqa: S310 (http(s) only, checked by callers)
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), resp.url)
    except urllib.error.HTTPError as e:  # 304 and 4xx/5xx arrive here
        with e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read(), url)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise ValidationFailed(f"cannot fetch {url}: {reason}; is the server running and the URL right?") from None


def read_source(source: str) -> tuple[bytes, str | None, str | None]:
    """Returns (body, content type, URL) of a file path or an http(s) URL; raises ValidationFailed if unreadable."""
    if source.startswith(("http://", "https://")):
        resp = http_get(source)
        if resp.status != 200:
            raise ValidationFailed(f"cannot validate {source}: the server answered {resp.status}")
        return resp.body, resp.content_type, resp.url
    try:
        with open(source, "rb") as f:
            return f.read(), None, None
    except OSError as e:
        raise ValidationFailed(f"cannot read {source}: {e.strerror or e}") from None


def _media_type(value: str) -> tuple[str, str | None]:
    """Returns (lowercased media type, lowercased charset or None) of a Content-Type value."""
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for p in parts[1:]:
        name, _, v = p.partition("=")
        if name.strip().lower() == "charset":
            charset = v.strip().strip('"').lower()
    return parts[0].lower(), charset


def charset_of(content_type: str | None) -> str | None:
    return _media_type(content_type)[1] if content_type else None


def media_type(content_type: str | None) -> str | None:
    return _media_type(content_type)[0] if content_type else None


def check_response(resp: Response, fmt: str, path: str, fetcher: Fetcher, col: Collector) -> None:
    """Checks Content-Type, ETag, Last-Modified, and that revalidating with If-None-Match gives 304."""
    want = _media_type(CONTENT_TYPES[fmt])
    got = resp.content_type
    if got is None or _media_type(got) != want:
        col.add("http:content-type", f"Content-Type is {got!r}; serve {CONTENT_TYPES[fmt]!r}")
    etag = resp.headers.get("etag")
    if not etag:
        col.add("http:etag-missing", "no ETag: readers cannot revalidate, so they download the whole feed every time")
    if not resp.headers.get("last-modified"):
        col.add("http:last-modified-missing", "no Last-Modified: readers that use If-Modified-Since cannot revalidate")
    if etag:
        again = fetcher.get(path, {"If-None-Match": etag})
        if again.status != 304:
            col.add("http:not-revalidated", f"GET with If-None-Match: {etag} answered {again.status}, not 304 Not Modified")
