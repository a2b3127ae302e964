"""HTTP for polling aggregators: conditional GET, gzip, Cache-Control, CORS, methods, the render cache."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from werkzeug.http import http_date

from feedservice import create_app
from feedservice.cache import RenderCache, Rendered

FEED = "/feeds/all.atom"


def _headers(resp) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k != "Date"}


def test_fast_path_and_flask_path_send_the_same_headers(client):
    first = client.get(FEED)  # rendered by Flask
    second = client.get(FEED)  # answered from the cache before routing
    assert first.get_data() == second.get_data()
    assert _headers(first) == _headers(second)
    for path in ("/feeds/all.json", "/feeds/topics/maps.rss", "/feeds.opml"):
        assert _headers(client.get(path)) == _headers(client.get(path))


def test_etag_is_a_hash_of_the_body(client):
    resp = client.get(FEED)
    assert resp.headers["ETag"] == f'"{hashlib.sha256(resp.get_data()).hexdigest()[:32]}"'


def test_same_etag_from_two_app_instances(store_path):
    a = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0})
    b = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0})
    for path in (FEED, "/feeds/all.rss", "/feeds/all.json"):
        assert a.test_client().get(path).headers["ETag"] == b.test_client().get(path).headers["ETag"]


def _validators(client):
    resp = client.get(FEED)
    return resp.headers["ETag"], resp.headers["Last-Modified"]


@pytest.mark.parametrize("warm", [False, True], ids=["flask-path", "fast-path"])
@pytest.mark.parametrize(
    "make_headers,status",
    [
        (lambda etag, lm: {"If-None-Match": etag}, 304),
        (lambda etag, lm: {"If-None-Match": f'"other", {etag}'}, 304),
        (lambda etag, lm: {"If-None-Match": "*"}, 304),
        (lambda etag, lm: {"If-None-Match": f"W/{etag}"}, 304),
        (lambda etag, lm: {"If-None-Match": '"stale"'}, 200),
        (lambda etag, lm: {"If-Modified-Since": lm}, 304),
        (lambda etag, lm: {"If-Modified-Since": http_date(4102444800)}, 304),
        (lambda etag, lm: {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200),
        (lambda etag, lm: {"If-Modified-Since": "not a date"}, 200),
        # If-None-Match takes precedence: a stale ETag wins over a fresh date (RFC 9110 section 13.2.2).
        (lambda etag, lm: {"If-None-Match": '"stale"', "If-Modified-Since": lm}, 200),
        (lambda etag, lm: {"If-Match": '"stale"'}, 412),
        (lambda etag, lm: {"If-Match": etag}, 200),
        (lambda etag, lm: {"If-Match": "*"}, 200),
        (lambda etag, lm: {"If-Match": f"W/{etag}"}, 412),  # If-Match compares strongly
        (lambda etag, lm: {"If-Match": etag, "If-None-Match": etag}, 304),
        (lambda etag, lm: {"If-Unmodified-Since": lm}, 200),
        (lambda etag, lm: {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 412),
        (lambda etag, lm: {"If-Unmodified-Since": "not a date"}, 200),
        # If-Match takes precedence over If-Unmodified-Since (RFC 9110 section 13.2.2).
        (lambda etag, lm: {"If-Match": etag, "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200),
    ],
    ids=["inm", "inm-list", "inm-star", "inm-weak", "inm-stale", "ims-equal", "ims-later", "ims-earlier",
         "ims-garbage", "inm-beats-ims", "if-match-stale", "if-match", "if-match-star", "if-match-weak",
         "if-match-and-inm", "ius-equal", "ius-earlier", "ius-garbage", "if-match-beats-ius"],
)
def test_conditional_get(app, make_headers, status, warm):
    client = app.test_client()
    etag, lm = _validators(client)
    if not warm:
        app.extensions["feedservice"].cache._lru.clear()
    resp = client.get(FEED, headers=make_headers(etag, lm))
    assert resp.status_code == status
    if status == 304:
        assert resp.get_data() == b""
        assert resp.headers["ETag"] == etag
        assert resp.headers["Cache-Control"] == "public, max-age=300"
        assert resp.headers["Vary"] == "Accept-Encoding"


def test_gzip_body_equals_plain_body_and_has_its_own_etag(client):
    plain = client.get(FEED)
    zipped = client.get(FEED, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data())
    assert client.get(FEED, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304
    refused = client.get(FEED, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_gzip_bytes_are_deterministic(store_path):
    bodies = [
        create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0}).test_client()
        .get(FEED, headers={"Accept-Encoding": "gzip"}).get_data()
        for _ in range(2)
    ]
    assert bodies[0] == bodies[1]


def test_head_sends_the_headers_of_get_without_a_body(client):
    get = client.get(FEED)
    for _ in range(2):  # flask path, then fast path
        head = client.head(FEED)
        assert head.status_code == 200 and head.get_data() == b""
        assert _headers(head) == _headers(get)


def test_cache_control(app):
    client = create_app({"STORE": app.extensions["feedservice"].live.path, "RELOAD_SECONDS": 0, "PAGE_SIZE": 1}).test_client()
    assert client.get(FEED).headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/feeds/all/archive/1.atom").headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_max_age_setting(store_path):
    client = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "MAX_AGE": 900}).test_client()
    assert client.get(FEED).headers["Cache-Control"] == "public, max-age=900"
    assert "<ttl>15</ttl>" in client.get("/feeds/all.rss").get_data(as_text=True)


@pytest.mark.parametrize("path", [FEED, "/feeds/ministries/ngii.json", "/feeds.opml"])
def test_cors(client, path):
    assert client.get(path).headers["Access-Control-Allow-Origin"] == "*"
    pre = client.options(path, headers={"Origin": "https://city.example", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(client, method):
    client.get(FEED)  # cached: the fast path must still leave other methods to Flask
    resp = client.open(FEED, method=method)
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_unknown_query_parameters_share_one_cache_entry(app):
    client = app.test_client()
    cache = app.extensions["feedservice"].cache
    client.get(FEED)
    before = len(cache)
    for i in range(2000):
        assert client.get(f"{FEED}?cachebuster={i}").status_code == 200
    assert len(cache) == before


def _rendered(i: int) -> Rendered:
    import datetime as dt

    body = (f"document {i} " * 30).encode()
    return Rendered.make(body, "application/atom+xml", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "public")


def test_cache_stays_within_its_byte_bound_under_100000_keys():
    bound = 2 * 1024 * 1024
    cache = RenderCache(bound)
    for i in range(100_000):
        cache.get_or_make(("v", "all", "atom", None, i), lambda i=i: _rendered(i))
        assert cache.bytes_used <= bound
    assert 0 < len(cache) < 100_000
    assert cache.peek(("v", "all", "atom", None, 99_999)) is not None  # newest kept
    assert cache.peek(("v", "all", "atom", None, 0)) is None  # oldest evicted first
