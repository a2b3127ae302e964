"""feedservice's own HTTP/1.1 server: a gunicorn worker that answers cached feeds on an event loop.

Polling is most of the traffic, and a poll is answered from the render cache in microseconds; what is left is
the server's own cost per request, and that decides how many polls a worker answers. On this project's 2-core
bench machine, returning a constant 304 with no app at all, 2 processes, against nginx's rate: granian's WSGI
interface 0.36-0.41x (bench/CEILINGS.md); uvicorn about 0.4x and socketify's own API about 0.3x (measured by
hand, once each); an asyncio protocol on uvloop that parses with httptools about 1x. So this worker answers a cached hit or 304 on the event loop itself, with
``fastpath.answer`` (the very status and headers the WSGI path sends), and hands everything else (a first
render, pages, errors) to the WSGI app in a thread pool.

gunicorn's master does the rest, as for its own workers: it binds the socket, forks the workers (from the
process that loaded the store, see ``live.hand_down``), restarts one that dies or stops answering its
heartbeat, and stops them gracefully. Its settings apply: ``keepalive`` (seconds an idle connection is kept),
``limit_request_line``, ``limit_request_fields``, ``limit_request_field_size``, ``graceful_timeout``,
``timeout`` (of the heartbeat) and ``threads`` (the WSGI pool). A request must arrive whole within
``Limits.request_timeout`` (30 s).

HTTP is parsed by httptools (llhttp, the parser of Node.js); this module only decides what to answer:
keep-alive and pipelining (answers go out in request order), HEAD, ``Expect: 100-continue``, request bodies
(read, capped at ``MAX_BODY``), and the errors a parser or a limit raises (400, 408, 413, 414, 431, each then
closing the connection).
"""

from __future__ import annotations

import asyncio
import collections
import io
import logging
import os
import re
import signal
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any, Callable, Iterable
from urllib.parse import unquote_to_bytes

try:  # for _kernel_unsent (Unix)
    import fcntl
    import termios
except ImportError:  # pragma: no cover
    fcntl = termios = None  # type: ignore[assignment]

import httptools
from gunicorn.workers.base import Worker as _GunicornWorker

from .fastpath import FastPath, answer, cache_key

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes of request body kept; no feed URL takes one, but a client may send one
# The request headers a cached answer reads (and Expect), as WSGI names them; the others are left as they came
# until a request goes to the app. Names are looked up as sent in the usual spellings, and lowercased only when
# the length fits one of them.
_READ = {
    b"accept-encoding": "HTTP_ACCEPT_ENCODING",
    b"if-none-match": "HTTP_IF_NONE_MATCH",
    b"if-modified-since": "HTTP_IF_MODIFIED_SINCE",
    b"if-match": "HTTP_IF_MATCH",
    b"if-unmodified-since": "HTTP_IF_UNMODIFIED_SINCE",
    b"expect": "HTTP_EXPECT",
}
# In a poll that came in one read (``Connection.poll``), lowercased: each header it reads, and each that sends
# it the full way (a body, an upgrade, an expectation). httptools has refused what else could hide a header
# (a folded line, a space before the colon, a bare LF).
_POLL_READ = {name: key for name, key in _READ.items() if name != b"expect"}
_POLL_SCAN = re.compile(
    rb"\r\n(?:(" + b"|".join(_POLL_READ) + rb")|content-length|transfer-encoding|upgrade|expect):"
)
_READ_LENGTHS = frozenset(map(len, _READ))
# A Host value (RFC 9112 section 3.2, RFC 3986 section 3.2.2): an IP literal in brackets, or a name of the
# characters a reg-name allows (an IPv4 address is one), then an optional port.
_HOST_RE = re.compile(rb"(?:\[[0-9A-Za-z:.%_~-]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?")
_READ.update({b"-".join(w.capitalize() for w in name.split(b"-")): key for name, key in list(_READ.items())})
_READ.update({name.upper(): key for name, key in list(_READ.items())})
_CLOSE = b"Connection: close\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_FINAL_STATUS_RE = re.compile(r"[2-5][0-9][0-9] [^\r\n]*")  # a final status line's code and reason
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a status or header line: all but HTAB
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")  # a header name, lowercased (RFC 9110 section 5.6.2)
# Headers that belong to a connection, not to an answer: a WSGI app may not send them (PEP 3333).
_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade",
))
_REASONS = {
    400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 505: "HTTP Version Not Supported",
}


