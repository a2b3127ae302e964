"""Feeds that survive change: renames and mergers answer 301, withdrawals leave tombstones, corrections update."""

from __future__ import annotations

import copy
import json

import pytest

from feedservice import create_app
from feedservice.errors import StoreError
from feedservice.loader import parse_store
from conftest import make_store_dict
from feedcheck import parse

OLD_URLS = [
    ("/feeds/ministries/{old}.atom", "/feeds/ministries/{new}.atom"),
    ("/feeds/ministries/{old}.rss", "/feeds/ministries/{new}.rss"),
    ("/feeds/ministries/{old}.json?limit=5", "/feeds/ministries/{new}.json?limit=5"),
    ("/feeds/ministries/{old}/archive/1.atom", "/feeds/ministries/{new}/archive/1.atom"),
    ("/ministries/{old}", "/ministries/{new}"),
    ("/embed/ministries/{old}.html", "/embed/ministries/{new}.html"),
]


def _app(write_store, doc, **config):
    return create_app({"STORE": str(write_store(doc)), "RELOAD_SECONDS": 0, "PAGE_SIZE": 2, **config})


def _renamed(doc):
    """The store after a reorganisation: ngii became 'ngii-new', mltm merged into molit, maps became geo."""
    doc = copy.deepcopy(doc)
    ministries = {m["slug"]: m for m in doc["ministries"]}
    ministries["ngii"].update(slug="spatial", name="National Spatial Information Institute",
                              formerly=[{"slug": "ngii", "name": "National Geographic Information Institute",
                                         "until": "2025-06-30"}])
    ministries["molit"]["formerly"] = [
        {"slug": "mltm", "name": "Ministry of Land, Transport and Maritime Affairs", "until": "2013-03-23"},
        {"slug": "moct", "name": "Ministry of Construction and Transportation", "until": "2008-02-29"},
    ]
    doc["topics"][1].update(slug="geo", formerly=[{"slug": "maps", "name": "Maps & Surveys"}])
    for art in doc["articles"]:
        art["ministries"] = ["spatial" if s == "ngii" else s for s in art["ministries"]]
        art["topics"] = ["geo" if s == "maps" else s for s in art["topics"]]
    return doc


@pytest.mark.parametrize("old,new", [("ngii", "spatial"), ("mltm", "molit"), ("moct", "molit")])
@pytest.mark.parametrize("old_url,new_url", OLD_URLS)
def test_every_url_under_a_former_slug_moves_permanently(write_store, old, new, old_url, new_url):
    client = _app(write_store, _renamed(make_store_dict(6))).test_client()
    resp = client.get(old_url.format(old=old))
    assert resp.status_code == 301
    assert resp.headers["Location"] == "https://feeds.example.go.kr" + new_url.format(new=new)
    target = client.get(new_url.format(new=new))
    assert target.status_code == 200


def test_renamed_topic_moves_too(write_store):
    client = _app(write_store, _renamed(make_store_dict(6))).test_client()
    resp = client.get("/feeds/topics/maps.rss")
    assert resp.status_code == 301 and resp.headers["Location"].endswith("/feeds/topics/geo.rss")
    assert client.get("/topics/maps").headers["Location"].endswith("/topics/geo")


def test_entry_ids_survive_a_rename(write_store):
    before = _app(write_store, make_store_dict(6)).test_client()
    after = _app(write_store, _renamed(make_store_dict(6))).test_client()
    for fmt in ("atom", "rss"):
        ids_before = [e.id for e in parse(before.get(f"/feeds/all.{fmt}").get_data(), fmt).entries]
        ids_after = [e.id for e in parse(after.get(f"/feeds/all.{fmt}").get_data(), fmt).entries]
        assert ids_before == ids_after
        old = [e.id for e in parse(before.get(f"/feeds/ministries/ngii.{fmt}").get_data(), fmt).entries]
        new = [e.id for e in parse(after.get(f"/feeds/ministries/spatial.{fmt}").get_data(), fmt).entries]
        assert old == new


def test_index_and_opml_list_only_current_names_and_successor_page_mentions_former(write_store):
    client = _app(write_store, _renamed(make_store_dict(6))).test_client()
    opml = client.get("/feeds.opml").get_data(as_text=True)
    index = client.get("/").get_data(as_text=True)
    for text in (opml, index):
        assert "/ministries/ngii" not in text and "/ministries/spatial" in text
    page = client.get("/ministries/molit").get_data(as_text=True)
    assert "Formerly" in page and "Ministry of Land, Transport and Maritime Affairs" in page


