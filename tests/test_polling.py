"""The polling contract: one refresh interval everywhere, WebSub on change, 429 with Retry-After."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from feedservice import create_app
from feedservice.config import ConfigError
from conftest import make_store_dict
from test_reload import _replace, _wait_for


@pytest.mark.parametrize("max_age,period,frequency,ttl", [(300, "hourly", 12, 5), (3600, "hourly", 1, 60),
                                                          (7200, "daily", 12, 120), (86400, "daily", 1, 1440)])
def test_one_refresh_interval_said_everywhere(store_path, max_age, period, frequency, ttl):
    client = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "MAX_AGE": max_age}).test_client()
    for fmt in ("atom", "rss"):
        resp = client.get(f"/feeds/all.{fmt}")
        body = resp.get_data(as_text=True)
        assert resp.headers["Cache-Control"] == f"public, max-age={max_age}"
        assert f"<sy:updatePeriod>{period}</sy:updatePeriod>" in body
        assert f"<sy:updateFrequency>{frequency}</sy:updateFrequency>" in body
    assert f"<ttl>{ttl}</ttl>" in client.get("/feeds/all.rss").get_data(as_text=True)
    sy = json.loads(client.get("/feeds/all.json").get_data())["_syndication"]
    assert (sy["update_period"], sy["update_frequency"]) == (period, frequency)


def test_archive_pages_say_a_year_everywhere(store_path):
    client = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "PAGE_SIZE": 1}).test_client()
    rss = client.get("/feeds/all/archive/1.rss")
    assert rss.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    body = rss.get_data(as_text=True)
    assert "<ttl>525600</ttl>" in body and "<sy:updatePeriod>yearly</sy:updatePeriod>" in body


class _Hub:
    """A WebSub hub stand-in on 127.0.0.1 that records publish notifications; fails the first N on request."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, list[str]]] = []
        self.fail_first = fail_first
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if hub.fail_first > 0:
                    hub.fail_first -= 1
                    self.send_response(503)
                else:
                    hub.received.append(form)
                    self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def urls(self) -> set[str]:
        return {form["hub.url"][0] for form in self.received}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    h = _Hub()
    yield h
    h.close()


def test_feeds_advertise_the_hub(store_path, hub):
    client = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "WEBSUB_HUB": hub.url}).test_client()
    for fmt in ("atom", "rss"):
        body = client.get(f"/feeds/ministries/ngii.{fmt}").get_data(as_text=True)
        assert re.search(rf'<(atom:)?link rel="hub" href="{re.escape(hub.url)}"', body)
        assert 'rel="self"' in body
    doc = json.loads(client.get("/feeds/ministries/ngii.json").get_data())
    assert doc["hubs"] == [{"type": "WebSub", "url": hub.url}]


def test_store_change_notifies_the_hub_of_the_changed_feeds_only(write_store, hub, tmp_path):
    doc = make_store_dict(6)
    path = write_store(doc)
    app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "WEBSUB_HUB": hub.url})
    app.extensions["feedservice"].notifier.claim_dir = str(tmp_path / "claims")
    doc["articles"][1]["title"] = "Corrected headline"  # a00001: molit only, topic policy only
    _replace(path, doc)
    started = time.monotonic()
    assert app.extensions["feedservice"].live.check() is True
    assert time.monotonic() - started < 1.0  # the reload does not wait for the hub
    base = "https://feeds.example.go.kr/feeds/"
    expected = {f"{base}{key}.{fmt}" for key in ("all", "ministries/molit", "topics/policy")
                for fmt in ("atom", "rss", "json")}
    assert _wait_for(lambda: hub.urls() == expected, timeout=5)
    assert all(form["hub.mode"] == ["publish"] for form in hub.received)
    assert not any("ngii" in u or "maps" in u for u in hub.urls())


def test_hub_failures_are_retried_with_backoff(write_store, tmp_path):
    hub = _Hub(fail_first=2)
    try:
        doc = make_store_dict(3)
        path = write_store(doc)
        app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "WEBSUB_HUB": hub.url})
        notifier = app.extensions["feedservice"].notifier
        notifier.claim_dir, notifier.backoff = str(tmp_path / "claims"), 0.05
        doc["articles"][0]["title"] = "Changed"  # a00000: molit+ngii, maps+policy: every feed
        _replace(path, doc)
        app.extensions["feedservice"].live.check()
        assert _wait_for(lambda: len(hub.urls()) == 15, timeout=5)
    finally:
        hub.close()


