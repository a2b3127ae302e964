"""The embed widget and iframe pages, without a browser: what is served, its headers, and the index snippets.

tests/test_browser.py runs the same widget and pages in headless Chromium.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import re
from pathlib import Path

import pytest

from feedservice import create_app
from conftest import make_store_dict

STATIC = Path(__file__).resolve().parent.parent / "feedservice" / "static"
BASE = "https://feeds.example.go.kr"
FEED_RE = re.compile(r"^(all|(ministries|topics)/[a-z0-9-]+)$")  # the pattern embed.js checks data-feed with


@pytest.fixture
def big_client(write_store):
    """A client over 8 articles, a00007 the newest; a00005 withdrawn; 'maps' formerly 'geo'."""
    doc = make_store_dict(8)
    doc["topics"][1]["formerly"] = [{"slug": "geo", "name": "Geography"}]
    doc["articles"][5]["withdrawn"] = {"date": "2020-02-01", "reason": "Published in error."}
    return create_app({"STORE": str(write_store(doc)), "RELOAD_SECONDS": 0}).test_client()


def _items(page: str) -> list[tuple[str, str]]:
    """Returns the (href, title) of every headline link in an iframe page, titles unescaped."""
    return [
        (href, html.unescape(text))
        for href, text in re.findall(r'<a class="feedservice-link" href="([^"]+)" target="_blank" rel="noopener">([^<]*)</a>', page)
    ]


# /embed.js


def test_embed_js_is_served_as_javascript_with_validators(client):
    resp = client.get("/embed.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.get_data() == (STATIC / "embed.js").read_bytes()
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get("/embed.js", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_embed_js_is_small_when_gzipped(client):
    resp = client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert len(resp.get_data()) < 5 * 1024
    assert gzip.decompress(resp.get_data()) == (STATIC / "embed.js").read_bytes()


@pytest.mark.parametrize(
    "forbidden",
    ["eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", ".style",
     "setAttribute('style'", "cssText", "setTimeout('", "setTimeout(\""],
)
def test_embed_js_never_parses_html_evaluates_code_or_sets_styles(forbidden):
    assert forbidden not in (STATIC / "embed.js").read_text(encoding="utf-8")


def test_embed_js_renders_with_text_and_checks_its_attributes():
    js = (STATIC / "embed.js").read_text(encoding="utf-8")
    assert "textContent" in js and "createElement" in js
    assert r"/^(all|(ministries|topics)\/[a-z0-9-]+)$/" in js
    assert "timeZone: 'Asia/Seoul'" in js
    assert "AbortController" in js and "mode: 'cors'" in js
    for cls in ("feedservice-list", "feedservice-item", "feedservice-link", "feedservice-date",
                "feedservice-ministry", "feedservice-fallback"):
        assert f"'{cls}'" in js, cls


# /embed/<selection>.html


def test_iframe_page_lists_the_newest_five_not_withdrawn(big_client):
    resp = big_client.get("/embed/all.html")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    ids = [href.rsplit("/", 1)[1] for href, _ in _items(page)]
    assert ids == ["a00007", "a00006", "a00004", "a00003", "a00002"]  # a00005 is withdrawn
    assert _items(page)[0] == (f"{BASE}/articles/a00007", "Article 7: roads & <rails> “국토” 'quoted'")
    assert '<time class="feedservice-date" datetime="2020-01-08T09:00:00+09:00">2020-01-08</time>' in page
    assert '<span class="feedservice-ministry">Ministry of Land, Infrastructure and Transport</span>' in page
    assert f'<a href="{BASE}/" target="_blank" rel="noopener">More from Test Portal</a>' in page


def test_iframe_page_escapes_titles(client):
    page = client.get("/embed/all.html").get_data(as_text=True)
    assert "roads &amp; &lt;rails&gt;" in page
    assert "<rails>" not in page and "roads & " not in page


def test_iframe_page_has_no_script_no_style_attribute_and_a_matching_style_hash(client):
    resp = client.get("/embed/topics/maps.html")
    page = resp.get_data(as_text=True)
    assert "<script" not in page and " style=" not in page
    csp = [d.strip() for d in resp.headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors *" in csp
    assert "default-src 'none'" in csp
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_iframe_page_answers_conditional_requests(client):
    resp = client.get("/embed/all.html?limit=2")
    again = client.get("/embed/all.html?limit=2", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    assert "frame-ancestors *" in again.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path, ids",
    [
        ("/embed/all.html?limit=1", ["a00007"]),
        ("/embed/all.html?limit=20", ["a00007", "a00006", "a00004", "a00003", "a00002", "a00001", "a00000"]),
        ("/embed/ministries/ngii.html", ["a00006", "a00003", "a00000"]),
        ("/embed/topics/maps.html?limit=2", ["a00006", "a00004"]),
    ],
)
def test_iframe_page_selection_and_limit(big_client, path, ids):
    page = big_client.get(path).get_data(as_text=True)
    assert [href.rsplit("/", 1)[1] for href, _ in _items(page)] == ids


@pytest.mark.parametrize("query", ["limit=0", "limit=21", "limit=-1", "limit=5.0", "limit=", "limit=abc", "limit=%EF%BC%95",
                                   "limit=5&limit=6", "limit=" + "9" * 30])
def test_iframe_page_refuses_a_bad_limit(client, query):
    resp = client.get(f"/embed/all.html?{query}")
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert body.count("\n") == 1 and "limit" in body
    assert len(body) < 200


def test_iframe_page_unknown_selection_is_404(client):
    for path in ("/embed/ministries/nope.html", "/embed/topics/nope.html", "/embed/nope.html", "/embed/all.json"):
        assert client.get(path).status_code == 404, path


def test_iframe_page_of_a_renamed_topic_moves_permanently(big_client):
    resp = big_client.get("/embed/topics/geo.html?limit=2")
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"{BASE}/embed/topics/maps.html?limit=2"


# The index page's snippets


def _snippets(page: str) -> dict[tuple[str, str], str]:
    """Returns {(feed, 'script' or 'iframe'): the snippet as it would be pasted}."""
    found = re.findall(r'<pre class="snippet" data-feed="([^"]+)" data-kind="(script|iframe)"><code>(.*?)</code></pre>', page, re.S)
    return {(feed, kind): html.unescape(code) for feed, kind, code in found}


def test_index_shows_both_snippets_for_every_feed(client, app):
    page = client.get("/").get_data(as_text=True)
    snippets = _snippets(page)
    store = app.extensions["feedservice"].store
    feeds = [sel.key for sel in store.feeds()]
    assert len(feeds) == 5
    assert set(snippets) == {(feed, kind) for feed in feeds for kind in ("script", "iframe")}
    for feed in feeds:
        assert FEED_RE.match(feed)
        assert snippets[feed, "script"] == f'<script src="{BASE}/embed.js" data-feed="{feed}" data-limit="5" async></script>'
        frame = snippets[feed, "iframe"]
        assert frame.startswith(f'<iframe src="{BASE}/embed/{feed}.html?limit=5" title="')
        # The snippet's URL works.
        assert client.get(f"/embed/{feed}.html?limit=5").status_code == 200
    # Names inside a snippet are escaped as the pasted HTML needs ("Maps & Surveys" -> "Maps &amp; Surveys").
    assert 'title="Maps &amp; Surveys: latest news"' in snippets["topics/maps", "iframe"]


def test_index_snippets_work_on_the_bundled_store(bundled_app, bundled_client):
    page = bundled_client.get("/").get_data(as_text=True)
    snippets = _snippets(page)
    assert len(snippets) == 2 * len(list(bundled_app.extensions["feedservice"].store.feeds()))
    for (feed, kind), code in snippets.items():
        if kind == "iframe":
            path = code.split('src="https://feeds.smartcity.go.kr', 1)[1].split('"', 1)[0]
            assert bundled_client.get(path).status_code == 200, path