def test_a_slug_is_never_reused(write_store):
    doc = _renamed(make_store_dict(2))
    doc["ministries"].append({"slug": "mltm", "name": "A different ministry"})
    with pytest.raises(StoreError) as info:
        parse_store(json.dumps(doc).encode(), "s.json")
    assert "'mltm' is the slug of a current entry in ministries; a slug is never reused" in str(info.value)
    doc = _renamed(make_store_dict(2))
    doc["ministries"][1]["formerly"].append({"slug": "mltm", "name": "Also claimed"})
    with pytest.raises(StoreError) as info:
        parse_store(json.dumps(doc).encode(), "s.json")
    assert "'mltm' is already a former slug of 'molit'" in str(info.value)
    doc = _renamed(make_store_dict(2))
    doc["articles"][0]["ministries"] = ["mltm"]
    with pytest.raises(StoreError) as info:
        parse_store(json.dumps(doc).encode(), "s.json")
    assert "'mltm' is a former name of 'molit'; write 'molit'" in str(info.value)


def _withdrawn(doc, index=1, date="2020-01-20"):
    doc = copy.deepcopy(doc)
    doc["articles"][index]["withdrawn"] = {"date": date, "reason": "Published in error."}
    return doc


def test_withdrawn_article_leaves_listings_and_its_page_is_gone(write_store):
    client = _app(write_store, _withdrawn(make_store_dict(6), index=5)).test_client()
    resp = client.get("/articles/a00005")
    assert resp.status_code == 410 and "Published in error." in resp.get_data(as_text=True)
    assert "a00005" not in client.get("/").get_data(as_text=True)
    for fmt in ("rss", "json"):
        assert b"a00005" not in client.get(f"/feeds/all.{fmt}").get_data()


def test_atom_subscription_carries_a_tombstone_for_the_period(write_store):
    client = _app(write_store, _withdrawn(make_store_dict(6), index=5)).test_client()
    body = client.get("/feeds/all.atom").get_data()
    parse(body, "atom")  # feedparser accepts it, bozo 0
    text = body.decode()
    assert ('<at:deleted-entry ref="tag:example.go.kr,2025:articles/a00005" when="2020-01-20T00:00:00+09:00">'
            in text)
    assert "<at:comment>Published in error.</at:comment>" in text
    assert "<id>tag:example.go.kr,2025:articles/a00005</id>" not in text
    # Counted from the store's newest change, not the clock: a later article pushes it out.
    doc = _withdrawn(make_store_dict(6), index=5)
    doc["articles"].append({"id": "later", "title": "Later", "published": "2020-03-01", "ministries": ["molit"],
                            "topics": ["policy"], "summary": "s"})
    later = _app(write_store, doc, TOMBSTONE_DAYS=30).test_client().get("/feeds/all.atom").get_data()
    assert b"deleted-entry" not in later


def test_withdrawal_keeps_its_archive_slot_and_changes_no_other_page(write_store):
    doc = make_store_dict(7)
    before = _app(write_store, doc).test_client()
    after = _app(write_store, _withdrawn(doc, index=2)).test_client()  # a00002 sits on page 2 (slots 2-3)
    assert before.get("/feeds/all/archive/1.atom").get_data() == after.get("/feeds/all/archive/1.atom").get_data()
    assert before.get("/feeds/all/archive/3.atom").get_data() == after.get("/feeds/all/archive/3.atom").get_data()
    page2 = after.get("/feeds/all/archive/2.atom").get_data()
    parsed = parse(page2, "atom")
    assert [e.id.rsplit("/", 1)[1] for e in parsed.entries] == ["a00003"]
    assert b'<at:deleted-entry ref="tag:example.go.kr,2025:articles/a00002"' in page2
    assert b"a00002" not in after.get("/feeds/all/archive/2.rss").get_data()


def test_updated_moves_only_for_a_correction(write_store):
    doc = make_store_dict(3)
    first = _app(write_store, doc).test_client().get("/feeds/all.atom").get_data()
    again = _app(write_store, copy.deepcopy(doc)).test_client().get("/feeds/all.atom").get_data()
    assert first == again  # a rebuild changes nothing
    doc["articles"][0]["corrections"] = [{"date": "2020-02-01T10:00:00+09:00", "note": "Date of the briefing fixed."}]
    client = _app(write_store, doc, PAGE_SIZE=50).test_client()
    entry = {e.id: e for e in parse(client.get("/feeds/all.atom").get_data(), "atom").entries}[
        "tag:example.go.kr,2025:articles/a00000"]
    assert entry.updated == "2020-02-01T10:00:00+09:00"
    assert entry.published == "2020-01-01T09:00:00+09:00"
    assert "Date of the briefing fixed." in entry.content[0].value
    for fmt in ("rss", "json"):
        assert b"Date of the briefing fixed." in client.get(f"/feeds/all.{fmt}").get_data()
    assert "Date of the briefing fixed." in client.get("/articles/a00000").get_data(as_text=True)
