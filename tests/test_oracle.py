"""The service's XML writer against feedgen: both renderings of every document parse to the same feed."""

from __future__ import annotations


import feedparser
import pytest

from feedservice import create_app
from conftest import BUNDLED_STORE, make_store_dict
import feedgen_oracle

FEED_KEYS = ("title", "subtitle", "id", "link", "language", "updated", "ttl", "sy_updateperiod",
             "sy_updatefrequency", "generator")
ENTRY_KEYS = ("id", "title", "link", "links", "published", "updated", "summary", "content", "tags",
              "authors", "guidislink")


def _rich_store() -> dict:
    doc = make_store_dict(9)
    arts = doc["articles"]
    arts[1]["content_html"] = '<p>Body &amp; <a href="https://www.molit.go.kr/x?a=1&amp;b=2">link</a> "국토"</p>'
    arts[2]["url"] = "https://www.molit.go.kr/news?id=2&lang=en"
    arts[3]["updated"] = "2020-01-05T18:30:00+09:00"
    arts[4]["corrections"] = [{"date": "2020-01-08", "note": "Figure <corrected> & checked."}]
    arts[5]["withdrawn"] = {"date": "2020-01-20", "reason": "Published in error & <withdrawn>."}
    arts[6]["title"] = "Quotes \" ' and ]]> and &amp; literally"
    return doc


def _documents(app):
    fs = app.extensions["feedservice"]
    store = fs.store
    for sel in store.feeds():
        yield sel.key, None
        for page in range(1, len(sel) // fs.page_size + 1):
            yield sel.key, page


def _normalise(parsed):
    # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning.
    feed = {k: dict.get(parsed.feed, k) for k in FEED_KEYS}
    feed["links"] = sorted((ln.get("rel"), ln.get("href")) for ln in parsed.feed.get("links", []))
    entries = [{k: dict.get(e, k) for k in ENTRY_KEYS} for e in parsed.entries]
    for e in entries:
        e["links"] = sorted((ln.get("rel"), ln.get("href")) for ln in e["links"] or [])
    return feed, entries


@pytest.mark.parametrize("source", ["rich", "bundled"])
def test_every_document_parses_the_same_as_feedgens(write_store, source):
    path = write_store(_rich_store()) if source == "rich" else BUNDLED_STORE
    settings_hub = "https://hub.example.org/"
    app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "PAGE_SIZE": 2, "WEBSUB_HUB": settings_hub})
    fs = app.extensions["feedservice"]
    store = fs.store
    checked = 0
    for key, page in _documents(app):
        doc = fs.document(store, key, page, None)
        for fmt in ("atom", "rss"):
            ours = fs.feed(store, key, fmt, page).body
            theirs = feedgen_oracle.render(store, doc, fmt, fs.render_settings(store))
            a, b = feedparser.parse(ours), feedparser.parse(theirs)
            assert not a.bozo and not b.bozo
            assert _normalise(a) == _normalise(b), f"{key} page {page} {fmt}"
            if fmt == "atom":
                assert a.get("tombstones") == b.get("tombstones")
                assert ours.count(b"<at:deleted-entry") == theirs.count(b"<at:deleted-entry")
                assert ours.count(b"<fh:archive/>") == theirs.count(b"<fh:archive/>")
            checked += 1
    assert checked > 20