def test_only_one_worker_notifies(write_store, hub, tmp_path):
    doc = make_store_dict(3)
    path = write_store(doc)
    apps = [create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "WEBSUB_HUB": hub.url}) for _ in range(2)]
    for app in apps:
        app.extensions["feedservice"].notifier.claim_dir = str(tmp_path / "claims")
    doc["articles"][2]["summary"] = "Changed summary"
    _replace(path, doc)
    for app in apps:
        app.extensions["feedservice"].live.check()
    assert _wait_for(lambda: len(hub.received) >= 9, timeout=5)
    time.sleep(0.3)
    assert len(hub.received) == len(hub.urls())  # nothing sent twice


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limited_app(store_path, rate="60/minute", **extra):
    app = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "RATE_LIMIT": rate, **extra})
    clock = _Clock()
    app.extensions["feedservice"].limiter.clock = clock
    return app, clock


def test_a_polite_poller_is_never_limited(store_path):
    app, clock = _limited_app(store_path, "10/minute")
    client = app.test_client()
    etag = client.get("/feeds/all.atom").headers["ETag"]
    for _ in range(500):  # every 6 s, for 50 minutes, as the budget allows
        clock.now += 6
        assert client.get("/feeds/all.atom", headers={"If-None-Match": etag}).status_code == 304
    for _ in range(50):  # even full fetches at the budget's pace
        clock.now += 6
        assert client.get("/feeds/all.atom").status_code == 200


def test_a_hammering_poller_gets_429_with_a_correct_retry_after(store_path):
    app, clock = _limited_app(store_path, "60/minute")
    client = app.test_client()
    statuses = [client.get("/feeds/all.rss").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    resp = client.get("/feeds/all.rss")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"  # 1 token per second
    assert "too many requests" in resp.get_data(as_text=True)
    clock.now += 1
    assert client.get("/feeds/all.rss").status_code == 200
    assert client.get("/feeds/all.rss").status_code == 429
    assert client.get("/healthz").status_code == 200  # health checks are never limited


def test_304s_cost_less_than_200s(store_path):
    app, clock = _limited_app(store_path, "10/minute")
    client = app.test_client()
    etag = client.get("/feeds/all.atom").headers["ETag"]
    statuses = [client.get("/feeds/all.atom", headers={"If-None-Match": etag}).status_code for _ in range(40)]
    # 9 tokens left after the first 200; a 304 costs a quarter: 33 revalidations where 200s would get 9.
    assert statuses[:33] == [304] * 33 and statuses[33] == 429


def test_retry_after_for_a_slow_budget(store_path):
    app, clock = _limited_app(store_path, "2/hour")
    client = app.test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/").headers["Retry-After"] == "1800"


def test_clients_are_told_apart_by_the_trusted_proxy_header(store_path):
    app, clock = _limited_app(store_path, "1/minute", CLIENT_IP_HEADER="X-Forwarded-For")
    client = app.test_client()
    assert client.get("/", headers={"X-Forwarded-For": "spoofed, 10.0.0.1"}).status_code == 200
    assert client.get("/", headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 429
    assert client.get("/", headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 200


def test_bad_rate_limit_setting_is_refused(store_path):
    with pytest.raises(ConfigError, match="FEEDSERVICE_RATE_LIMIT: '120 per minute' is not a budget like 120/minute"):
        create_app({"STORE": str(store_path), "RATE_LIMIT": "120 per minute"})


def test_healthz_feeds_tells_quiet_from_dead(client):
    body = client.get("/healthz/feeds").get_json()
    feeds = {f["feed"]: f for f in body["feeds"]}
    assert set(feeds) == {"all", "ministries/molit", "ministries/ngii", "topics/policy", "topics/maps"}
    assert feeds["all"]["entries"] == 3
    assert feeds["all"]["newest_entry"] == "2020-01-03T09:00:00+09:00"
    assert feeds["all"]["newest_entry_age_seconds"] > 0
    assert feeds["ministries/ngii"]["entries"] == 1
    assert feeds["ministries/ngii"]["last_change"] == "2020-01-01T09:00:00+09:00"
