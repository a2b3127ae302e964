"""Answers feed requests from the render cache before Flask routes them, and builds every feed response.

Polling is the common case: the same documents again and again. A GET or HEAD of a feed URL without a query
string whose document is already rendered is answered here, without routing, request objects or
after-request hooks. Everything else (a first render, ?limit, a renamed slug, an error) goes to Flask. Both
paths answer with ``respond``, so their status and headers are the same by construction.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterable

from werkzeug.http import is_resource_modified, parse_accept_header, parse_date, parse_etags

from .cache import Headers, Rendered

FEED_PATH_RE = re.compile(
    r"/feeds/(all|(?:ministries|topics)/[a-z0-9-]{1,100})(?:/archive/([1-9][0-9]{0,8}))?\.(atom|rss|json)"
)
PRECONDITION_FAILED: tuple[str, Headers, bytes] = (
    "412 Precondition Failed", (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "0")), b""
)


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Returns True if an Accept-Encoding value accepts gzip (RFC 9110 section 12.5.3, q=0 refuses)."""
    accepted = parse_accept_header(accept_encoding)
    return accepted["gzip"] > 0 or accepted["x-gzip"] > 0


def respond(rendered: Rendered, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Returns (status, headers, body) answering the request in ``environ`` with ``rendered`` (see ``answer``)."""
    status, headers, body = answer(rendered, environ)
    return status, list(headers), body


def answer(rendered: Rendered, environ: dict[str, Any]) -> tuple[str, Headers, bytes]:
    """Returns (status, headers, body) answering the request in ``environ`` with ``rendered``; the headers are
    one of ``rendered``'s own tuples (or ``PRECONDITION_FAILED``'s), the same object for every such answer.

    Preconditions are evaluated as RFC 9110 section 13.2.2 orders them: If-Match, else If-Unmodified-Since
    (412 when they fail), then If-None-Match (list and * forms, weak comparison), else If-Modified-Since.
    The two requests a poller sends (none of these headers, or one exact ETag) are answered without parsing;
    everything else goes through werkzeug's parsers.
    """
    gz = 1 if rendered.gzip_etag is not None and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")) else 0
    etag = rendered.gzip_etag if gz else rendered.etag
    if "HTTP_IF_MATCH" in environ or "HTTP_IF_UNMODIFIED_SINCE" in environ:
        if _precondition_fails(rendered, environ, etag):  # type: ignore[arg-type]
            return PRECONDITION_FAILED
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match == etag or (
        (if_none_match is not None or "HTTP_IF_MODIFIED_SINCE" in environ)
        and not is_resource_modified(environ, etag, last_modified=rendered.last_modified)
    ):
        return "304 Not Modified", rendered.headers_304[gz], b""
    body, headers = rendered.variant(bool(gz))
    return "200 OK", headers, body


def _precondition_fails(rendered: Rendered, environ: dict[str, Any], etag: str) -> bool:
    """Returns True if If-Match (strong comparison) or, without it, If-Unmodified-Since fails (RFC 9110
    sections 13.1.1 and 13.1.4). A date that does not parse is ignored, as section 13.1.4 asks."""
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None:
        return bool(if_match) and not parse_etags(if_match).contains_raw(etag)
    since = parse_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
    return since is not None and rendered.last_modified > since


def cache_key(path: str, version: str) -> tuple | None:
    """Returns the render-cache key of a canonical feed path without query, or None if it is not one."""
    if path == "/feeds.opml":
        return (version, "opml")
    m = FEED_PATH_RE.fullmatch(path)
    if m is None:
        return None
    key, page, fmt = m.groups()
    return (version, key, fmt, int(page) if page else None, None)


class FastPath:
    """WSGI middleware: cached feed hits and 304s answered without Flask."""

    def __init__(self, app: Callable, service: Any) -> None:
        self.app = app
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if (method == "GET" or method == "HEAD") and not environ.get("QUERY_STRING"):
            key = cache_key(environ.get("PATH_INFO", ""), self.service.live.current.version)
            if key is not None:
                rendered = self.service.cache.peek(key)
                if rendered is not None:
                    status, headers, body = respond(rendered, environ)
                    start_response(status, headers)
                    return [] if method == "HEAD" else [body]
        return self.app(environ, start_response)
