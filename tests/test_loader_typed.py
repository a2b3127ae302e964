"""The typed path (``loader_typed``) and its bulk date reading give what the detailed check gives.

``tests/test_loader_equivalence.py`` compares whole stores; here, the pieces where msgspec's reading stands in
for the detailed check's: dates read in one call, and articles the Structs or the typed checks refuse in the
middle of a chunk, which must not put the others out of step.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random

import msgspec

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedservice import loader, loader_typed
from feedservice.loader_fast import Context, date_reader, dates_reader
from test_loader_equivalence import LAYOUTS, _generated, _lines, _summary, compare  # noqa: F401 (compare is a fixture)

ZONES = [
    dt.timezone(dt.timedelta(hours=9)), dt.timezone(dt.timedelta(hours=-5, minutes=-30)), dt.timezone.utc,
    dt.timezone(dt.timedelta(hours=9), "KST"),  # a name msgspec's tzinfo does not have: converted, not kept
]
TEMPLATES = [
    "2024-02-15", "2024-02-15T09:00:00+09:00", "2024-02-15T09:00:00Z", "2024-02-15t23:59:59-05:30",
    "1900-01-01 00:00:00+00:00", "2999-12-31T23:59:59z", "2024-02-15T09:00:00.1234Z", "2024-02-15T09:00:00.12345",
]
# Characters a date may hold, and some it may not: other digits, separators, letters.
ALPHABET = "0123456789" * 3 + "-:Tt Zz+.x,_\u0660\uff10"


def _mutated(rng: random.Random) -> str:
    chars = list(rng.choice(TEMPLATES))
    for _ in range(rng.randint(0, 3)):
        chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
    return "".join(chars)


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_dates_read_in_bulk_are_those_read_one_by_one(zone):
    date, dates = date_reader(zone), dates_reader(zone)
    rng = random.Random(f"dates:{zone}")
    accepted = 0
    for _ in range(20000):
        value = _mutated(rng)
        one = date(value)
        bulk = dates([value])
        if bulk is not None:  # bulk may refuse more, never accept more or differ
            accepted += 1
            assert one is not None and repr(bulk[0]) == repr(one), value
            # the zone's own offset (msgspec's tzinfo for it is equal to the zone, not always the same object)
            assert bulk[0].tzinfo == zone and bulk[0].tzname() == one.tzname() == zone.tzname(None)
    assert accepted > 1000


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(TEMPLATES), st.text(ALPHABET, min_size=10, max_size=25)), max_size=5))
def test_a_list_of_dates_is_read_whole_or_not_at_all(values):
    zone = ZONES[0]
    date, dates = date_reader(zone), dates_reader(zone)
    bulk = dates(values)
    if bulk is not None:
        assert [repr(d) for d in bulk] == [repr(date(v)) for v in values]


def test_a_named_zone_reads_dates_one_by_one():
    from zoneinfo import ZoneInfo

    assert dates_reader(ZoneInfo("Asia/Seoul"))(["2024-02-15"]) is None


def _mixed(n: int) -> dict:
    """A generated store in which some articles are sound but not for the typed path (the dict fast path or the
    detailed check builds them), among articles with an ``updated`` date."""
    doc = _generated(n, seed=7)
    odd = [
        ("url", "https://www.molit.go.kr:8080/a"),  # a port: the detailed check's
        ("url", None),  # a null: the Structs refuse it
        ("source", {"n": 1, "m": None}),  # refused by both: the store has a problem
        ("updated", None),
        ("content_html", None),
        ("title", "Caf\u00e9 \u00b7 notes"),  # text the checks must look at
        ("title", "\u00c3\u00a9 \uad6d\ud1a0"),  # looks like mojibake, is not: refused before its dates are taken
    ]
    for i, art in enumerate(doc["articles"]):
        art["updated"] = f"2030-01-{1 + i % 28:02d}T{i % 24:02d}:00:00+09:00"  # each its own, to be told apart
        if i % 5 == 1:
            field, value = odd[(i // 5) % len(odd)]
            if field != "source":
                art[field] = copy.deepcopy(value)
    return doc


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
@pytest.mark.parametrize("layout", ["lines", "compact"])
def test_articles_the_typed_path_refuses_leave_the_others_in_step(compare, monkeypatch, chunk, layout):
    monkeypatch.setattr(loader_typed, "CHUNK", chunk)
    doc = _mixed(60)
    kind, _ = compare(LAYOUTS[layout](doc), before=LAYOUTS[layout](_generated(60, seed=7)))
    assert kind == "store"
    bad = copy.deepcopy(doc)
    bad["articles"][6]["source"] = {"n": 1, "m": None}
    bad["articles"][30]["updated"] = "2000-01-01"  # before published
    kind, problems = compare(LAYOUTS[layout](bad))
    assert kind == "problems" and len(problems) == 2


def test_keys_given_twice_in_an_article_the_typed_path_reads(compare):
    doc = _generated(20)
    text = _lines(doc).decode()
    first = json.dumps(doc["articles"][4], ensure_ascii=False)
    twice = first.replace('"title": ', '"summary": "Shadowed", "title": ', 1)
    kind, problems = compare(text.replace(first, twice, 1).encode())
    assert kind == "problems" and any("given twice" in p for p in problems)


def test_a_sound_store_is_built_from_structs(monkeypatch):
    doc = _generated(50)
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    monkeypatch.setattr(loader._Checker, "_one_article", lambda *a: pytest.fail("read by orjson"))
    store = loader.parse_store(_lines(doc))
    assert len(store.articles) == 50


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_articles_built_a_column_at_a_time_are_those_built_one_by_one(seed):
    doc = _generated(200, seed=seed)
    doc["articles"][9]["content_html"] = "<p>A &#x2014; dash</p>"
    doc["articles"][11]["source"] = {"newsletter": 58, "page": "3", "big": -(2**53 - 1)}
    store = loader.parse_store(_lines(doc))
    build = _builder(store)
    structs = [msgspec.json.decode(json.dumps(a), type=loader_typed._Article) for a in doc["articles"]]
    by_columns, n_columns = build.columns(structs)
    one_by_one, n_each = build.each(structs, False)
    assert None not in by_columns and sum(bool(a.corrections) or a.withdrawn is not None for a in by_columns) >= 3
    assert by_columns == one_by_one and n_columns == n_each
    assert [repr(a.updated) for a in by_columns] == [repr(a.updated) for a in one_by_one]
    assert all(a.ministries is b.ministries and a.source == b.source for a, b in zip(by_columns, one_by_one))
    # Entries keep no source, so that way only counts its strings: the counts must be the ones of the Articles
    # (the loader finds a key given twice in a source by them).
    doc["articles"][12]["source"] = {}
    structs = [msgspec.json.decode(json.dumps(a), type=loader_typed._Article) for a in doc["articles"]]
    entries = _builder(store, entries=True)
    assert entries.columns(structs)[1] == entries.each(structs, False)[1] == build.columns(structs)[1]


@pytest.mark.parametrize("field, value", [
    ("id", "Not A Slug"), ("title", " padded"), ("summary", ""), ("updated", "2000-01-01"), ("ministries", ["nowhere"]),
    ("topics", []), ("url", "javascript:alert(1)"), ("content_html", " "), ("content_html", "<p>&#1;</p>"),
    ("corrections", [{"date": "2000-01-01", "note": "Too early"}]),
])
def test_an_article_the_columns_refuse_is_refused_one_by_one(field, value):
    doc = _generated(30)
    store = loader.parse_store(_lines(doc))
    build = _builder(store)
    doc["articles"][17][field] = value
    structs = [msgspec.json.decode(json.dumps(a), type=loader_typed._Article) for a in doc["articles"]]
    assert build.columns(structs) is None  # the columns refuse the chunk; build then tells which one
    built, _ = build(structs, False)
    assert [k for k, a in enumerate(built) if a is None] == [17]


@pytest.mark.parametrize("case", ["twice", "former", "unknown", "empty"])
def test_a_slug_list_the_bulk_check_refuses_is_found_one_by_one(case):
    doc = _generated(30)
    doc["ministries"][0]["formerly"] = [{"slug": "mltm", "name": "Former ministry", "until": "2013-03-23"}]
    store = loader.parse_store(_lines(doc))
    build = _builder(store)
    first = doc["ministries"][0]["slug"]
    doc["articles"][17]["ministries"] = {
        "twice": [first, first], "former": ["mltm"], "unknown": [first, "nowhere"], "empty": [],
    }[case]
    structs = [msgspec.json.decode(json.dumps(a), type=loader_typed._Article) for a in doc["articles"]]
    assert build.columns(structs) is None
    built, _ = build(structs, False)
    assert [k for k, a in enumerate(built) if a is None] == [17]


@pytest.mark.parametrize("sources", [
    [{"newsletter": 58, "date": "2025-01-02"}] * 3,  # all of one size: taken two at a time
    [{"newsletter": 58}, {"newsletter": 58, "page": "3"}, None],  # sizes differ
    [{}, {}, None],  # empty objects: no pairs at all
    [None, None, None],
])
def test_sources_built_a_column_at_a_time_are_those_built_one_by_one(sources):
    doc = _generated(12)
    for art in doc["articles"]:
        art.pop("source", None)
    for k, source in zip((2, 5, 9), sources):
        if source is not None:
            doc["articles"][k]["source"] = source
    store = loader.parse_store(_lines(doc))
    build = _builder(store)
    structs = [msgspec.json.decode(json.dumps(a), type=loader_typed._Article) for a in doc["articles"]]
    by_columns, n_columns = build.columns(structs)
    one_by_one, n_each = build.each(structs, False)
    assert by_columns == one_by_one and n_columns == n_each
    assert [a.source for a in by_columns] == [store.article(a["id"]).source for a in doc["articles"]]
    assert [a.source for a in by_columns][2] == tuple((sources[0] or {}).items())


@pytest.mark.parametrize("field, value", [
    ("source", {"n": 2**53}), ("source", {"n": -(2**53)}), ("source", {"n": 1.5}), ("source", {"n": None}),
    ("url", None), ("updated", None), ("content_html", None), ("corrections", None), ("surprise", 1),
])
def test_the_structs_refuse_what_the_store_format_does_not_allow(field, value):
    art = _generated(10)["articles"][0]
    art[field] = value
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(art), type=loader_typed._Article)


def _builder(store, entries=False):
    return loader_typed.typed_builder(Context(
        store.portal.timezone, store.ministries, store.topics, store.renamed["ministries"], store.renamed["topics"],
    ), entries=entries)


@pytest.mark.parametrize("layout", ["compact", "indent"])
def test_a_store_rewritten_in_another_layout_keeps_the_articles_it_had(monkeypatch, layout):
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    doc = _generated(300)
    first = loader.parse_store(_lines(doc))
    doc["articles"][10]["title"] = "A new title"
    doc["articles"][20]["updated"] = "2031-01-01T00:00:00Z"
    again = loader.parse_store(LAYOUTS[layout](doc))  # every article's text differs from the first load's
    before = {a.id: a for a in first.entries}
    # one store's memory, not two: an entry holds no title, so only the one whose date changed is new
    assert sum(a is before[a.id] for a in again.entries) == 299
    for k, title, shared in ((10, "A new title", True), (20, doc["articles"][20]["title"], False)):
        art = again.article(doc["articles"][k]["id"])
        assert (again.entries[again.by_id[art.id]] is before[art.id]) is shared and art.title == title
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())  # the same file, with nothing known
    assert _summary(again) == _summary(loader.parse_store(LAYOUTS[layout](doc)))


def test_a_refused_edit_reads_only_the_articles_it_changed(monkeypatch):
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    doc = _generated(300)
    loader.parse_store(_lines(doc))
    doc["articles"][40]["published"] = "15/02/2024"
    doc["articles"][41]["id"] = doc["articles"][7]["id"]  # and a second problem, found among the known articles
    read: list[int] = []
    one = loader._Checker._one_article
    monkeypatch.setattr(loader._Checker, "_one_article", lambda self, i, *a: read.append(i) or one(self, i, *a))
    with pytest.raises(loader.StoreError) as refused:
        loader.parse_store(_lines(doc))
    assert sorted(set(read)) == [40, 41]  # the 298 others were the last load's articles, not read again
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())  # the same file, with nothing known
    with pytest.raises(loader.StoreError) as fresh:
        loader.parse_store(_lines(doc))
    assert refused.value.problems == fresh.value.problems and len(fresh.value.problems) == 2
