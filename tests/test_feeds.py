"""Feeds: every document parses cleanly, says what the store says, and the archive reaches every article."""

from __future__ import annotations

import html
import json
import subprocess
import sys

import pytest

from feedservice import create_app
from feedservice.urls import CONTENT_TYPES
from conftest import BUNDLED_STORE, make_store_dict
from feedcheck import link, parse, walk

FORMATS = ("atom", "rss", "json")


def _expected(store, key, count):
    return store.newest(store.selection(key), count)


def _check_entries(store, site, parsed, body, fmt, expected):
    """Compares every parsed entry with the store's article, field by field."""
    assert [e.id for e in parsed.entries] == [site.entry_id(a.id) for a in expected]
    raw_items = json.loads(body)["items"] if fmt == "json" else None
    for i, (entry, art) in enumerate(zip(parsed.entries, expected)):
        assert entry.title == art.title
        assert entry.link == site.url(f"/articles/{art.id}")
        assert entry.published_parsed[:6] == art.published.utctimetuple()[:6]
        names = [store.ministries[s].name for s in art.ministries]
        if fmt == "atom":
            assert entry.updated_parsed[:6] == art.updated.utctimetuple()[:6]
            assert entry.summary == art.summary
            assert [a.name for a in entry.authors] == names
            assert [(t.term, t.label) for t in entry.tags] == [(s, store.topics[s].name) for s in art.topics]
        elif fmt == "rss":
            assert html.unescape(entry.summary) == art.summary
            assert [t.term for t in entry.tags] == [store.topics[s].name for s in art.topics]
            assert entry.guidislink is False
        else:
            item = raw_items[i]
            assert item["summary"] == art.summary
            assert item["date_modified"] == art.updated.isoformat()
            assert item["date_published"].endswith("+09:00")
            assert [a["name"] for a in item["authors"]] == names
            assert item["tags"] == [store.topics[s].name for s in art.topics]
            if art.content_html is None:
                assert item["content_text"] == art.summary
            else:
                assert item["content_html"] == art.content_html


def _check_all_feeds(app):
    fs = app.extensions["feedservice"]
    store, site = fs.store, fs.site(fs.store)
    client = app.test_client()
    for sel in store.feeds():
        for fmt in FORMATS:
            path = f"/feeds/{sel.key}.{fmt}"
            resp = client.get(path)
            assert resp.status_code == 200, path
            assert resp.headers["Content-Type"] == CONTENT_TYPES[fmt]
            body = resp.get_data()
            parsed = parse(body, fmt)
            _check_entries(store, site, parsed, body, fmt, _expected(store, sel.key, fs.page_size))
            assert link(parsed, "self") == site.url(path)
            ids, docs = walk(client, site.base_url, path, fmt)
            assert set(ids) == {site.entry_id(store.articles[p].id) for p in sel.positions}, path
            assert docs == 1 + len(sel) // fs.page_size


def test_bundled_store_feeds_round_trip(bundled_app):
    _check_all_feeds(bundled_app)


@pytest.fixture(scope="module")
def big_app(tmp_path_factory):
    doc = make_store_dict(2000)
    for i, art in enumerate(doc["articles"]):
        if i % 10 == 0:
            art["content_html"] = f"<p>Body {i} &amp; <em>more</em> 국토</p>"
        if i % 7 == 0:
            art["updated"] = art["published"].replace("T09:", "T18:")
        if i % 13 == 0:
            art["url"] = f"https://www.molit.go.kr/news/{i}"
    path = tmp_path_factory.mktemp("big") / "articles.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return create_app({"STORE": str(path), "RELOAD_SECONDS": 0})


def test_generated_store_feeds_round_trip_and_archives_are_complete(big_app):
    _check_all_feeds(big_app)


