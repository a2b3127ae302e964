"""feedservice's own server (asyncserver) over real sockets: the same answers as the app, and HTTP/1.1 as
clients speak it (keep-alive, pipelining, HEAD, limits, errors, a store that changes)."""

from __future__ import annotations

import asyncio
import gzip
import json
import select
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedservice import asyncserver, create_app
from feedservice.asyncserver import Limits, Site, serve_on

from conftest import BUNDLED_STORE, free_port


@contextmanager
def running(app, limits: Limits | None = None, threads: int = 4):
    """Serves ``app`` on a free loopback port in a thread; yields (port, site, stop: tells the server to stop)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    site = Site(app, threads, limits or Limits(), "127.0.0.1", sock.getsockname()[1])
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve_on([sock], site, stopped, beat_every=0.05),))
    thread.start()
    try:
        yield sock.getsockname()[1], site, lambda: loop.call_soon_threadsafe(stopped.set)
    finally:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        loop.close()
        sock.close()


class Client:
    """A raw HTTP/1.1 connection: send bytes, read whole responses."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def response(self, head_request: bool = False) -> tuple[int, dict[str, str], bytes, list[tuple[str, str]]]:
        """Returns (status, headers lowercased, body, headers as sent)."""
        while b"\r\n\r\n" not in self.buf:
            if not self._more():
                raise ConnectionError(f"closed before a response: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        raw = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        headers = {k.lower(): v for k, v in raw}
        length = 0 if head_request or status in (100, 204, 304) else int(headers.get("content-length", 0))
        while len(self.buf) < length:
            if not self._more():
                raise ConnectionError("closed in the middle of a body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body, raw  # type: ignore[return-value]

    def closed(self) -> bool:
        """True if the server closed the connection (waits up to the socket timeout)."""
        try:
            return not self._more()
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(path: str, headers: dict[str, str] | None = None, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.fixture(scope="module")
def app():
    return create_app({"STORE": str(BUNDLED_STORE), "RELOAD_SECONDS": 0, "BASE_URL": "http://127.0.0.1"})


@pytest.fixture(scope="module")
def server(app):
    with running(app) as (port, site, _):
        yield port, site


@pytest.fixture
def client(server):
    c = Client(server[0])
    yield c
    c.close()


def expected(app, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    resp = app.test_client().open(path, method=method, headers=headers or {}, base_url="http://127.0.0.1")
    return resp.status_code, [(k, v) for k, v in resp.headers.items()], resp.get_data()


def without_date(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in raw if k.lower() != "date"]


PATHS = [
    "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/ministries/molit.atom",
    "/feeds/topics/smart-city-policy.json", "/feeds/all/archive/1.atom", "/feeds.opml", "/feeds/all.atom?limit=3",
    "/", "/healthz", "/nope", "/feeds/all.atom?limit=0", "/feeds/ministries/no-such.rss", "/feeds/all%2Eatom",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("headers", [{}, {"Accept-Encoding": "gzip"}])
def test_every_answer_is_the_apps_first_cached_and_remembered(app, client, path, headers):
    # 1st: the app renders it (or answers it); 2nd: the render cache; 3rd: the same bytes, remembered
    want_status, want_headers, want_body = expected(app, path, headers)
    for _ in range(3):
        client.send(get(path, headers))
        status, hdrs, body, raw = client.response()
        assert (status, without_date(raw), body) == (want_status, want_headers, want_body), path
        assert hdrs["date"].endswith(" GMT")


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/ministries/molit.rss", "/nope"])
def test_head_has_the_get_headers_and_no_body(app, client, path):
    want_status, want_headers, _ = expected(app, path, method="HEAD")
    for _ in range(3):
        client.send(get(path, method="HEAD"))
        status, _, body, raw = client.response(head_request=True)
        assert (status, without_date(raw), body) == (want_status, want_headers, b"")
    client.send(get("/healthz"))  # nothing was left on the connection after the HEAD answers
    assert client.response()[0] == 200


def test_conditional_requests(app, client):
    client.send(get("/feeds/all.atom", {"Accept-Encoding": "gzip"}))
    _, hdrs, body, _ = client.response()
    assert hdrs["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"<?xml")
    etag, modified = hdrs["etag"], hdrs["last-modified"]
    cases = [
        ({"Accept-Encoding": "gzip", "If-None-Match": etag}, 304),
        ({"accept-encoding": "gzip", "if-none-match": f'"other", {etag}'}, 304),
        ({"If-None-Match": etag}, 200),  # the plain variant has its own ETag
        ({"Accept-Encoding": "gzip", "If-Modified-Since": modified}, 304),
        ({"Accept-Encoding": "gzip", "If-Match": '"other"'}, 412),
        ({"If-None-Match": "*"}, 304),
    ]
    for headers, status in cases:
        want = expected(app, "/feeds/all.atom", headers)
        assert want[0] == status
        for _ in range(2):
            client.send(get("/feeds/all.atom", headers))
            got_status, _, body, raw = client.response()
            assert (got_status, without_date(raw), body) == want, headers


def test_pipelined_requests_are_answered_in_order(app, client):
    paths = ["/feeds/all.atom", "/feeds/all.atom?limit=1", "/healthz", "/nope", "/feeds/all.atom"]
    client.send(b"".join(get(p) for p in paths))
    for path in paths:
        status, _, body, raw = client.response()
        assert (status, without_date(raw), body) == expected(app, path), path


def test_a_request_split_across_reads(app, client):
    data = get("/feeds/all.json", {"Accept-Encoding": "identity"})
    for i in range(len(data)):
        client.send(data[i:i + 1])
        time.sleep(0.001)
    status, _, body, _ = client.response()
    assert status == 200 and json.loads(body)["version"] == "https://jsonfeed.org/version/1.1"


def test_connection_close_and_http_1_0(server):
    port = server[0]
    for request, stays_open, says in [
        (get("/healthz", {"Connection": "close"}), False, "close"),
        (get("/feeds/all.atom", {"Connection": "close"}), False, "close"),
        (get("/healthz", version="1.0"), False, "close"),
        (get("/feeds/all.atom", {"Connection": "keep-alive"}, version="1.0"), True, "keep-alive"),
        (get("/healthz", {"Connection": "keep-alive"}, version="1.0"), True, "keep-alive"),
    ]:
        c = Client(port)
        for _ in range(2):
            c.send(request)
            status, hdrs, _, _ = c.response()
            assert status == 200 and hdrs.get("connection") == says, request
            if not stays_open:
                assert c.closed(), request
                break
        c.close()


BAD_REQUESTS = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431),
    (b"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1_100_000, 413),
    (b"GET /feeds/all.atom HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    # a body over the limit is refused as its headers end, without reading it (and without a 100 Continue)
    (b"PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n", 413),
    # RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any request with two
    (b"GET /feeds/all.atom HTTP/1.1\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400),
    (b"GET /feeds/all.atom HTTP/1.0\r\nHost: a.example\r\nhost: b.example\r\n\r\n", 400),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: a b\r\n\r\n", 400),  # nor one that is not a host and port
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: x@evil.example\r\n\r\n", 400),
    (b"GET /feeds/all.atom HTTP/1.1\r\nHost: a:b:c\r\n\r\n", 400),
    # a bad request that also asks for an upgrade, or a CONNECT (llhttp reads both as upgrades), gets its error
    (b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400),
    (b"CONNECT a:443 HTTP/1.1\r\n\r\n", 400),
]


@pytest.mark.parametrize("alone", [False, True], ids=["pipelined", "alone"])
@pytest.mark.parametrize("data, status", BAD_REQUESTS)
def test_bad_requests_get_an_error_and_the_connection_closes(server, data, status, alone):
    c = Client(server[0])
    c.send(get("/feeds/all.atom"))  # cached now: a request alone in one read is then taken by the poll path
    assert c.response()[0] == 200
    if alone:
        c.send(data)
    else:
        c.send(get("/healthz") + data)  # the answer before the bad request still goes out first
        assert c.response()[0] == 200
    got, hdrs, body, _ = c.response()
    assert got == status and hdrs["connection"] == "close" and body.startswith(str(status).encode())
    assert c.closed()
    c.close()


@pytest.mark.parametrize("start", [
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ",  # a header line
    b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Endless: ",  # a trailer line
], ids=["header", "trailer"])
def test_a_line_that_never_ends_is_refused_before_it_grows(server, start):
    with Client(server[0]) as c:
        c.send(start)
        sent = 0
        while sent < 64 << 20 and not select.select([c.sock], [], [], 0.05)[0]:  # until the server answers
            c.send(b"a" * (1 << 20))
            sent += 1 << 20
        assert sent < 4 << 20  # a whole header section may take about 0.8 MB, and trailers as much again
        status, hdrs, _, _ = c.response()
        assert status == 431 and hdrs["connection"] == "close"
        assert c.closed()  # once the server has said so, what else comes is read and dropped, then closed


def test_a_refused_body_is_read_and_dropped_so_the_answer_is_not_lost(server):
    # RFC 9112 section 9.6: closing while the client still sends would reset the connection, and the client's
    # system may then drop the 413 unread; the server closes its side, and reads what comes until the client does
    with Client(server[0]) as c:
        c.send(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n")
        c.send(b"x" * (16 << 20))  # all of it, though the answer was decided at the headers
        status, hdrs, _, _ = c.response()
        assert status == 413 and hdrs["connection"] == "close"
        assert c.closed()


def _ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_a_refused_body_is_read_and_dropped_even_after_reading_paused():
    # more than 16 requests queued pause reading; the lingering close must read again, or the client's body
    # fills the buffers and ends in a reset
    with running(_ok) as (port, _, _), Client(port) as c:
        c.sock.settimeout(15)
        c.send(get("/x") * 20 + b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n")
        c.send(b"x" * (16 << 20))
        assert [c.response()[0] for _ in range(21)] == [200] * 20 + [413]


def test_a_lingering_close_ends_and_does_not_cut_what_went_before(monkeypatch):
    monkeypatch.setattr(asyncserver, "LINGER", 0.3)
    big = b"x" * (8 << 20)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [big]

    with running(app) as (port, site, stop), Client(port) as c:
        c.send(get("/big") + b"GET /bad HTTP/1.1\r\n\r\n")  # the second has no Host: 400
        time.sleep(1)  # past LINGER before reading anything
        status, _, body, _ = c.response()
        assert status == 200 and body == big
        assert c.response()[0] == 400 and c.closed()
    with running(_ok) as (port, site, stop), Client(port) as c:
        c.send(b"GET /bad HTTP/1.1\r\n\r\n")
        assert c.response()[0] == 400
        stop()  # with the client still connected: the worker stops once the lingering close ends
        deadline = time.monotonic() + 3
        while site.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not site.connections


def test_a_pending_error_is_the_last_answer_even_after_a_half_close():
    with running(_echo) as (port, _, _), Client(port) as c:
        c.send(get("/slow") + b"GET /bad HTTP/1.1\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        status, hdrs, _, _ = c.response()
        assert status == 200 and "connection" not in hdrs
        status, hdrs, _, _ = c.response()
        assert status == 400 and hdrs["connection"] == "close"
        assert c.closed()


def test_a_header_section_split_over_reads_is_not_charged_for_what_came_before_it():
    one = b"GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1000 + b"\r\n\r\n"
    # a whole header section may take 200 + 5 * 1104 + 4 bytes here; ten requests come first in the same read
    with running(_ok, Limits(request_line=200, fields=5, field_size=1100)) as (port, _, _), Client(port) as c:
        c.send(one * 10 + b"GET /last HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        c.send(b"\r\n")
        assert [c.response()[0] for _ in range(11)] == [200] * 11


@pytest.mark.parametrize("framing", [b"Content-Length: 5\r\n\r\nhello", b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"])
def test_an_upgrade_not_taken_is_read_with_its_body(framing):
    # RFC 9110 section 7.8: what `curl --http2 -d ...` sends to an http:// URL is answered as HTTP/1.1, body and all
    with running(_echo) as (port, _, _), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n" + framing)
        status, hdrs, body, _ = c.response()
        assert status == 200 and json.loads(body)["body"] == "hello" and hdrs["connection"] == "close"
        assert c.closed()


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_an_answer_that_has_no_body_is_sent_without_one(status):
    def app(environ, start_response):
        none = environ["PATH_INFO"] == "/none"
        headers = [("Content-Length", "14"), ("Date", "Thu, 01 Jan 1970 00:00:00 GMT")] if none else []
        start_response(status if none else "200 OK", headers)
        return [b"leftover bytes"]

    with running(app) as (port, _, _), Client(port) as c:
        c.send(get("/none") + get("/next"))
        got, hdrs, _, raw = c.response()
        assert got == int(status[:3])  # the client reads no body after it
        assert status[:3] != "204" or "content-length" not in hdrs  # RFC 9110 section 8.6
        assert [k for k, _ in raw if k.lower() == "date"] == ["Date"]  # the server's own, once
        status_next, _, body, _ = c.response()
        assert status_next == 200 and body == b"leftover bytes"


@pytest.mark.parametrize("status, headers", [
    ("103 Early Hints", []), ("100 Continue", []),  # not a final answer: the next one would be read as this one's
    ("200 OK", [("Content-Length", "100")]), ("200 OK", [("Content-Length", "4")]),  # the body is 6 bytes
    ("200 OK", [("Transfer-Encoding", "chunked")]), ("200 OK", [("Connection", "close")]),  # PEP 3333: hop-by-hop
    (" 103 Early Hints", []), ("600 Odd", []), ("20 OK", []),  # RFC 9110 section 15: three digits, 2xx-5xx
    ("200 OK", [("Transfer-Encoding: chunked, X-Note", "1")]), ("200 OK", [("Transfer-Encoding ", "chunked")]),
    ("304 Not Modified", [("Content-Length", "abc")]), ("200 OK", [("Content-Length", "6"), ("Content-Length", "7")]),
    ("200 OK", [("Content-Length", "6"), ("Content-Length", "6")]),  # a single-value field, given twice
    ("200 OK", [("X-Note", "a\x0bLocation: x")]), ("200 OK", [("X-Note", "a\x7f")]), ("200 O\x0bK", []),  # controls
    ("200 OK", [("X-Note", b"abc")]), (type("Status", (str,), {})("200 OK"), []),  # PEP 3333: str, not a subclass
])
def test_an_answer_the_app_framed_wrong_is_a_500(status, headers):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/bad":
            start_response(status, headers)
        else:
            start_response("200 OK", [("Content-Length", "06" if environ["PATH_INFO"] == "/zero" else " 6 ")])
        return [b"sixsix"]

    with running(app) as (port, _, _), Client(port) as c:
        c.send(get("/fine") + get("/zero") + get("/bad") + get("/fine"))
        for _ in range(2):  # a Content-Length that matches goes out as given (RFC 9110 section 8.6: 1*DIGIT)
            status_first, _, body, _ = c.response()
            assert status_first == 200 and body == b"sixsix"
        got, hdrs, _, _ = c.response()
        assert got == 500 and hdrs["connection"] == "close"
        assert c.closed()


@pytest.mark.parametrize("expect", [False, True])
def test_an_upgrade_whose_body_is_still_coming_is_answered_after_the_busy_one(expect):
    with running(_echo) as (port, _, _), Client(port) as c:
        head = (b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + (b"Expect: 100-continue\r\n" if expect else b"") + b"Content-Length: 5\r\n\r\n")
        c.send(get("/slow") + head + (b"" if expect else b"hel"))
        status, hdrs, _, _ = c.response()
        assert status == 200 and "connection" not in hdrs  # the upgrade's answer is the last, not this one
        if expect:
            assert c.response()[0] == 100
        time.sleep(0.2)
        c.send(b"hello" if expect else b"lo")
        status, hdrs, body, _ = c.response()
        assert status == 200 and json.loads(body)["body"] == "hello" and hdrs["connection"] == "close"
        assert c.closed()


def test_what_follows_an_upgrade_body_is_refused_unread(caplog):
    with running(_echo) as (port, _, _), Client(port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\n"
               b"hello" + b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        status, _, body, _ = c.response()
        assert status == 200 and json.loads(body)["body"] == "hello"
        assert c.closed()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_body_in_many_small_chunks_is_not_taken_for_a_long_header():
    chunks = b"1\r\nx\r\n" * 400_000  # 2.4 MB of chunk lines for a 400 KB body, under the 1 MB limit
    with running(_echo) as (port, _, _), Client(port) as c:
        c.sock.settimeout(30)
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        status, _, body, _ = c.response()
        assert status == 200 and len(json.loads(body)["body"]) == 400_000


def test_an_app_failure_while_an_error_waits_is_a_500():
    def app(environ, start_response):
        raise RuntimeError("boom")

    with running(app) as (port, _, _), Client(port) as c:
        c.send(get("/boom") + b"GET /bad HTTP/1.1\r\n\r\n")  # the second has no Host: its 400 waits
        status, hdrs, _, _ = c.response()
        assert status == 500 and hdrs["connection"] == "close"
        assert c.closed()


def test_a_client_reading_a_long_answer_steadily_gets_all_of_it():
    big = b"x" * (4 << 20)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [big]

    # the transfer takes longer than keepalive and request_timeout together; the client never stops reading
    with running(app, Limits(keepalive=0.3, request_timeout=1.0)) as (port, _, _):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(5)
        with sock:
            sock.connect(("127.0.0.1", port))
            sock.sendall(get("/big"))
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            received = len(head.partition(b"\r\n\r\n")[2])
            while received < len(big):  # a reset here is the bug: the server gave up on a client still reading
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
                time.sleep(0.02)
        assert received == len(big)


def test_trailers_are_not_headers(app, server):
    # RFC 9110 section 6.5.1: a trailer after a chunked body must not pose as a header (here a conditional one)
    etag = expected(app, "/feeds/all.atom")[1]
    etag = dict(etag)["ETag"].encode()
    with Client(server[0]) as c:
        c.send(b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\nIf-None-Match: " + etag + b"\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n")
        assert c.response()[0] == 200


@pytest.mark.parametrize("alone", [False, True], ids=["pipelined", "alone"])
def test_whitespace_after_a_value_is_not_part_of_it(server, alone):
    # RFC 9112 section 5: the same conditional request gets the same answer whichever path reads it
    request = get("/feeds/all.atom", {"If-None-Match": "* \t"})  # any current representation: 304
    with Client(server[0]) as c:
        c.send(get("/feeds/all.atom"))
        assert c.response()[0] == 200
        c.send(request if alone else get("/healthz") + request)
        if not alone:
            assert c.response()[0] == 200
        assert c.response()[0] == 304


def _echo(environ, start_response):
    """A WSGI app answering with what it was given: a few environ keys and the body."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.3)
    keys = ("PATH_INFO", "CONTENT_LENGTH", "HTTP_X_FORWARDED_FOR", "HTTP_X_SPACE")
    seen = {k: environ.get(k) for k in keys}
    seen["body"] = environ["wsgi.input"].read().decode("latin-1")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


def test_a_queued_body_reaches_the_app_whole_and_trailers_do_not():
    with running(_echo) as (port, _, _), Client(port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"  # the next two wait their turn behind it
               b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nX-Space: a \t\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n"
               b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        answers = [json.loads(c.response()[2]) for _ in range(3)]
    assert answers[1] == {
        "PATH_INFO": "/echo", "CONTENT_LENGTH": "5", "HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_SPACE": "a",
        "body": "hello",
    }
    assert answers[2]["body"] == "ab" and answers[2]["CONTENT_LENGTH"] == "2"


def test_http_1_0_with_transfer_encoding_closes_after_its_answer(server):
    # RFC 9112 section 6.1: faulty framing, whatever Connection says
    with Client(server[0]) as c:
        c.send(b"POST /x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\n\r\n" + get("/healthz", {"Connection": "keep-alive"}, version="1.0"))
        status, hdrs, _, _ = c.response()
        assert status == 404 and hdrs["connection"] == "close"
        assert c.closed()


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/healthz", "/feeds/all.atom?limit=1"])
def test_a_client_that_half_closes_still_gets_its_answers(server, path):
    with Client(server[0]) as c:
        c.send(get("/feeds/all.atom"))
        assert c.response()[0] == 200
        c.send(get("/healthz") + get(path))  # one answered by the app, then a cached one or another
        c.sock.shutdown(socket.SHUT_WR)  # what `nc -N` does once it has sent its request
        assert [c.response()[0] for _ in range(2)] == [200, 200]
        assert c.closed()


def test_a_body_is_read_and_the_app_decides(app, client):
    client.send(b"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/healthz"))
    assert client.response()[0] == expected(app, "/feeds/all.atom", method="POST")[0] == 405
    assert client.response()[0] == 200


def test_expect_100_continue(client):
    client.send(b"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert client.response()[0] == 100
    client.send(b"abc")
    assert client.response()[0] == 405


def test_expect_100_continue_given_twice_is_one_expectation(client):
    client.send(b"POST /feeds/all.atom HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n"
                b"Content-Length: 3\r\n\r\n")
    assert client.response()[0] == 100  # RFC 9110 section 10.1.1: Expect is a list
    client.send(b"abc")
    assert client.response()[0] == 405


def test_the_body_has_request_timeout_from_its_100_continue():
    with running(_echo, Limits(request_timeout=0.5)) as (port, _, _), Client(port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"  # /slow takes 0.3 s; the sweep runs every 0.05 s
               b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert [c.response()[0] for _ in range(2)] == [200, 100]
        time.sleep(0.3)  # 0.6 s after the PUT began, 0.3 s after its 100
        c.send(b"hello")
        assert c.response()[0] == 200


def test_expect_100_continue_waits_for_its_turn_and_the_request_for_its_timeout():
    with running(_echo, Limits(keepalive=0.2, request_timeout=10)) as (port, _, _), Client(port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
               b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert [c.response()[0] for _ in range(2)] == [200, 100]  # its 100 once the answer before it is out
        time.sleep(0.5)  # past keepalive: a request on its way has request_timeout, not the idle timeout
        c.send(b"hello")
        status, _, body, _ = c.response()
        assert status == 200 and json.loads(body)["body"] == "hello"


@pytest.mark.parametrize("header", [
    ("X-Name", "\u20ac"),  # not Latin-1
    ("Location", "/a\r\nSet-Cookie: session=stolen"),  # RFC 9110 section 5.5: would add a header of its own
    ("X-Name", "a\nb"), ("X-Name", "a\rb"), ("X-Na\r\nme", "a"), ("X-Name", "a\0b"),
])
def test_an_answer_that_cannot_be_written_is_a_500_and_the_connection_closes(header):
    def app(environ, start_response):
        start_response("200 OK", [header if environ["PATH_INFO"] == "/bad" else ("X-Name", "fine")])
        return [b"ok"]

    with running(app) as (port, _, _), Client(port) as c:
        c.send(get("/bad") + get("/fine"))
        status, hdrs, _, _ = c.response()
        assert status == 500 and hdrs["connection"] == "close"
        assert c.closed()


def test_an_upgrade_is_answered_as_http_1_1_then_closed(app, client):
    client.send(get("/feeds/all.atom", {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__"}))
    status, hdrs, body, _ = client.response()
    assert status == 200 and body == expected(app, "/feeds/all.atom")[2] and hdrs["connection"] == "close"
    assert client.closed()


def test_idle_and_slow_connections_are_closed(app):
    with running(app, Limits(keepalive=0.2, request_timeout=0.4)) as (port, _, _):
        with Client(port) as idle:
            idle.send(get("/healthz"))
            assert idle.response()[0] == 200
            assert idle.closed()  # after keepalive seconds with no request
        with Client(port) as slow:
            slow.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            status, hdrs, _, _ = slow.response()
            assert status == 408 and hdrs["connection"] == "close"
            assert slow.closed()


def test_a_changed_store_is_served_at_once(write_store, store_dict):
    path = write_store(store_dict)
    app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0})
    with running(app) as (port, site, _):
        c = Client(port)
        for _ in range(3):  # rendered, cached, then remembered by its bytes
            c.send(get("/feeds/all.atom"))
            _, first, body, _ = c.response()
        store_dict["articles"][0]["title"] = "A title edited after the first answers"
        write_store(store_dict)
        assert app.extensions["feedservice"].live.check()
        for _ in range(3):
            c.send(get("/feeds/all.atom"))
            _, now, new_body, _ = c.response()
            assert now["etag"] != first["etag"] and b"A title edited after the first answers" in new_body
        c.close()


def test_a_rate_limit_sees_every_request(write_store, store_dict):
    app = create_app({"STORE": str(write_store(store_dict)), "RELOAD_SECONDS": 0, "RATE_LIMIT": "3/minute"})
    with running(app) as (port, site, _):
        assert site.service is None  # nothing is answered before the limiter
        c = Client(port)
        statuses = []
        for _ in range(5):
            c.send(get("/feeds/all.atom"))
            statuses.append(c.response()[0])
        assert statuses == [200, 200, 200, 429, 429]
        c.close()


def test_remembered_answers_stay_within_their_bounds(app, monkeypatch):
    monkeypatch.setattr(asyncserver, "MEMO_ANSWERS", 8)
    with running(app) as (port, site, _):
        c = Client(port)
        for i in range(40):  # every request different: a new User-Agent each time
            c.send(get("/feeds/all.atom", {"User-Agent": f"reader/{i}"}))
            assert c.response()[0] == 200
            assert len(site.polls) <= 8 and len(site.answers) <= 8
        c.close()


def test_the_app_failing_gives_500_and_the_server_goes_on():
    def broken(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]

    with running(broken) as (port, _, _):
        with Client(port) as c:
            c.send(get("/boom"))
            assert c.response()[0] == 500 and c.closed()
        with Client(port) as c:
            c.send(get("/ok"))
            status, hdrs, body, _ = c.response()
            assert (status, hdrs["content-length"], body) == (200, "4", b"fine")  # the length the app left out


def test_wsgi_environ():
    seen = {}

    def app(environ, start_response):
        seen.update({k: v for k, v in environ.items() if k.isupper()}, body=environ["wsgi.input"].read())
        start_response("204 No Content", [])
        return []

    with running(app) as (port, _, _), Client(port) as c:
        c.send(b"PUT /a%20b/%E2%82%AC?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nX-Twice: 1\r\nX-Twice: 2\r\n"
               b"X_Forwarded_For: 203.0.113.9\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc")
        assert c.response()[0] == 204
        c.send(b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        assert c.response()[0] == 204
        assert seen["SERVER_NAME"] == "[::1]"
        c.send(b"GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n")
        assert c.response()[0] == 204
        assert seen["SERVER_NAME"] == "[::1]"
        c.send(b"PUT /a%20b/%E2%82%AC?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nX-Twice: 1\r\nX-Twice: 2\r\n"
               b"X_Forwarded_For: 203.0.113.9\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc")
        assert c.response()[0] == 204
    assert seen["REQUEST_METHOD"] == "PUT"
    assert seen["PATH_INFO"] == "/a b/\u20ac".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert seen["QUERY_STRING"] == "x=1&y=%20"
    assert (seen["SERVER_NAME"], seen["HTTP_HOST"], seen["SERVER_PROTOCOL"]) == ("example.org", "example.org:8080", "HTTP/1.1")
    assert seen["HTTP_X_TWICE"] == "1, 2"
    assert (seen["CONTENT_TYPE"], seen["CONTENT_LENGTH"], seen["body"]) == ("text/plain", "3", b"abc")
    assert "HTTP_CONTENT_LENGTH" not in seen and seen["REMOTE_ADDR"] == "127.0.0.1"
    assert "HTTP_X_FORWARDED_FOR" not in seen  # a name with an underscore is dropped, not read as one with a dash


@pytest.mark.parametrize("target, host, server_name", [
    (b"http://feeds.example.org/a?x=1", "feeds.example.org", "feeds.example.org"),
    (b"http://feeds.example.org:8080/a", "feeds.example.org:8080", "feeds.example.org"),
    (b"http://[::1]:8080/a", "[::1]:8080", "[::1]"),
])
def test_an_absolute_target_names_the_host(target, host, server_name):
    # RFC 9112 section 3.2.2: the Host header is ignored then
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    with running(app) as (port, _, _), Client(port) as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: other.example\r\n\r\n")
        assert c.response()[0] == 204
    assert (seen["HTTP_HOST"], seen["SERVER_NAME"], seen["PATH_INFO"]) == (host, server_name, "/a")


_names = st.sampled_from(["Accept-Encoding", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
                          "User-Agent", "Accept"])


@st.composite
def _request_headers(draw, etags):
    headers = []
    for name in draw(st.lists(_names, max_size=5)):
        name = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
        value = draw(st.sampled_from([
            *etags, "*", f"{etags[0]}, \"x\"", "gzip", "gzip;q=0", "identity", "br, gzip", "",
            "Sat, 04 Jan 2025 14:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT", "not a date", "reader/1.0",
        ]))
        headers.append((name, value))
    return headers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_conditional_headers_get_the_apps_answer(app, server, data):
    # Case, order, repeats and values as clients send them: the cached and remembered answers are the app's.
    with Client(server[0]) as c:
        c.send(get("/feeds/all.atom", {"Accept-Encoding": "gzip"}))
        etags = [c.response()[1]["etag"]]
        c.send(get("/feeds/all.atom"))
        etags.append(c.response()[1]["etag"])
        headers = data.draw(_request_headers(etags))
        request = get("/feeds/all.atom")[:-2] + "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"
        combined: dict[str, str] = {}
        for k, v in headers:  # how a server hands repeated headers to the app
            key = k.title()
            combined[key] = f"{combined[key]}, {v}" if key in combined else v
        want = expected(app, "/feeds/all.atom", combined)
        for _ in range(2):
            c.send(request)
            status, _, body, raw = c.response()
            assert (status, without_date(raw), body) == want, headers


def test_the_worker_class_serves_under_gunicorn(tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    port = free_port()
    env = dict(os.environ, FEEDSERVICE_STORE=str(BUNDLED_STORE), FEEDSERVICE_RELOAD_SECONDS="0")
    with (tmp_path / "gunicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "feedservice.asyncserver.Worker", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--graceful-timeout", "5", "feedservice:create_app()"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/feeds/all.atom", timeout=2) as resp:
                    assert resp.status == 200 and resp.headers["ETag"]
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_client_that_reads_slowly_gets_every_answer_in_order(app, server):
    # Far more pipelined answers than the socket buffers hold: the server stops reading until they go out.
    paths = ["/feeds/all.atom", "/feeds/all.rss", "/feeds/all.atom?limit=2"] * 100
    with Client(server[0]) as c:
        c.send(b"".join(get(p) for p in paths))
        time.sleep(0.5)  # not reading meanwhile
        for path in paths:
            status, hdrs, body, _ = c.response()
            assert status == 200 and hdrs["content-type"] == expected(app, path)[1][0][1], path
            assert len(body) == int(hdrs["content-length"])


def test_stopping_lets_the_answers_under_way_finish():
    def slow(environ, start_response):
        time.sleep(0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with running(slow, threads=2) as (port, _, stop), Client(port) as busy, Client(port) as idle:
        busy.send(get("/"))
        time.sleep(0.1)
        stop()
        status, hdrs, body, _ = busy.response()
        assert (status, body, hdrs["connection"]) == (200, b"done", "close")
        assert busy.closed() and idle.closed()


def test_a_client_that_never_reads_is_dropped(app):
    # Its connection goes idle and is closed, but what was written to it cannot drain: it is dropped, so the
    # answers waiting for it are freed, rather than kept for as long as the client keeps the socket open.
    with running(app, Limits(keepalive=0.2, request_timeout=0.5)) as (port, site, _):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, so the window stays small
        sock.settimeout(5)
        with sock:
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"".join(get("/feeds/all.atom") for _ in range(2000)))  # about 23 MB of answers
            time.sleep(2.5)  # never reading meanwhile
            whole = 2000 * len(expected(app, "/feeds/all.atom")[2])
            got = 0
            try:
                while chunk := sock.recv(1 << 20):
                    got += len(chunk)
            except ConnectionResetError:
                pass
            assert got < whole / 2
