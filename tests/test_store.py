"""The store loader: the bundled newsletter, and problems reported with place and fix."""

from __future__ import annotations

import datetime as dt

import pytest

from feedservice.errors import StoreError
from feedservice.loader import load_store, parse_store
from conftest import BUNDLED_STORE, make_store_dict

KST = dt.timezone(dt.timedelta(hours=9))


def test_bundled_store_holds_newsletter_58():
    store = load_store(BUNDLED_STORE)
    assert len(store.articles) == 10
    assert store.portal.title == "Smart City Comprehensive Portal"
    assert store.portal.language == "en"
    assert set(store.ministries) >= {"molit", "ngii", "krihs"}
    assert 6 <= len(store.topics) <= 8
    for art in store.articles:
        assert art.ministries[0] == "molit" or "molit" in art.ministries
        assert 1 <= len(art.topics) <= 3
        assert dict(art.source) == {"newsletter": 58, "date": "2025-01-02"}
        assert art.published.utcoffset() == dt.timedelta(hours=9)
    first = store.articles[0]
    assert first.published == dt.datetime(2024, 2, 15, tzinfo=KST)
    assert "ngii" in first.ministries
    collection = store.article("2024-10-31-k-smart-city-collection")
    assert collection is not None and set(collection.ministries) == {"molit", "krihs", "smart-city-association"}
    for art in store.articles:  # the machine-translation debris is repaired
        assert "이다" not in art.summary and "My4Tea" not in art.summary


def test_articles_are_ordered_oldest_first_ties_by_id():
    doc = make_store_dict(0)
    for art_id in ("b", "a", "c"):
        doc["articles"].append({"id": art_id, "title": art_id, "published": "2024-01-01", "ministries": ["molit"],
                                "topics": ["policy"], "summary": "s"})
    import json

    store = parse_store(json.dumps(doc).encode())
    assert [a.id for a in store.articles] == ["a", "b", "c"]


def _problems(doc) -> list[str]:
    import json

    with pytest.raises(StoreError) as info:
        parse_store(json.dumps(doc).encode(), "data/articles.json")
    return info.value.problems


def test_bad_date_names_article_field_and_fix():
    doc = make_store_dict(4)
    doc["articles"][3]["id"] = "2024-05-23-solution-expansion"
    doc["articles"][3]["published"] = "15/02/2024"
    assert _problems(doc) == [
        "data/articles.json: articles[3] (2024-05-23-solution-expansion): published: '15/02/2024' is not an "
        "RFC 3339 date; write 2024-02-15 or 2024-02-15T09:00:00+09:00"
    ]


def test_every_problem_is_reported_at_once():
    doc = make_store_dict(3)
    doc["articles"][0]["ministries"] = ["molt"]
    doc["articles"][1]["updated"] = "2000-01-01"
    doc["articles"][2]["title"] = "bad \x01 char"
    problems = _problems(doc)
    assert len(problems) == 3
    assert "articles[0] (a00000): ministries[0]: unknown ministry 'molt'; did you mean 'molit'?" in problems[0]
    assert "articles[1] (a00001): updated: 2000-01-01 is before published" in problems[1]
    assert "articles[2] (a00002): title: contains U+0001 at character 5, which XML cannot carry" in problems[2]


def test_json_syntax_error_gives_line_and_column():
    with pytest.raises(StoreError) as info:
        parse_store(b'{\n  "portal": {,\n}', "s.json")
    assert str(info.value).startswith("s.json: line 2, column 14: ")


def test_naive_datetime_is_refused_with_offset_fix():
    doc = make_store_dict(1)
    doc["articles"][0]["published"] = "2024-02-15T09:00:00"
    assert "published: '2024-02-15T09:00:00' has no UTC offset; write 2024-02-15T09:00:00+09:00" in _problems(doc)[0]


def test_bare_date_is_midnight_in_portal_zone_and_rfc3339_is_converted():
    doc = make_store_dict(2)
    doc["articles"][0]["published"] = "2024-02-15"
    doc["articles"][1]["published"] = "2024-02-15T00:30:00Z"
    import json

    store = parse_store(json.dumps(doc).encode())
    dates = {a.id: a.published for a in store.articles}
    assert dates["a00000"] == dt.datetime(2024, 2, 15, tzinfo=KST)
    assert dates["a00001"] == dt.datetime(2024, 2, 15, 9, 30, tzinfo=KST)
    assert dates["a00001"].utcoffset() == dt.timedelta(hours=9)


def test_content_html_is_sanitized():
    doc = make_store_dict(1)
    doc["articles"][0]["content_html"] = '<p onclick="x()">hi<script>alert(1)</script><a href="javascript:x">l</a></p>'
    import json

    art = parse_store(json.dumps(doc).encode()).articles[0]
    assert "script" not in art.content_html and "onclick" not in art.content_html
    assert "javascript" not in art.content_html and "<p>hi" in art.content_html