def test_archive_pages_are_fixed_slices_from_the_oldest(big_app):
    client = big_app.test_client()
    fs = big_app.extensions["feedservice"]
    store, site = fs.store, fs.site(fs.store)
    body = client.get("/feeds/all/archive/1.atom").get_data()
    parsed = parse(body, "atom")
    assert [e.id for e in parsed.entries] == [site.entry_id(a.id) for a in reversed(store.articles[:50])]
    raw = body.decode()
    assert "<fh:archive/>" in raw
    assert link(parsed, "current") == site.url("/feeds/all.atom")
    assert link(parsed, "next-archive") == site.url("/feeds/all/archive/2.atom")
    assert link(parsed, "prev-archive") is None
    last = len(store.articles) // 50
    parsed = parse(client.get(f"/feeds/all/archive/{last}.rss").get_data(), "rss")
    assert link(parsed, "next-archive") is None and link(parsed, "prev-archive").endswith(f"/archive/{last - 1}.rss")
    for missing in (0, last + 1, 10**8):
        assert client.get(f"/feeds/all/archive/{missing}.atom").status_code == 404
    assert client.get("/feeds/all/archive/01.atom").status_code == 404


@pytest.mark.parametrize("value,status", [("1", 200), ("200", 200), ("0", 400), ("201", 400), ("-1", 400),
                                          ("abc", 400), ("1.5", 400), ("", 400), ("９", 400), ("99999999999", 400)])
def test_limit_parameter(client, value, status):
    resp = client.get(f"/feeds/all.json?limit={value}")
    assert resp.status_code == status
    if status == 400:
        assert "limit must be a whole number from 1 to 200" in resp.get_data(as_text=True)


def test_limit_returns_the_newest_n(big_app):
    client = big_app.test_client()
    items = json.loads(client.get("/feeds/topics/maps.json?limit=7").get_data())["items"]
    assert len(items) == 7
    assert client.get("/feeds/all.atom?limit=5&limit=6").status_code == 400
    assert client.get("/feeds/all/archive/1.atom?limit=5").status_code == 400


def test_text_is_escaped_exactly_once(client):
    for fmt in ("atom", "rss"):
        raw = client.get(f"/feeds/all.{fmt}").get_data().decode()
        assert "roads &amp; &lt;rails&gt;" in raw
        assert "&amp;amp;" not in raw if fmt == "atom" else True


def test_dates_are_in_korean_time_with_offset(client):
    atom = client.get("/feeds/all.atom").get_data().decode()
    assert "<published>2020-01-03T09:00:00+09:00</published>" in atom
    rss = client.get("/feeds/all.rss").get_data().decode()
    assert "<pubDate>Fri, 03 Jan 2020 09:00:00 +0900</pubDate>" in rss


def test_ids_do_not_depend_on_the_base_url(store_path):
    a = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0})
    b = create_app({"STORE": str(store_path), "RELOAD_SECONDS": 0, "BASE_URL": "https://elsewhere.example.org"})
    ids_a = [e.id for e in parse(a.test_client().get("/feeds/all.atom").get_data(), "atom").entries]
    ids_b = [e.id for e in parse(b.test_client().get("/feeds/all.atom").get_data(), "atom").entries]
    assert ids_a == ids_b and ids_a[0].startswith("tag:example.go.kr,2025:articles/")


def test_host_header_never_enters_a_body(client):
    plain = client.get("/feeds/all.atom").get_data()
    forged = client.get("/feeds/all.atom", headers={"Host": "evil.example"}).get_data()
    assert plain == forged and b"evil" not in forged


DUMP = """
import hashlib, sys
from feedservice import create_app
app = create_app({"STORE": sys.argv[1], "RELOAD_SECONDS": 0})
c = app.test_client()
for path in sys.argv[2:]:
    print(path, hashlib.sha256(c.get(path).get_data()).hexdigest())
"""


def test_two_processes_produce_identical_bytes():
    paths = [f"/feeds/{k}.{f}" for k in ("all", "ministries/ngii", "topics/smart-city-policy") for f in FORMATS]
    paths.append("/feeds.opml")
    outs = []
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        result = subprocess.run([sys.executable, "-c", DUMP, str(BUNDLED_STORE), *paths], capture_output=True,
                                text=True, env=env, timeout=60, check=True)
        outs.append(result.stdout)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == len(paths)


def test_opml_lists_every_feed(bundled_client):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(bundled_client.get("/feeds.opml").get_data())
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert len(urls) == 3 * (1 + 4 + 7)
    for o in root.iter("outline"):
        if o.get("xmlUrl"):
            assert o.get("type") == "rss" and o.get("title") and o.get("htmlUrl")
