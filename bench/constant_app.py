"""A bare WSGI callable answering every request with the same feed bytes (or a 304): a server's ceiling.

run.py --ceilings serves it under each WSGI server it measures, so the figures say what the server itself
costs per request, before any Flask or feedservice code runs. The body is the file named by
FEEDSERVICE_BENCH_BODY (the /feeds/all.atom bytes the main run fetched), with the feed's headers.
"""

from __future__ import annotations

import os

BODY = open(os.environ["FEEDSERVICE_BENCH_BODY"], "rb").read()
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


ETAG = HEADERS[2][1]
HEADERS_304 = [h for h in HEADERS if h[0] not in ("Content-Type", "Content-Length", "Last-Modified")]


def app(environ, start_response):
    if environ.get("HTTP_IF_NONE_MATCH") == ETAG:  # the cheapest possible revalidation
        start_response("304 Not Modified", list(HEADERS_304))
        return []
    start_response("200 OK", list(HEADERS))
    return [BODY]
