"""Hostile requests: odd paths, bytes, queries, methods and headers get a 4xx, never a 5xx or a traceback.

Requests go straight into the WSGI app as raw environs, so they can carry what a real server passes on but
the test client would refuse: PATH_INFO is the percent-decoded path as bytes (read as Latin-1, per PEP 3333),
so it may hold NUL, CR, LF and bytes that are not UTF-8. QUERY_STRING and header values are what may stand in
an HTTP request line or header: no CR, LF or NUL.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from feedservice import create_app
from conftest import make_store_dict


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module: 120 articles (two archive pages of 50), a renamed ministry."""
    doc = make_store_dict(120)
    doc["ministries"][0]["formerly"] = [{"slug": "mltm", "name": "Ministry of Land, Transport and Maritime Affairs"}]
    path = tmp_path_factory.mktemp("hostile-requests") / "articles.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return create_app({"STORE": str(path), "RELOAD_SECONDS": 0})


def environ(
    path: bytes | str,
    method: str = "GET",
    query: bytes | str = b"",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """Returns a WSGI environ as a server builds it: ``path`` is the request target's path, still encoded."""
    raw_path = path.encode("utf-8", "surrogatepass") if isinstance(path, str) else path
    raw_query = query.encode("utf-8") if isinstance(query, str) else query
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": raw_query.decode("latin-1"),
        "RAW_URI": (raw_path + (b"?" + raw_query if raw_query else b"")).decode("latin-1"),
        "SERVER_NAME": "feeds.example.go.kr",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_HOST": "feeds.example.go.kr",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return env


def call(app, env: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Runs one request through the app the way a WSGI server does; returns (status, headers, body)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    status = int(captured["status"].split(" ", 1)[0])
    return status, captured["headers"], body


def assert_sane(status: int, headers: list[tuple[str, str]], body: bytes, what: Any) -> None:
    assert status < 500, (what, status, body[:300])
    assert b"Traceback" not in body, what
    for name, value in headers:  # what a server could send: Latin-1, one line each
        value.encode("latin-1")
        assert "\n" not in value and "\r" not in value, (what, name, value)


def request(app, *args: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = call(app, environ(*args, **kwargs))
    assert_sane(status, headers, body, (args, kwargs))
    return status, dict(headers), body


# -- paths --------------------------------------------------------------------------------------------------------

HOSTILE_PATHS = [
    "/../../../../etc/passwd",
    "/feeds/../../etc/passwd",
    "/static/../../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2f..%2fpyproject.toml",
    "/static/%252e%252e/%252e%252e/pyproject.toml",
    "/static/..%5c..%5cpyproject.toml",
    "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/pyproject.toml",
    "/static/style.css%00.html",
    "/feeds/all.atom%00",
    "/feeds/%00.atom",
    "/articles/a00001%00",
    "/articles/%",
    "/articles/%zz",
    "/articles/%e0%a4%a",
    "/feeds/ministries/molit%2e%2e.atom",
    "/feeds/ministries/..%2f..%2fall.atom",
    "/feeds/all/archive/0.atom",
    "/feeds/all/archive/-1.atom",
    "/feeds/all/archive/99999999999999999999.atom",
    "/feeds/all/archive/1e3.atom",
    "/feeds/all.ATOM",
    "/feeds/all.atom.json",
    "/feeds/all.xml",
    "/feeds/MINISTRIES/molit.atom",
    "/feeds/ministries/MOLIT.atom",
    "/feeds/ministries/" + "a" * 101 + ".atom",
    "/ministries/%0d%0aSet-Cookie:%20x=1",
    "/articles/%0d%0aLocation:%20https://evil.example",
    "//evil.example/",
    "/\\evil.example",
    "/feeds/all.atom/",
    "/embed/../feeds/all.atom",
    "/embed/all.html%00",
    "/embed/ministries/mltm.html%2f",
    "/" + "a" * 8192,
    "/feeds/" + "%2e%2e/" * 1500,
    "/articles/" + "%ff" * 3000,
    "/feeds/all/archive/" + "9" * 8000 + ".atom",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_4xx(app, path):
    status, headers, body = request(app, path)
    assert 400 <= status < 500, (path, status)
    assert "Set-Cookie" not in headers and "Location" not in headers
    assert b"root:" not in body and b"[project]" not in body  # nothing from outside static/


@pytest.mark.parametrize(
    "raw",
    [b"/articles/\xff\xfe", b"/feeds/\xc0\xaf.atom", b"/ministries/\xed\xa0\x80", b"/\x00", b"/feeds/all.atom\x00",
     b"/articles/a00001\r\nX-Injected: 1", b"/static/\xc0\xae\xc0\xae/pyproject.toml", b"/embed/all.html\xff"],
)
def test_bytes_that_are_not_utf8_are_4xx(app, raw):
    status, headers, _ = request(app, raw)
    assert 400 <= status < 500 and "X-Injected" not in headers


@pytest.mark.parametrize("path", ["/feeds%2fall.atom", "/feeds/ministries%2fmolit.atom", "/feeds/all%2eatom",
                                  "/feeds/all/archive/%31.atom", "/%61rticles/a00001"])
def test_percent_encoded_forms_of_real_documents_are_the_documents(app, path):
    """A server decodes the path (%2F too) before PATH_INFO: these are the plain URLs, nothing more."""
    status, _, _ = request(app, path)
    assert status == 200


def test_odd_but_harmless_paths_are_not_5xx(app):
    for path in ("/" * 8192, "/./feeds/./all.atom", "/feeds//all.atom", "/?" + "x" * 8192):
        status, _, _ = request(app, path)
        assert status < 500


def test_the_real_documents_still_answer(app):
    for path in ("/", "/feeds/all.atom", "/feeds/all/archive/1.rss", "/feeds/ministries/molit.json", "/articles/a00001",
                 "/ministries/ngii", "/topics/maps", "/feeds.opml", "/healthz", "/static/style.css"):
        status, _, _ = request(app, path)
        assert status == 200, path
    status, headers, _ = request(app, "/feeds/ministries/mltm.atom", query="limit=5")
    assert status == 301 and headers["Location"].endswith("/feeds/ministries/molit.atom?limit=5")


# -- query strings --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-1", "limit=201", "limit=1e3", "limit=" + "9" * 400, "limit=%20%205", "limit=+5", "limit=0x10",
     "limit=%d9%a5", "limit=%ef%bc%95", "limit=%00", "limit=", "limit", "limit=%", "limit=%zz", "limit=5&limit=5",
     "limit=1&" * 5000, "limit=NaN", "limit=Infinity", "limit=5.0", "limit=٥"],
)
def test_absurd_limits_are_400(app, query):
    status, _, body = request(app, "/feeds/all.atom", query=query)
    assert status == 400, (query, body)
    assert len(body) < 1000


@pytest.mark.parametrize(
    "query",
    ["x=" + "A" * 100_000, "&".join(f"p{i}={i}" for i in range(20_000)), "a=%ff%fe%00&b=%zz&c=%", "=&=&&==",
     "limit[]=5", "%00=%00", "x=%e2%82%28", "utf8=\u2713".encode(), b"x=\xff\xfe"],
)
def test_huge_and_odd_queries_are_not_5xx(app, query):
    for path in ("/feeds/all.atom", "/", "/articles/a00001", "/feeds/all/archive/1.atom", "/embed/all.html"):
        status, _, _ = request(app, path, query=query)
        assert status in (200, 400, 404), (path, status)


# -- methods and headers --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PROPFIND", "BREW", "G-T"])
def test_unexpected_methods_are_405(app, method):
    for path in ("/feeds/all.atom", "/", "/articles/a00001", "/healthz"):
        status, headers, _ = request(app, path, method=method, body=b"x=1" * 1000,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 405, (method, path)
        assert "GET" in headers["Allow"]


def test_head_and_options_are_answered(app):
    status, _, body = request(app, "/feeds/all.atom", method="HEAD")
    assert status == 200 and body == b""
    status, headers, _ = request(app, "/feeds/all.atom", method="OPTIONS",
                                 headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"})
    assert status in (200, 204) and headers["Access-Control-Allow-Origin"] == "*"


GARBAGE_HEADERS = [
    {"If-None-Match": "\x7f\x01garbage"}, {"If-None-Match": "W/"}, {"If-None-Match": '"'}, {"If-None-Match": ",,,,"},
    {"If-None-Match": '"a", W/"b", *'}, {"If-None-Match": "*" * 8000}, {"If-None-Match": '"x",' * 5000},
    {"If-Modified-Since": "Sat, 01 Jan 10000 00:00:00 GMT"}, {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59 GMT"},
    {"If-Modified-Since": "Mon, 01 Jan 0001 00:00:00 GMT"}, {"If-Modified-Since": "0" * 5000},
    {"If-Modified-Since": "Mon, 32 Foo 2024 25:61:61 GMT"}, {"If-Modified-Since": "-1"},
    {"If-Unmodified-Since": "garbage"}, {"If-Match": "garbage"}, {"If-Match": "*"},
    {"Accept-Encoding": "gzip;q=abc"}, {"Accept-Encoding": "gzip;q=nan"}, {"Accept-Encoding": "gzip;q=1e999"},
    {"Accept-Encoding": "gzip;q=-1"}, {"Accept-Encoding": ";;;,,,"}, {"Accept-Encoding": "gzip;" * 4000},
    {"Accept": "text/html;q=\xff"}, {"Accept-Language": "\xff" * 100}, {"Range": "bytes=-1"},
    {"Range": "bytes=99999999999999999999-"}, {"Host": "evil.example\xff"}, {"Host": ""},
    {"X-Forwarded-For": "\xff, 999.999.999.999"}, {"Content-Length": "-1"}, {"Content-Length": "abc"},
    {"Content-Type": "multipart/form-data; boundary="}, {"Cookie": "a=\xff; ;;="}, {"Authorization": "Basic \xff"},
]


@pytest.mark.parametrize("headers", GARBAGE_HEADERS, ids=lambda h: next(iter(h)))
def test_garbage_headers_are_not_5xx(app, headers):
    for path in ("/feeds/all.atom", "/feeds/all.json", "/", "/articles/a00001", "/healthz", "/embed/all.html"):
        for method in ("GET", "HEAD"):
            status, _, _ = request(app, path, method=method, headers=headers)
            assert status in (200, 304, 400, 404, 412, 416), (path, headers, status)


# -- generated requests -------------------------------------------------------------------------------------------

PREFIXES = [
    "", "/", "/feeds/", "/feeds/all", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/all/archive/",
    "/feeds/all/archive/1.atom", "/feeds/ministries/", "/feeds/ministries/molit", "/feeds/ministries/mltm.rss",
    "/feeds/topics/maps/archive/", "/ministries/", "/ministries/mltm", "/topics/", "/articles/", "/articles/a00001",
    "/embed/", "/embed/all.html", "/embed/ministries/molit.html", "/embed.js", "/static/", "/static/style.css",
    "/healthz", "/feeds.opml",
]
PIECES = [
    "..", ".", "/", "//", "%2e", "%2e%2e", "%2f", "%2F", "%5c", "\\", "%00", "%", "%zz", "%c0%af", "%ff", "%e2%82",
    "%0d%0a", ".atom", ".rss", ".json", ".html", "archive", "/archive/", "1", "0", "-1", "999999999", "a00001",
    "molit", "mltm", "all", "ministries", "topics", "~", ";", "?", "#", "@", "%25",
]
segment = st.one_of(
    st.sampled_from(PIECES),
    st.text(max_size=12),
    st.binary(max_size=8).map(lambda b: "".join(f"%{c:02x}" for c in b)),
)
# One path in eight is 8 KB or more; the explicit tests above cover long paths too.
long_tail = st.sampled_from([""] * 28 + ["a" * 8192, "/.." * 3000, "%2e" * 3000, "9" * 8000])
paths = st.builds(lambda p, segs, tail: p + "".join(segs) + tail, st.sampled_from(PREFIXES), st.lists(segment, max_size=6), long_tail)
query_values = st.one_of(
    st.sampled_from(["", "0", "1", "5", "50", "200", "201", "-1", "1e3", "9" * 40, "%", "%zz", "%00", "%ef%bc%99", "+5", " 5"]),
    st.integers(-(10**30), 10**30).map(str),
    st.text(max_size=10).map(lambda t: "".join(f"%{c:02x}" for c in t.encode("utf-8", "surrogatepass"))),
)
query_names = st.sampled_from(["limit", "limit", "page", "x", "", "limit[]", "%00", "l%69mit", "LIMIT"])
queries = st.one_of(
    st.just(""),
    # raw bytes, as a client may put them in the request line (anything but space, CR, LF and NUL)
    st.binary(max_size=20).map(lambda b: b.translate(None, b" \r\n\x00")),
    st.lists(st.tuples(query_names, query_values), max_size=4).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv)),
    st.sampled_from(["limit=1&" * 3000, "x=" + "A" * 20000, "&&&", "=", "limit"]),
)
# Header values as a server passes them on: any bytes but CR, LF and NUL, read as Latin-1.
header_bytes = st.binary(max_size=40).map(lambda b: b.translate(None, b"\r\n\x00").decode("latin-1"))
header_values = {
    "If-None-Match": st.one_of(header_bytes, st.sampled_from(["*", 'W/"x"', '"', '""', ",,,", "W/", '"a", W/"b"'])),
    "If-Modified-Since": st.one_of(header_bytes, st.sampled_from([
        "Sat, 01 Jan 10000 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "0",
        "Thu, 01 Jan 1970 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Mon, 32 Foo 2024 25:61:61 GMT"])),
    "Accept-Encoding": st.one_of(header_bytes, st.sampled_from(
        ["gzip;q=abc", "gzip;q=nan", "gzip;q=1e999", "gzip;q=-1", "*", "gzip, deflate, br", ";;;", "gzip;q=0"])),
    "If-Match": header_bytes,
    "Range": st.one_of(header_bytes, st.sampled_from(["bytes=0-0", "bytes=-1", "bytes=5-1", "bytes=99999999999999999999-"])),
    "Accept": header_bytes,
    "Origin": header_bytes,
    "Host": header_bytes,
    "X-Forwarded-For": header_bytes,
    "Content-Length": st.sampled_from(["-1", "abc", "99999999999", "0", "3"]),
}
headers_strategy = st.fixed_dictionaries({}, optional={k: v for k, v in header_values.items()})
# Half the requests go to real documents, so conditional GET, gzip and ?limit meet the handlers behind them.
REAL = [
    "/", "/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json", "/feeds/all/archive/1.atom", "/feeds/all/archive/2.json",
    "/feeds/ministries/molit.rss", "/feeds/ministries/mltm.atom", "/feeds/topics/maps/archive/1.rss", "/feeds.opml",
    "/ministries/ngii", "/topics/maps", "/articles/a00001", "/embed/all.html", "/embed/topics/maps.html", "/embed.js",
    "/healthz", "/static/style.css",
]
paths = st.one_of(st.sampled_from(REAL), paths)
methods = st.sampled_from(["GET"] * 6 + ["HEAD"] * 2 + ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "BREW", "get"])


@settings(max_examples=10_000, deadline=None)
@given(method=methods, path=paths, query=queries, headers=headers_strategy)
def test_generated_requests_never_get_a_5xx(app, method, path, query, headers):
    status, response_headers, body = call(app, environ(path, method=method, query=query, headers=headers))
    event(f"status {status}")
    assert_sane(status, response_headers, body, (method, path[:300], query[:300], headers))
