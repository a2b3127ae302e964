"""A bare WSGI callable answering every request with the same feed bytes (or a 304): a server's ceiling.

run.py --ceilings serves it under each WSGI server it measures, so the figures say what the server itself
costs per request, before any Flask or feedservice code runs. The body is the file named by
FEEDSERVICE_BENCH_BODY (the /feeds/all.atom bytes the main run fetched), with the feed's headers; a client
that sends "Accept-Encoding: gzip" gets that file with ".gz" added, as the service would send its gzip variant.
"""

from __future__ import annotations

import os

BODY = open(os.environ["FEEDSERVICE_BENCH_BODY"], "rb").read()
GZIP_BODY = open(os.environ["FEEDSERVICE_BENCH_BODY"] + ".gz", "rb").read()
HEADERS = [
    ("Content-Type", "application/atom+xml; charset=utf-8"),
    ("Content-Length", str(len(BODY))),
    ("ETag", '"0123456789abcdef0123456789abcdef"'),
    ("Last-Modified", "Mon, 30 Dec 2024 15:00:00 GMT"),
    ("Cache-Control", "public, max-age=300"),
    ("Vary", "Accept-Encoding"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "ETag, Last-Modified"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]


GZIP_ETAG = '"0123456789abcdef0123456789abcdef-gz"'
GZIP_HEADERS = [
    ("Content-Length", str(len(GZIP_BODY))) if k == "Content-Length" else ("ETag", GZIP_ETAG) if k == "ETag" else (k, v)
    for k, v in HEADERS
]
GZIP_HEADERS.insert(2, ("Content-Encoding", "gzip"))
HEADERS_304 = [h for h in GZIP_HEADERS if h[0] not in ("Content-Type", "Content-Length", "Last-Modified", "Content-Encoding")]


def app(environ, start_response):
    if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
        start_response("200 OK", list(HEADERS))
        return [BODY]
    if environ.get("HTTP_IF_NONE_MATCH") == GZIP_ETAG:  # the cheapest possible revalidation
        start_response("304 Not Modified", list(HEADERS_304))
        return []
    start_response("200 OK", list(GZIP_HEADERS))
    return [GZIP_BODY]


async def rsgi_app(scope, proto):
    """The same answers through granian's own interface, RSGI, which skips the WSGI environ: measured to see
    whether serving through it would pay (run.py's "granian-rsgi" ceiling)."""
    if "gzip" not in (scope.headers.get("accept-encoding") or ""):
        proto.response_bytes(200, HEADERS, BODY)
    elif scope.headers.get("if-none-match") == GZIP_ETAG:
        proto.response_empty(304, HEADERS_304)
    else:
        proto.response_bytes(200, GZIP_HEADERS, GZIP_BODY)