class _Date:
    """The Date header's value (RFC 9110 section 6.6.1), formatted once a second."""

    __slots__ = ("second", "line")

    def __init__(self) -> None:
        self.second = 0
        self.line = b""

    def header(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.line = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self.line


MEMO_ANSWERS = 1024
MEMO_BYTES = 16 * 1024 * 1024
MEMO_POLL_BYTES = 4096  # a longer request is answered, not remembered by its bytes
LINGER = 5.0  # seconds a connection closed after an error keeps reading, and dropping, what the client sends


class Limits:
    """What a connection accepts, and for how long it waits (seconds)."""

    def __init__(self, request_line: int = 4094, fields: int = 100, field_size: int = 8190, keepalive: float = 5.0,
                 request_timeout: float = 30.0, max_body: int = MAX_BODY) -> None:
        self.request_line = request_line or sys.maxsize  # gunicorn: 0 means unlimited
        self.fields = fields or sys.maxsize
        self.field_size = field_size or sys.maxsize
        self.keepalive = keepalive
        self.request_timeout = request_timeout
        self.max_body = max_body
        self.max_head = self.request_line + self.fields * (self.field_size + 4) + 4  # a whole header section


class Site:
    """What every connection of one worker shares: the app, its cached answers, the thread pool, the limits."""

    def __init__(self, app: Callable, threads: int, limits: Limits, server_name: str = "", port: int = 0) -> None:
        self.app = app
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="feedservice-wsgi")
        self.date = _Date()
        self.server_name, self.port = server_name, str(port)
        self.connections: set[Connection] = set()
        self.closing = False
        self.graceful_timeout = 10.0  # seconds the answers under way get once the worker stops
        # Cached answers need the service behind the app's outermost WSGI layer to be the FastPath; any other
        # layer in front (the rate limiter) must see every request, so then every request goes to the app.
        wsgi = getattr(app, "wsgi_app", None)
        self.service = wsgi.service if isinstance(wsgi, FastPath) else None
        # Answers to cached documents, by (method, request target, the headers they read): the status and header
        # lines as sent (less Date) and the body. For the store version ``version`` only; emptied when it
        # changes, or when it holds MEMO_ANSWERS answers or MEMO_BYTES of bodies (a body is the cached
        # document's own bytes, not a copy, but one the render cache evicts stays alive here until then).
        self.answers: dict[tuple, tuple[bytes, bytes]] = {}
        self.answers_bytes = 0
        self.version: str | None = None
        # The same answers by the exact bytes of a poll that came in one read (see ``Connection.poll``), with
        # whether the connection stays open: a poller sends the same bytes again and again, and bytes read
        # once as a sound request read the same way every time, so the next time they are answered unparsed.
        self.polls: dict[bytes, tuple[bytes, bytes, bool]] = {}

    def current(self) -> None:
        """Forgets the answers made from an older store."""
        version = self.service.live.current.version
        if version is not self.version:
            self.forget()
            self.version = version

    def forget(self) -> None:
        self.answers.clear()
        self.polls.clear()
        self.answers_bytes = 0

    def remember_poll(self, data: bytes, made: tuple[bytes, bytes], keep_alive: bool) -> None:
        if len(data) <= MEMO_POLL_BYTES:
            if len(self.polls) >= MEMO_ANSWERS:
                self.forget()
            self.polls[data] = (made[0], made[1], keep_alive)

    def cached_answer(self, method: bytes, url: bytes, read: dict[str, bytes]) -> tuple[bytes, bytes] | None:
        """Returns (status and header lines, body) answering a GET or HEAD of the canonical feed path ``url``
        from the render cache, or None if the document is not there; ``read`` holds the request headers a
        cached answer reads (see ``_READ``)."""
        service = self.service
        self.current()
        version = self.version
        key = (method, url, *read.items())
        made = self.answers.get(key)
        if made is not None:
            return made
        path_key = cache_key(url.decode("latin-1"), version)
        rendered = None if path_key is None else service.cache.peek(path_key)
        if rendered is None:
            return None
        status, headers, body = answer(rendered, {k: v.decode("latin-1") for k, v in read.items()})
        if method == b"HEAD":
            body = b""
        if len(self.answers) >= MEMO_ANSWERS or self.answers_bytes + len(body) > MEMO_BYTES:
            self.forget()
        made = self.answers[key] = (_head(status, headers), body)
        self.answers_bytes += len(body)
        return made

    def sweep(self) -> None:
        """Closes connections idle past ``keepalive`` or stuck in a request past ``request_timeout``, and drops
        those whose client stopped reading (see ``Connection.check_time``)."""
        now = time.monotonic()
        for conn in list(self.connections):
            conn.check_time(now)


