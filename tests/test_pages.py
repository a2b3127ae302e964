"""HTML pages, /healthz, and the CLI's get and check-store."""

from __future__ import annotations

import json
import re

from feedservice.cli import cli
from conftest import BUNDLED_STORE


def test_index_shows_all_ten_headlines_each_linking_to_its_page(bundled_client):
    resp = bundled_client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    links = re.findall(r'<a class="headline" href="([^"]+)">', html)
    assert len(links) == 10
    for link in links:
        path = link.replace("https://feeds.smartcity.go.kr", "")
        page = bundled_client.get(path)
        assert page.status_code == 200, path
    for fmt, ctype in (("atom", "application/atom+xml"), ("rss", "application/rss+xml"), ("json", "application/feed+json")):
        assert f'<link rel="alternate" type="{ctype}"' in html
        assert f"/feeds/all.{fmt}" in html


def test_selection_pages_advertise_their_own_feeds(client):
    html = client.get("/ministries/ngii").get_data(as_text=True)
    assert 'href="https://feeds.example.go.kr/feeds/ministries/ngii.atom"' in html
    html = client.get("/topics/maps").get_data(as_text=True)
    assert "/feeds/topics/maps.rss" in html and "Maps &amp; Surveys" in html


def test_titles_are_escaped_text(client):
    html = client.get("/articles/a00001").get_data(as_text=True)
    assert "&lt;rails&gt;" in html and "<rails>" not in html


def test_unknown_names_are_404_with_a_helpful_page(client):
    for path in ("/ministries/nope", "/topics/nope", "/articles/nope", "/nope", "/feeds/nope.atom",
                 "/feeds/all.xml", "/feeds/ministries/nope.rss"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert "see /" in resp.get_data(as_text=True)


def test_healthz_reports_version_and_count(client, app):
    body = json.loads(client.get("/healthz").get_data())
    assert body["status"] == "ok"
    assert body["articles"] == 3
    assert body["version"] == app.extensions["feedservice"].store.version


def test_html_pages_send_security_headers(client):
    resp = client.get("/")
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def test_cli_get_exit_codes(runner, store_path):
    ok = runner.invoke(cli, ["get", "/feeds/all.json", "--store", str(store_path)])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["version"] == "https://jsonfeed.org/version/1.1"
    missing = runner.invoke(cli, ["get", "/nope", "--store", str(store_path)])
    assert missing.exit_code == 1


def test_check_store_accepts_the_bundled_store(runner):
    result = runner.invoke(cli, ["check-store", str(BUNDLED_STORE)])
    assert result.exit_code == 0
    assert "ok: 10 articles" in result.stdout


def test_check_store_refuses_a_broken_store(runner, write_store, store_dict):
    store_dict["articles"][0]["topics"] = ["geo"]
    path = write_store(store_dict)
    result = runner.invoke(cli, ["check-store", str(path)])
    assert result.exit_code == 1
    assert "topics[0]: unknown topic 'geo'" in result.stdout
    assert "Traceback" not in result.output