def _head(status: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The status line and header lines; ValueError if the status or a header is not a str, or holds a control
    character (RFC 9110 section 5.5, RFC 9112 section 4: a CR or LF would end the line, and the rest would be
    read as headers or a body of our own; the others make clients refuse the whole answer)."""
    headers = list(headers)
    if type(status) is not str or not all(type(name) is str and type(value) is str for name, value in headers):
        raise ValueError(f"the status and headers must be str (PEP 3333): {status!r}, {headers!r}")
    lines = [status, *(f"{name}: {value}" for name, value in headers)]
    if any(map(_CONTROL_RE.search, lines)):
        raise ValueError(f"a control character would break the answer: {lines!r}")
    return b"HTTP/1.1 " + "\r\n".join(lines).encode("latin-1") + b"\r\n"


class _Request:
    __slots__ = (
        "method", "url", "version", "headers", "read", "body", "keep_alive", "headers_done", "hosts", "framed",
        "trailers", "head_bytes", "expect", "length", "upgrade_body",
    )

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.read: dict[str, bytes] = {}  # the headers of _READ, by WSGI name
        self.body: list[bytes] = []
        self.method = b""
        self.version = "1.1"
        self.keep_alive = True
        self.headers_done = False  # fields after this are trailers
        self.hosts = 0  # Host header lines
        self.framed = False  # a Transfer-Encoding header came
        self.trailers = 0
        self.head_bytes = 0  # bytes read while its header section was still coming
        self.expect = False  # a 100 Continue is owed once the answers before it are out
        self.length = 0  # its Content-Length (httptools has refused one that is not a number, or two that differ)
        self.upgrade_body = 0  # an upgrade with a body: 1 until httptools skips the body, then 2 (_UpgradeBody)


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered one at a time, in order."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.limits = site.limits
        self.field_size = site.limits.field_size
        self.max_head = site.limits.max_head
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.light = _Light()
        self.request: _Request | None = None
        self.queue: collections.deque[_Request] = collections.deque()
        self.busy = False  # an answer from the app is on its way
        self.paused = False  # the client reads slower than we write
        self.written = 0  # bytes of answers written to the transport
        self.unsent = 0  # of which waiting to go out at the last sweep
        self.sent = 0  # and gone out by then
        self.progress_at = 0.0  # when the client last read some
        self.reading = True
        self.body_bytes = 0
        self.error = 0  # the status of a limit this request broke
        self.pending_error = 0  # an error to answer once the answers before it are out, then close
        self.close_after = False  # close once the answers under way are out
        self.deadline = 0.0
        self.closed = False
        self.eof = False  # the client half-closed
        self.linger_until = 0.0  # closed after an error: reading and dropping until then (see close)
        self.peer: tuple = ("", 0)

    # -- asyncio.Protocol ------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer if isinstance(peer, tuple) else ("", 0)
        self.site.connections.add(self)
        self.deadline = time.monotonic() + self.limits.request_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.site.connections.discard(self)
        self.queue.clear()

    def eof_received(self) -> bool:
        """The client half-closed: it sends nothing more. The requests it sent are still answered, then the
        connection closes (RFC 9112 section 9.6); a request cut short is dropped. True keeps the transport open
        for writing."""
        self.eof = True
        if self.closed:  # the end of a lingering close (see close)
            self.transport.close()  # type: ignore[union-attr]
            return False
        self.parser = _Refused()  # type: ignore[assignment]
        self.request = None
        self.close_after = True
        self.next()
        return True

    def data_received(self, data: bytes) -> None:
        site = self.site
        if site.service is not None and self.request is None and not (
            self.busy or self.queue or self.paused or self.closed or self.pending_error or self.close_after
        ):  # between requests, with nothing waiting to go out first
            site.current()
            made = site.polls.get(data)
            if made is not None:  # these very bytes were answered from the cache before
                self.send(made[0], made[1], made[2])
                return
            if (
                data[-4:] == b"\r\n\r\n" and data.find(b"\r\n\r\n") == len(data) - 4 and data[:4] in (b"GET ", b"HEAD")
                and self.poll(data)
            ):
                return
        coming = self.request  # a request this read continues, if any
        body_before = self.body_bytes
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # An Upgrade (h2c, websocket) is not taken: the request is answered as HTTP/1.1, then the connection
            # closes, since what follows it is not HTTP/1.1.
            self.parser = _Refused()  # type: ignore[assignment]
            self.close_after = True
            if self.error:  # a bad request that also asks for an upgrade (or a CONNECT) gets its error
                self.fail(self.error)
                return
            if self.request is not None and self.request.upgrade_body == 2:
                # RFC 9110 section 7.8: an upgrade not taken is an HTTP/1.1 request, body and all
                self.parser = _UpgradeBody(self, self.request)  # type: ignore[assignment]
                offset = upgrade.args[0] if upgrade.args and isinstance(upgrade.args[0], int) else len(data)
                self.data_received(data[offset:])
                return
            if self.request is not None:
                self.on_message_complete()
            self.next()
            return
        except httptools.HttpParserCallbackError:  # a bug of ours, in a callback
            log.exception("reading a request failed")
            self.fail(500)
            return
        except httptools.HttpParserError:
            self.fail(400)
            return
        req = self.request
        if req is not None and req is coming:
            # httptools keeps a header or trailer line until it ends, so the limits on fields come too late for
            # one that never does: the bytes that are not body, in each read that continues a request and does
            # not end it, are capped: a header section's worth while the headers come, twice that with chunk
            # lines and trailers. The read a request began in is not counted: at most one read more.
            req.head_bytes += len(data) - (self.body_bytes - body_before)
            if req.head_bytes > (self.max_head if not req.headers_done else 2 * self.max_head):
                self.error = self.error or 431
        if self.error:
            self.fail(self.error)

    def poll(self, data: bytes) -> bool:
        """Answers the request ``data`` (one whole GET or HEAD, without a body) from the cached answers and
        returns True, or returns False for the full parser to read it.

        httptools checks the bytes as it checks any request; the request line and the few headers a cached
        answer reads are then taken from them, since the per-header callbacks are most of the time of a poll.
        A body, an upgrade, an expectation, one of the headers read given twice, HTTP/1.0 or a document that is
        not cached go the full way. An answer made here is remembered by ``data`` (``Site.polls``).
        """
        if len(data) > MEMO_POLL_BYTES or len(data) > self.field_size or data.count(b"\r\n") - 2 > self.limits.fields:
            return False  # the full parser applies the limits
        head = data.lower()
        found = _POLL_SCAN.findall(head)
        if not all(found) or len(set(found)) != len(found) or head.count(b"\r\nhost:") != 1:
            return False
        at = head.index(b"\r\nhost:") + 7
        if not _HOST_RE.fullmatch(data[at:data.index(b"\r\n", at)].strip(b" \t")):
            return False
        light = self.light
        light.done = False
        try:
            light.parser.feed_data(data)
        except httptools.HttpParserError:  # the full parser says what is wrong (and an upgrade is an error here)
            self.light = _Light()
            return False
        if not light.done:
            self.light = _Light()
            return False
        method, url, _ = data[:data.index(b"\r\n")].split(b" ", 2)
        if light.version != "1.1" or url[:1] != b"/" or b"?" in url or b"%" in url or len(url) > self.limits.request_line:
            return False
        read: dict[str, bytes] = {}
        for name in found:
            start = head.index(b"\r\n" + name + b":") + len(name) + 3
            read[_POLL_READ[name]] = data[start:data.index(b"\r\n", start)].strip(b" \t")
        made = self.site.cached_answer(method, url, read)
        if made is None:
            return False
        self.site.remember_poll(data, made, light.keep_alive)
        self.send(made[0], made[1], light.keep_alive)
        return True

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.next()

    # -- httptools callbacks (an exception here would only come back as HttpParserCallbackError) -------------
    def on_message_begin(self) -> None:
        self.request = _Request()
        self.body_bytes = 0
        self.deadline = time.monotonic() + self.limits.request_timeout

    def on_url(self, url: bytes) -> None:
        req = self.request
        req.url += url  # type: ignore[union-attr]
        if len(req.url) > self.limits.request_line and not self.error:  # type: ignore[union-attr]
            self.error = 414

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self.request
        if len(name) + len(value) > self.field_size:
            self.error = self.error or 431
        if req.headers_done:  # type: ignore[union-attr]
            # A trailer field, after a chunked body: never merged into the headers (RFC 9110 section 6.5.1), so
            # it cannot pose as a header a proxy vouched for, or make a conditional request. Dropped; counted.
            req.trailers += 1  # type: ignore[union-attr]
            if req.trailers > self.limits.fields:  # type: ignore[union-attr]
                self.error = self.error or 431
            return
        value = value.rstrip(b" \t")  # whitespace around a value is not part of it (RFC 9112 section 5)
        req.headers.append((name, value))  # type: ignore[union-attr]
        key = _READ.get(name)
        if key is None and len(name) in _READ_LENGTHS:
            key = _READ.get(name.lower())
        if key is not None:
            read = req.read  # type: ignore[union-attr]
            read[key] = read[key] + b", " + value if key in read else value
        elif len(name) == 4:
            if name.lower() == b"host":
                # RFC 9112 section 3.2: a second Host, or one that is not a host and port, is a 400
                req.hosts += 1 if _HOST_RE.fullmatch(value) else 2  # type: ignore[union-attr]
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            req.framed = True  # type: ignore[union-attr]
        elif len(name) == 14 and name.lower() == b"content-length" and value.isdigit():
            req.length = int(value)  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        req = self.request
        parser = self.parser
        req.headers_done = True  # type: ignore[union-attr]
        req.method = parser.get_method()  # type: ignore[union-attr]
        req.version = parser.get_http_version()  # type: ignore[union-attr]
        req.keep_alive = parser.should_keep_alive()  # type: ignore[union-attr]
        if len(req.headers) > self.limits.fields:  # type: ignore[union-attr]
            self.error = self.error or 431
        # RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any with two, is answered 400.
        if req.hosts > 1 or (req.hosts == 0 and req.version != "1.0"):  # type: ignore[union-attr]
            self.error = self.error or 400
        if req.version not in ("1.0", "1.1"):  # type: ignore[union-attr]  # llhttp reads "HTTP/2.0" too
            self.error = self.error or 505
        if req.length > self.limits.max_body:  # type: ignore[union-attr]  # refused before its body is read
            self.error = self.error or 413
        upgrade = parser.should_upgrade()  # type: ignore[union-attr]
        if (req.framed and req.version == "1.0") or upgrade:  # type: ignore[union-attr]
            # RFC 9112 section 6.1: HTTP/1.0 with Transfer-Encoding is faulty framing; and what follows an
            # upgrade is not HTTP/1.1 (see data_received). Either way the connection closes after the answer.
            req.keep_alive = False  # type: ignore[union-attr]
        if upgrade and (req.length or req.framed):  # type: ignore[union-attr]
            req.upgrade_body = 1  # type: ignore[union-attr]  # httptools will not read it: _UpgradeBody will
        expect = req.read.get("HTTP_EXPECT")  # type: ignore[union-attr]
        if (
            expect is not None and b"100-continue" in map(bytes.strip, expect.lower().split(b","))  # a list
            and req.version != "1.0" and not self.error  # type: ignore[union-attr]
        ):
            if self.busy or self.queue:
                req.expect = True  # type: ignore[union-attr]  # once the answers before it are out (see next)
            else:
                self.transport.write(_CONTINUE)  # type: ignore[union-attr]

    def on_chunk_header(self) -> None:
        # A chunk's size line has ended: httptools buffers no framing, only an unfinished header or trailer
        # line, so the cap on bytes that are not body (see data_received) counts from here.
        if self.request is not None:
            self.request.head_bytes = 0

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.max_body:
            if not self.error:
                self.error = 413
            return
        self.request.body.append(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        if self.request is not None and self.request.upgrade_body == 1:
            self.request.upgrade_body = 2  # httptools ends an upgrade at its head: the body is still to read
            return
        req, self.request = self.request, None
        if req is None or self.error or self.closed:
            return
        self.deadline = time.monotonic() + self.limits.keepalive
        if self.busy or self.queue or self.paused:
            self.queue.append(req)
            if len(self.queue) > 16 and self.reading:  # a client that pipelines far ahead waits for us
                self.transport.pause_reading()  # type: ignore[union-attr]
                self.reading = False
            return
        self.answer(req)

    # -- answers ---------------------------------------------------------------------------------------------
    def answer(self, req: _Request) -> None:
        """Answers ``req``: a cached document at once, anything else through the app, in the thread pool."""
        site = self.site
        url = req.url
        if (
            site.service is not None and (req.method == b"GET" or req.method == b"HEAD")
            and url[:1] == b"/" and b"?" not in url and b"%" not in url
        ):
            made = site.cached_answer(req.method, url, req.read)
            if made is not None:
                self.send(made[0], made[1], req.keep_alive, req.version == "1.0")
                return
        self.busy = True
        environ = self.environ(req)
        future = asyncio.get_running_loop().run_in_executor(site.pool, _call_app, site.app, environ)
        future.add_done_callback(lambda f: self.answered(f, req))

    def answered(self, future: asyncio.Future, req: _Request) -> None:
        self.busy = False
        if self.closed:
            return
        try:
            status, headers, body = future.result()
            if not _FINAL_STATUS_RE.fullmatch(status):  # a 1xx would be taken for an interim answer, and the
                raise ValueError(f"{status!r} is not a final status (RFC 9110 section 15)")  # body as the answer
            code = status[:3]
            names = [name.lower() for name, _ in headers]
            if not all(map(_TOKEN_RE.fullmatch, names)):  # "Transfer-Encoding: chunked, X" would be two headers
                raise ValueError(f"a header name is not a token (RFC 9110 section 5.1): {names!r}")
            hop = _HOP_BY_HOP.intersection(names)
            if hop:  # PEP 3333: the server's own (a Transfer-Encoding or Connection would contradict its framing)
                raise ValueError(f"the app sent hop-by-hop headers: {', '.join(sorted(hop))}")
            given = [value.strip(" \t") for lower, (_, value) in zip(names, headers) if lower == "content-length"]
            if (code == "204" and given) or "date" in names:  # RFC 9110 section 8.6: never in a 204; and the
                drop = ("content-length", "date") if code == "204" else ("date",)  # server's clock dates answers
                headers = [pair for name, pair in zip(names, headers) if name not in drop]  # (section 6.6.1)
            head = _head(status, headers)  # a header value that is not Latin-1 fails here
            if len(given) > 1 or not all(v.isascii() and v.isdigit() for v in given):
                raise ValueError(f"Content-Length {', '.join(given)} is not one number (RFC 9110 section 8.6)")
            if req.method == b"HEAD" or code in ("204", "304"):
                body = b""  # RFC 9110 sections 15.3.5, 15.4.5 and RFC 9112 section 6.3: these have no body
            elif not given:
                head += b"Content-Length: %d\r\n" % len(body)
            elif int(given[0]) != len(body):  # else the next answer would be read as part of this one, or in it
                raise ValueError(f"Content-Length {given[0]} for a body of {len(body)} bytes")
        except Exception:
            log.exception("%s %s: the app failed", req.method.decode("latin-1"), req.url.decode("latin-1"))
            self.queue.clear()  # the 500 answers this request; the connection closes after it
            self.pending_error = 0  # an error for a later request is moot then
            self.fail(500)
            return
        self.send(head, body, req.keep_alive, req.version == "1.0")
        self.next()

    def send(self, head: bytes, body: bytes, keep_alive: bool, http_1_0: bool = False) -> None:
        """Writes one answer: ``head`` (status and header lines), Date, and ``body``; closes after it unless
        ``keep_alive`` (an HTTP/1.0 client is told when the connection stays open). The last answer before the
        connection closes (``close_after``: an upgrade, or a client that half-closed) says Connection: close."""
        if self.request is None:  # a request on its way keeps its own deadline (request_timeout)
            self.deadline = time.monotonic() + self.limits.keepalive
        keep_alive = keep_alive and not self.site.closing and not (
            # the last answer, unless an error or a request still arriving (an upgrade's body) comes after it
            self.close_after and not self.queue and not self.pending_error and self.request is None
        )
        end = (b"Connection: keep-alive\r\n\r\n" if http_1_0 else b"\r\n") if keep_alive else _CLOSE
        answer = b"".join((head, self.site.date.header(), end, body))
        self.transport.write(answer)  # type: ignore[union-attr]
        self.written += len(answer)
        if not keep_alive:
            self.close()

    def next(self) -> None:
        """Answers the queued requests, in order, until one goes to the app; then a pending error."""
        while self.queue and not self.busy and not self.paused and not self.closed:
            self.answer(self.queue.popleft())
        if self.closed or self.busy or self.queue:
            if not self.reading and not self.closed and len(self.queue) <= 16 and not self.pending_error:
                self.transport.resume_reading()  # type: ignore[union-attr]
                self.reading = True
            return
        req = self.request
        if req is not None and req.expect and not self.pending_error:  # its turn has come: ask for the body
            req.expect = False
            self.deadline = time.monotonic() + self.limits.request_timeout  # the body has that long from now
            self.transport.write(_CONTINUE)  # type: ignore[union-attr]
        if self.pending_error:
            status = self.pending_error
            body = f"{status} {_REASONS.get(status, '')}\n".encode()
            head = _head(f"{status} {_REASONS.get(status, '')}", (
                ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
            ))
            self.send(head, body, keep_alive=False)
        elif (self.close_after or self.site.closing) and self.request is None:
            self.close()
        elif not self.reading:
            self.transport.resume_reading()  # type: ignore[union-attr]
            self.reading = True

    def fail(self, status: int) -> None:
        """Answers with an error ``status`` once every answer before it is out, then closes; reads nothing
        more from the connection."""
        if self.closed or self.pending_error:
            return
        self.parser = _Refused()  # type: ignore[assignment]
        self.request = None
        self.pending_error = status
        self.next()

    def close(self) -> None:
        """Closes the connection once what was written to it is sent (``check_time`` gives up on a client
        that does not read it within ``request_timeout``).

        After an error the client may still be sending what was refused (a body over the limit, requests
        pipelined behind a bad one). Closing then would answer that data with a reset, which can destroy the
        error answer before the client reads it; so the connection closes in stages (RFC 9112 section 9.6):
        our side first, then the rest is read and dropped until the client closes, for LINGER seconds at most.
        """
        if not self.closed:
            self.closed = True
            now = time.monotonic()
            self.deadline = now + self.limits.request_timeout  # for the client to read what it was sent
            transport = self.transport
            if self.pending_error and not self.eof and transport.can_write_eof():  # type: ignore[union-attr]
                transport.write_eof()  # type: ignore[union-attr]
                self.linger_until = now + LINGER  # then check_time closes it, once all it was sent has left
                if not self.reading:
                    transport.resume_reading()  # type: ignore[union-attr]
                    self.reading = True
                return
            transport.close()  # type: ignore[union-attr]

    def abort(self) -> None:
        self.closed = True
        self.transport.abort()  # type: ignore[union-attr]

    def check_time(self, now: float) -> None:
        """Closes this connection if it waited past its deadline: idle, or in the middle of a request (408).
        Drops it if the client read nothing of what it was sent for ``request_timeout``; a connection with an
        answer still going out is not idle, however long a client that keeps reading takes."""
        unsent = self.transport.get_write_buffer_size()  # type: ignore[union-attr]
        if unsent:
            # what the client has read: all that was written, less what waits here and in the kernel's buffer
            # (which frees as the client reads, while ours may wait for a third of it to be free)
            sent = self.written - unsent - _kernel_unsent(self.transport)
            if not self.unsent or sent > self.sent:  # answers began to wait, or the client read some of them
                self.progress_at = now
            self.unsent, self.sent = unsent, sent
            if now - self.progress_at >= self.limits.request_timeout:
                self.abort()
            return
        self.unsent = 0
        if self.linger_until and now >= self.linger_until:
            self.linger_until = 0.0  # lingered long enough, and everything before has left: close for good
            self.transport.close()  # type: ignore[union-attr]
            return
        if now < self.deadline:
            return
        if self.closed:
            self.abort()
            return
        if self.busy or self.queue:
            return
        if self.request is not None:
            self.fail(408)
        else:
            self.close()

    def environ(self, req: _Request) -> dict[str, Any]:
        """Returns the WSGI environ of ``req`` (PEP 3333)."""
        url = req.url
        authority = None
        if url[:1] != b"/":  # the absolute form, http://host/path?query, or * (OPTIONS)
            try:
                parsed = httptools.parse_url(url)
                path, query = parsed.path or b"/", parsed.query or b""
                if parsed.host:  # RFC 9112 section 3.2.2: then the target's host, not the Host header
                    name = b"[%s]" % parsed.host if b":" in parsed.host else parsed.host  # an IPv6 address
                    authority = name + (b":%d" % parsed.port if parsed.port else b"")
            except httptools.HttpParserInvalidURLError:
                path, query = url, b""
        else:
            path, _, query = url.partition(b"?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": req.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": self.site.server_name,
            "SERVER_PORT": self.site.port,
            "SERVER_PROTOCOL": f"HTTP/{req.version}",
            "REMOTE_ADDR": str(self.peer[0]),
            "REMOTE_PORT": str(self.peer[1]) if len(self.peer) > 1 else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b"".join(req.body)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in req.headers:
            if b"_" in name:
                # X_Forwarded_For would be read as X-Forwarded-For, the client address a trusted proxy appends
                # (FEEDSERVICE_CLIENT_IP_HEADER): dropped, as gunicorn and nginx drop such names
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value.decode("latin-1")
                continue
            key = "HTTP_" + key
            text = value.decode("latin-1")
            environ[key] = f"{environ[key]}, {text}" if key in environ else text
        if authority is not None:
            environ["HTTP_HOST"] = authority.decode("latin-1")
        host = environ.get("HTTP_HOST")
        if host:  # its name without the port: example.org, [::1]
            environ["SERVER_NAME"] = host if host.endswith("]") or ":" not in host else host.rpartition(":")[0]
        if req.body and "CONTENT_LENGTH" not in environ:  # a chunked body: its length as read
            environ["CONTENT_LENGTH"] = str(sum(map(len, req.body)))
        return environ


class _Light:
    """httptools' parser with no callback per header: it checks a poll's bytes, ``Connection.poll`` reads them."""

    __slots__ = ("parser", "done", "keep_alive", "version")

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.done = False
        self.keep_alive = False
        self.version = ""

    def on_headers_complete(self) -> None:  # keep-alive is only known until the message completes
        self.keep_alive = self.parser.should_keep_alive()
        self.version = self.parser.get_http_version()

    def on_message_complete(self) -> None:
        self.done = True


def _kernel_unsent(transport: Any) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the client (Linux's SIOCOUTQ), else 0."""
    sock = transport.get_extra_info("socket")
    if fcntl is None or sock is None:
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except (AttributeError, OSError, ValueError):
        return 0


class _UpgradeBody:
    """Reads the body of an upgrade request the server does not take, which httptools leaves unread: a second
    parser, given a head with the same framing, reads it into the request (``Connection.on_body``), then
    completes it; anything after it is refused (the connection closes after the answer)."""

    def __init__(self, conn: Connection, req: _Request) -> None:
        self.conn = conn
        self.done = False
        self.parser = httptools.HttpRequestParser(self)
        framing = b"Transfer-Encoding: chunked" if req.framed else b"Content-Length: %d" % req.length
        self.parser.feed_data(b"POST / HTTP/1.1\r\n" + framing + b"\r\n\r\n")

    def feed_data(self, data: bytes) -> None:
        if self.done:
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            if not self.done:  # the body itself is bad; what follows a body read whole is refused unread
                raise

    def on_chunk_header(self) -> None:
        if not self.done:
            self.conn.on_chunk_header()

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.conn.on_body(body)

    def on_message_complete(self) -> None:
        if not self.done:
            self.done = True
            self.conn.on_message_complete()


class _Refused:
    """The parser of a connection that answered an error: it reads nothing more."""

    def feed_data(self, data: bytes) -> None:
        pass


def _call_app(app: Callable, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Runs the WSGI ``app`` (in a pool thread) and returns (status, headers, the whole body)."""
    out: list = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        if exc_info and out:  # nothing is sent before the app returns, so a late error replaces the answer
            out.clear()
        out[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not out:
        raise RuntimeError("the app returned without calling start_response")
    return out[0], out[1], b"".join(chunks)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (Linux, macOS), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def serve_on(sockets: list[socket.socket], site: Site, stopped: asyncio.Event,
                   beat: Callable[[], bool] | None = None, beat_every: float = 1.0) -> None:
    """Serves ``site`` on ``sockets`` until ``stopped`` is set, then lets the answers under way finish
    (``site.graceful_timeout`` seconds at most). ``beat()`` runs every ``beat_every`` seconds; False stops."""
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(lambda: Connection(site), sock=sock, backlog=2048) for sock in sockets]
    try:
        while not stopped.is_set():
            try:
                await asyncio.wait_for(stopped.wait(), timeout=beat_every)
            except asyncio.TimeoutError:
                pass
            site.sweep()
            if beat is not None and not beat():
                break
    finally:
        for server in servers:
            server.close()
        site.closing = True
        for conn in list(site.connections):
            if not conn.busy and not conn.queue:
                conn.close()
        end = time.monotonic() + site.graceful_timeout
        while site.connections and time.monotonic() < end:
            await asyncio.sleep(0.05)
            site.sweep()
        for conn in list(site.connections):
            conn.abort()
        site.pool.shutdown(wait=False, cancel_futures=True)


class Worker(_GunicornWorker):
    """gunicorn's worker class for ``feedservice serve --server feedservice`` (see the module's docstring)."""

    def init_signals(self) -> None:
        # gunicorn's own handlers set flags a blocking loop polls; here the event loop takes the signals.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)  # reopen the log files

    def run(self) -> None:
        limits = Limits(
            request_line=self.cfg.limit_request_line, fields=self.cfg.limit_request_fields,
            field_size=self.cfg.limit_request_field_size, keepalive=max(float(self.cfg.keepalive), 1.0),
        )
        host, port = _address(self.sockets[0].sock) if self.sockets else ("", 0)
        site = Site(self.wsgi, self.cfg.threads, limits, host, port)
        site.graceful_timeout = float(self.cfg.graceful_timeout)
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        stopped = asyncio.Event()

        def stop(quick: bool) -> None:
            self.alive = False
            if quick:
                site.graceful_timeout = 0
            stopped.set()

        loop.add_signal_handler(signal.SIGTERM, stop, False)
        loop.add_signal_handler(signal.SIGINT, stop, True)
        loop.add_signal_handler(signal.SIGQUIT, stop, True)
        parent = self.ppid

        def beat() -> bool:
            self.notify()
            if os.getppid() != parent:
                self.log.info("Parent changed, shutting down: %s", self)
                return False
            return self.alive

        try:
            loop.run_until_complete(serve_on(
                [s.sock for s in self.sockets], site, stopped, beat,
                beat_every=min(1.0, max(self.timeout / 4, 0.1)) if self.timeout else 1.0,
            ))
        finally:
            loop.close()


def _address(sock: socket.socket) -> tuple[str, int]:
    name = sock.getsockname()
    return (str(name[0]), int(name[1])) if isinstance(name, tuple) else (str(name), 0)
