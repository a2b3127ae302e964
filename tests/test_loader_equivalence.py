"""The fast loader builds the same store, and writes the same messages, as the detailed one.

``loader.parse_store`` reads with orjson (the articles list an article at a time when the layout allows, and
only the articles whose text changed since the last load), and takes a fast path for sound articles; the
reference here is the way the loader always worked: the standard library's reading and ``_Checker`` on every
article. Each store below, written in several layouts, must give both the same ``Store`` (every field,
datetimes with their time zone) or the same list of problems, in order: loaded first, loaded again, and
loaded after a store that differs from it in one place.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BUNDLED_STORE, ROOT
from feedservice import loader, loader_json, sanitize
from feedservice.errors import StoreError

STORES = Path(__file__).resolve().parent / "stores"


def _gen_store_module() -> Any:
    spec = importlib.util.spec_from_file_location("gen_store", ROOT / "bench" / "gen_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


GEN = _gen_store_module()


def _generated(n: int, seed: int = 1) -> dict:
    """Returns a store dict like bench/gen_store.py writes: skewed ministries and topics, HTML bodies, sources,
    corrections and withdrawals."""
    import random

    rng = random.Random(f"equivalence:{seed}")
    doc = GEN.header(rng)
    m = [x["slug"] for x in doc["ministries"]]
    t = [x["slug"] for x in doc["topics"]]
    mw, tw = GEN._weights(len(m), 1.1), GEN._weights(len(t), 1.0)
    doc["articles"] = [GEN.article(rng, i, m, mw, t, tw) for i in range(n)]
    for i in (3, 7):  # make sure some carry corrections and a withdrawal
        doc["articles"][i]["corrections"] = [{"date": "2030-01-01T00:00:00+09:00", "note": "Fixed a figure"}]
    doc["articles"][5]["withdrawn"] = {"date": "2030-01-02", "reason": "Published in error"}
    return doc


# -- how a store is written: the layouts the piece reader follows, and ones it must give up on ----------------

def _lines(doc: dict) -> bytes:
    """bench/gen_store.py's layout: the header indented, one article per line."""
    head = {k: v for k, v in doc.items() if k != "articles"}
    text = json.dumps(head, ensure_ascii=False, indent=1)
    text = text[: text.rstrip().rfind("}")].rstrip() + (",\n" if head else "\n") + ' "articles": [\n'
    text += ",\n".join(json.dumps(a, ensure_ascii=False) for a in doc.get("articles", []))
    return (text + "\n ]\n}\n").encode()


LAYOUTS: dict[str, Callable[[dict], bytes]] = {
    "lines": _lines,
    "indent": lambda d: json.dumps(d, ensure_ascii=False, indent=2).encode(),
    "ascii": lambda d: json.dumps(d, indent=4).encode(),  # \uXXXX escapes everywhere
    "compact": lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode(),
    "crlf": lambda d: json.dumps(d, ensure_ascii=False, indent=2).replace("\n", "\r\n").encode(),
    "articles-first": lambda d: json.dumps(
        {"articles": d.get("articles"), **{k: v for k, v in d.items() if k != "articles"}}, ensure_ascii=False, indent=2
    ).encode(),
}


def _summary(store: Any) -> tuple:
    """Everything a store holds, in a form that compares types and time zones too."""
    arts = [
        (
            a.id, a.title, repr(a.published), repr(a.updated), a.ministries, a.topics, a.summary, a.content_html,
            a.url, [(k, type(v).__name__, v) for k, v in a.source],
            [(repr(c.date), c.note) for c in a.corrections],
            None if a.withdrawn is None else (repr(a.withdrawn.date), a.withdrawn.reason),
        )
        for a in store.articles
    ]
    selections = {k: (s.key, s.title, list(s.positions)) for k, s in store.selections.items()}
    return (
        store.path, store.version, repr(store.portal), repr(store.ministries), repr(store.topics), arts, selections,
        store.by_id, store.renamed, store.withdrawn_positions, store.corrected_positions,
    )


def _outcome(raw: bytes) -> tuple:
    try:
        return ("store", _summary(loader.parse_store(raw, "s.json")))
    except StoreError as e:
        return ("problems", e.problems)


@pytest.fixture
def compare(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple]:
    """Returns check(raw, before=None): asserts the fast and the reference loader agree on ``raw``, loaded
    first, again, and after ``before``; returns the outcome."""

    def reference(raw: bytes) -> tuple:
        with monkeypatch.context() as m:
            m.setattr(loader, "_check_fast", lambda *args: None)  # the standard library's reading
            m.setattr(loader, "article_builder", lambda *args: (lambda *a: None))  # _Checker on every article
            return _outcome(raw)

    def check(raw: bytes, before: bytes | None = None) -> tuple:
        expected = reference(raw)
        monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
        assert _outcome(raw) == expected
        assert _outcome(raw) == expected  # every article as the last load left it, if that load succeeded
        if before is not None:
            monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
            loader.parse_store(before)
            assert _outcome(raw) == expected  # the articles that changed read again, the others kept
        return expected

    return check


# -- whole stores ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [STORES / "good.json", BUNDLED_STORE, *sorted((STORES / "bad").iterdir())], ids=lambda p: p.name)
def test_every_corpus_store(compare, path):
    compare(path.read_bytes())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_generated_store_in_every_layout(compare, layout):
    kind, _ = compare(LAYOUTS[layout](_generated(120)))
    assert kind == "store"


# -- one article changed: every field, valid and not --------------------------------------------------------------

FIELD_VALUES: dict[str, list[Any]] = {
    "id": ["a", "A", "", " a", "a" * 100, "a" * 101, "a_b", "ａ", 5, None, [], {}],
    "title": ["x", " x", "x ", "", " ", "\t", "x\ry", "x\x01", "x\x85", "Ã©t", "é", "Â ", "\u3000x", "x\ud800", "x\ufffe",
              "&amp; <b>", 5, 5.5, True, None, ["x"], {"a": 1}],
    "summary": ["s", "s\n\nt", "s ", "\ufeffs", 0, None],
    "published": ["2024-02-15", "2024-02-15T09:00:00+09:00", "2024-02-15t09:00:00z", "2024-02-15 09:00:00Z",
                  "2024-02-15T09:00:00.123456789-05:00", "2024-02-15T09:00:00.1+00:00", "2024-02-15T09:00", "2024-02-15T09:00:00",
                  "2024-02-30", "2024-13-01T00:00:00+09:00", "1899-12-31", "3000-01-01", "0024-01-01", "15/02/2024",
                  "２０２４-02-15", "2024-W07-4", "20240215", "2024-02-15T09:00:00+24:00", "2024-02-15T25:00:00+09:00",
                  "2024-02-15T09:00:00+09:00:30", "", 20240215, None],
    "updated": ["2024-02-14", "2024-02-16", "2024-02-15T08:59:59+09:00", "2024-02-15T00:00:00Z", "nope", None, 7],
    "ministries": [["molit"], ["ngii", "molit"], [], ["molt"], ["molit", "molit"], ["mltm"], [1], [["molit"]],
                   [{"slug": "molit"}], "molit", None, [None], ["molit", 2.5]],
    "topics": [["maps", "policy"], [], ["geo"], ["maps", "maps"], [True]],
    "url": ["https://www.molit.go.kr/a?b=1&c=2#d", "http://x", "HTTPS://WWW.MOLIT.GO.KR", "https://x:8080/a",
            "https://x:99999/", "https://user@x/", "https://[::1]/", "https://[::1/", "https://x]/", "ftp://x",
            "https://", "//x/a", "https://x/a b", "https://x/a\u3000b", "https://스마트.kr/경로", "https://x/경로",
            "https://x\uff0fy/", "https://x/\x01", " https://x", "", None, 5, ["https://x"]],
    "source": [{"newsletter": 58, "date": "2025-01-02"}, {}, {"n": 2**53 - 1}, {"n": 2**53}, {"n": -(2**53) + 1},
               {"n": 2**64 - 1}, {"n": 2**64}, {"n": 2**70}, {"n": -(2**63)}, {"n": -(2**63) - 1}, {"n": 1.5},
               {"n": 1.0}, {"n": True}, {"n": None}, {"n": [1]}, {"n": {"m": 1}}, {"\x01": 1}, {"k": "v\x01"},
               "x", [], None],
    "content_html": ["<p>a</p>", "<p onclick='x()'>a<script>b</script></p>", "", " ", "&#1;", "&#xFFFE;", "a\x01",
                     "a\r\nb", "<!-- c --><b>b</b>", 5, None],
    "corrections": [[{"date": "2024-02-16", "note": "n"}], [{"date": "2024-02-14", "note": "n"}], [], [{"date": "2024-02-16"}],
                    [{"date": "2024-02-16", "note": "n", "x": 1}], {"date": "2024-02-16"}, None],
    "withdrawn": [{"date": "2024-02-16", "reason": "r"}, {"date": "2024-02-14", "reason": "r"}, {"date": "2024-02-16"},
                  "yes", None],
    "extra": [1, None],
}


def _base() -> dict:
    doc = json.loads((STORES / "good.json").read_text(encoding="utf-8"))
    doc["ministries"][0]["formerly"] = [{"slug": "mltm", "name": "Former ministry", "until": "2013-03-23"}]
    return doc


CASES = [(field, value) for field, values in FIELD_VALUES.items() for value in [*values, "<missing>"]]


@pytest.mark.parametrize(("field", "value"), CASES, ids=[f"{f}={v!r}"[:60] for f, v in CASES])
def test_one_field_of_one_article(compare, field, value):
    doc = _base()
    art = doc["articles"][1]
    if value == "<missing>":
        art.pop(field, None)
    else:
        art[field] = copy.deepcopy(value)
    for layout in ("lines", "indent", "ascii"):
        try:
            raw = LAYOUTS[layout](doc)
        except ValueError:  # a lone surrogate cannot be written as UTF-8: only the ascii layout escapes it
            continue
        compare(raw, before=LAYOUTS[layout](_base()))


@pytest.mark.parametrize("zone", ["+09:00", "-05:30", "+00:00", "-00:00", "Asia/Seoul", "America/New_York", "UTC"])
def test_dates_in_every_portal_time_zone(compare, zone):
    doc = _base()
    doc["portal"]["timezone"] = zone
    stamps = ["2024-03-10", "2024-03-10T02:30:00+09:00", "2024-03-10T02:30:00-05:30", "2024-03-10T02:30:00+00:00",
              "2024-03-10T02:30:00-00:00", "2024-03-10T02:30:00Z", "2024-11-03T01:30:00-05:00", "2024-03-10t02:30:00+09:00",
              "2024-03-10T02:30:00.5+09:00", "2024-03-10 02:30:00-05:00"]
    template = doc["articles"][0]
    doc["articles"] = []
    for i, stamp in enumerate(stamps):
        art = copy.deepcopy(template)
        art.update(id=f"a{i}", published=stamp, updated=stamps[-1] if i % 2 else stamp)
        doc["articles"].append(art)
    for layout in ("lines", "indent"):
        compare(LAYOUTS[layout](doc))


def _drop_ngii(doc: dict) -> None:
    doc["ministries"] = [m for m in doc["ministries"] if m["slug"] != "ngii"]


def _rename_ngii(doc: dict) -> None:
    doc["ministries"][1].update(slug="ngii2", formerly=[{"slug": "ngii", "name": "Old NGII"}])


@pytest.mark.parametrize("change", [
    lambda d: d["topics"].append({"slug": "new-topic", "name": "New topic"}),
    lambda d: d["ministries"].insert(0, {"slug": "aaa", "name": "A new agency"}),
    _drop_ngii,
    _rename_ngii,
    lambda d: d["ministries"][1].update(name=""),  # refused, so articles naming it are not reported again
    lambda d: d["topics"].reverse(),
    lambda d: d["portal"].update(timezone="Asia/Seoul"),
    lambda d: d["portal"].update(timezone="+08:00"),
    lambda d: d["portal"].update(title="Another title"),
], ids=["new topic", "new ministry", "ministry gone", "ministry renamed", "ministry refused", "topics reordered",
        "zone named", "zone moved", "portal title"])
@pytest.mark.parametrize("layout", ["lines", "indent"])
def test_the_header_changes_after_a_load(compare, layout, change):
    doc = _base()
    before = LAYOUTS[layout](doc)
    change(doc)
    compare(LAYOUTS[layout](doc), before=before)


# -- keys given twice, anywhere; numbers and nesting orjson reads differently ----------------------------------------

DUPLICATES = [
    ('"portal": {', '"portal": {"title": "Twice", '),
    ('"slug": "molit",', '"slug": "molit", "slug": "molit",'),
    ('"until": "2013-03-23"', '"until": "2013-03-23", "until": "2013-03-24"'),
    ('"id": "2024-02-15-digital-twin",', '"id": "2024-02-15-digital-twin", "title": "Shadowed",'),
    ('"id": "2024-02-15-digital-twin",', '"id": "2024-02-15-digital-twin", "url": null,'),
    ('"newsletter": 58,', '"newsletter": 58, "newsletter": "58",'),
    ('"newsletter": 58,', '"newsletter": 57, "newsletter": 58,'),
    ('"note": "n"', '"note": "n", "date": "2024-02-16"'),
    ('"reason": "r"', '"reason": "r", "reason": "r"'),
    ('"articles": [', '"articles": [], "articles": ['),
    ('"topics": [\n', '"ministries": [], "topics": [\n'),
]


@pytest.mark.parametrize(("old", "new"), DUPLICATES, ids=[n[:40] for _, n in DUPLICATES])
@pytest.mark.parametrize("layout", ["lines", "indent"])
def test_keys_given_twice(compare, layout, old, new):
    doc = _base()
    doc["articles"][0]["corrections"] = [{"date": "2024-02-16", "note": "n"}]
    doc["articles"][0]["withdrawn"] = {"date": "2024-02-16", "reason": "r"}
    text = LAYOUTS[layout](doc).decode()
    assert old in text
    kind, problems = compare(text.replace(old, new, 1).encode(), before=text.encode())
    assert kind == "problems" and any("given twice" in p for p in problems)


@pytest.mark.parametrize("text", [
    '"newsletter": 58', '"newsletter": NaN', '"newsletter": -Infinity', '"newsletter": 1e400', '"newsletter": 1E-400',
    '"newsletter": 18446744073709551616', '"newsletter": -9223372036854775809', '"newsletter": 5.0',
    '"newsletter": ' + "9" * 5000, '"newsletter": "\\ud800"', '"newsletter": "\\udc00x"', '"newsletter": "\\u0000"',
    '"newsletter": ' + "[" * 150 + "]" * 150, '"newsletter": ' + "[" * 1100 + "]" * 1100,
    '"newsletter": ' + '{"a":' * 990 + "1" + "}" * 990,
])
def test_numbers_strings_and_nesting_json_and_orjson_read_differently(compare, text):
    raw = LAYOUTS["indent"](_base()).decode().replace('"newsletter": 58', text, 1)
    compare(raw.encode())


# -- layouts the piece reader must refuse or see through -------------------------------------------------------------

def _in_articles(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    """Returns an edit replacing ``old`` with ``new`` in the articles list (``count`` times; -1: all)."""

    def edit(text: str) -> str:
        at = text.index('"articles"')
        return text[:at] + text[at:].replace(old, new, count)

    return edit


@pytest.mark.parametrize("edit", [
    _in_articles("},\n    {", "}\n    ,{", -1),  # comma first
    _in_articles("},\n    {", "},,\n    {"),  # two commas
    _in_articles("},\n    {", "},\n    12\n    {"),  # no comma after a number
    _in_articles("},\n    {", "}\n    {"),  # no comma at all
    _in_articles("},\n    {", "} 5\n    {"),  # something else instead
    _in_articles("}\n  ]\n}", "},\n  ]\n}"),  # a trailing comma
    _in_articles('"articles": [\n    {', '"articles": [,\n    {'),  # a leading comma
    _in_articles("}\n  ]\n}", "}\n  ]\n}\n{}"),  # something after the top-level object
    _in_articles("}\n  ]\n}", "}\n  ],\n  \"x\": 1\n}"),  # the articles list not last
    _in_articles('"source": {', '"source":\n    {'),  # an object at an article's indentation
    _in_articles("\n    {", "\n\t{", -1),  # tabs
    _in_articles("}\n  ]\n}", "}\n  ]\x0c\n}"),  # a form feed, which is not JSON whitespace
    _in_articles("}\n  ]\n}", "}\n  ]\n}\x0c"),
    _in_articles('"articles": [', '"articles": [\n    [1],'),  # an element that is not an object
    _in_articles('"articles": [', '"articles" : [ '),
    _in_articles('"title": "Digital', '"title": "\\"articles\\": [Digital'),  # the key in a string
    lambda t: t.replace('"portal": {', '"portal": {"articles": [1],'),  # an "articles" key in another object
    lambda t: t.replace("},\n    {", "}\n    ,{", 1),  # comma first in the ministries list
    lambda t: t.rstrip() + "\n\n\n",
    lambda t: "\n" + t,
])
def test_layouts_the_pieces_must_follow_or_refuse(compare, edit):
    doc = _base()
    doc["articles"] += copy.deepcopy(doc["articles"])
    for i, art in enumerate(doc["articles"]):
        art["id"] += f"-{i}"
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    assert edit(text) != text
    compare(edit(text).encode(), before=text.encode())


@pytest.mark.parametrize("layout", ["lines", "compact", "indent"])
def test_an_article_holding_what_looks_like_the_start_of_one(compare, layout):
    doc = _base()
    doc["articles"][0]["corrections"] = [{"id": "x", "date": "2024-02-16", "note": "n"}]
    doc["articles"][1]["withdrawn"] = {"id": "2024-05-23-solution-expansion", "date": "2024-06-01", "reason": "r"}
    compare(LAYOUTS[layout](doc), before=LAYOUTS[layout](_base()))
    doc["articles"][2]["title"] = '{"id": "not an article"}, {"id": 1}'  # in a string: escaped, no match
    compare(LAYOUTS[layout](doc))


def test_an_empty_articles_list(compare):
    doc = _base()
    doc["articles"] = []
    for layout in LAYOUTS.values():
        compare(layout(doc))


# -- text of every kind ---------------------------------------------------------------------------------------------

tricky = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(["\x00", "\x7f", "\x85", "\xa0", "\u2028", "\ufffe", "\ud800", "Ã", "©", "é", " ", "\t", "\r", "\n"]),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(title=tricky, summary=tricky, url=tricky, published=tricky, art_id=tricky)
def test_any_text_in_any_field(title, summary, url, published, art_id):
    with pytest.MonkeyPatch.context() as m:
        doc = _base()
        art = doc["articles"][0]
        art.update(title=title, summary=summary, url=url)
        doc["articles"][1].update(published=published, id=art_id or "x")
        raw = json.dumps(doc, indent=1).encode()  # ascii: any string can be written
        m.setattr(loader, "_check_fast", lambda *args: None)
        m.setattr(loader, "article_builder", lambda *args: (lambda *a: None))
        expected = _outcome(raw)
    assert _outcome(raw) == expected


# -- the fast path is the one taken, and the pieces of it agree with the whole ---------------------------------------

def test_a_sound_store_takes_the_fast_path_only(monkeypatch):
    doc = _generated(300)
    raw = _lines(doc)
    detailed: list[int] = []
    calls: list[int] = []
    typed: list[int] = []
    original = loader._Checker.article
    read_typed = loader.read_typed
    monkeypatch.setattr(loader._Checker, "article", lambda self, *a: detailed.append(a[0]) or original(self, *a))
    monkeypatch.setattr(loader, "read_exact", lambda *a: pytest.fail("read with the standard library"))
    monkeypatch.setattr(loader_json.orjson, "loads", _counting(loader_json.orjson.loads, calls))
    monkeypatch.setattr(loader, "read_typed", lambda elements, ks: typed.append(len(ks)) or read_typed(elements, ks))
    monkeypatch.setattr(loader, "_article_memo", loader.ArticleMemo())
    store = loader.parse_store(raw)
    # every article, corrections and withdrawals too, is read into a Struct and built without the detailed check
    assert detailed == []
    assert typed == [300]
    assert len(store.articles) == 300
    assert sum(bool(a.corrections) for a in store.articles) == sum("corrections" in a for a in doc["articles"]) > 0
    assert len(calls) == 1  # orjson read the header only

    for layout in ("indent", "ascii", "compact", "articles-first"):  # read by the fast path too, if less cleverly
        assert _summary(loader.parse_store(LAYOUTS[layout](doc)))[5:] == _summary(store)[5:]

    # a reload reads only the article that changed, and keeps the others as they are
    store = loader.parse_store(raw)
    calls.clear()
    typed.clear()
    doc["articles"][10]["title"] = "A new title"
    again = loader.parse_store(_lines(doc))
    assert typed == [1] and len(calls) == 1
    assert sum(a is b for a, b in zip(store.entries, again.entries)) == 299

    # an article the Structs do not take (a null) is read by orjson and built by the dict fast path
    doc["articles"][20]["url"] = None
    calls.clear()
    detailed.clear()
    again = loader.parse_store(_lines(doc))
    assert len(calls) == 2 and detailed == []
    assert again.article(doc["articles"][20]["id"]).url is None


def _counting(loads: Callable, calls: list) -> Callable:
    def counted(data: Any) -> Any:
        calls.append(len(data) if not isinstance(data, memoryview) else data.nbytes)
        return loads(data)

    return counted


def test_the_string_counts_agree():
    for layout in LAYOUTS.values():
        raw = layout(_generated(50))
        doc = json.loads(raw)
        assert loader_json.raw_string_count(raw) == loader_json.json_strings(doc)
    raw = b'{"a\\\\": ["\\\\", "\\"", "\\\\\\"", "x\\\\\\\\"], "b": {"c": 1, "d": 1.5}}'
    assert loader_json.raw_string_count(raw) == 8  # 4 keys, 4 values
    assert loader_json.json_strings(json.loads(raw)) is None  # a float
    assert loader_json.json_strings(json.loads(raw.replace(b"1.5", b"2"))) == 8


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(st.sampled_from('ab"\\/\n\x00\u00e9\ud7ff')),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(st.sampled_from('k"\\'), max_size=3), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_the_string_count_of_any_document(value, ascii_only, indent):
    raw = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert loader_json.raw_string_count(raw) == loader_json.json_strings(value)
    other = loader_json._OTHER_ESCAPE_RE.search(raw) is not None
    assert loader_json.raw_string_count(raw, other) == loader_json.json_strings(value)


# The loader's old check, on the decoded text: text_suspect must find whatever it found.
OLD_RAW_SUSPECT_RE = __import__("re").compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\xc2-\xf4\ufffe\uffff]|\\[bfr]"
    r"|\\u(?:00[01][0-9a-fA-F]|00[7][fF]|00[89c-fC-F][0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
)


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.characters(), max_size=20), ascii_only=st.booleans())
def test_text_suspect_finds_what_the_old_check_found(value, ascii_only):
    raw = json.dumps({"t": value}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if OLD_RAW_SUSPECT_RE.search(raw.decode("utf-8", "surrogatepass")):
        assert loader_json.text_suspect(raw)


def test_bodies_are_cleaned_when_shown_not_at_load(monkeypatch):
    doc = _generated(60)
    doc["articles"][1]["content_html"] = "<p>A &#x2014; dash</p>"  # a character reference: cleaned to check it
    cleaned: list[str] = []
    original = sanitize._clean
    monkeypatch.setattr(sanitize, "_clean", lambda html: cleaned.append(html) or original(html))
    sanitize.clean_html.cache_clear()
    store = loader.parse_store(_lines(doc))
    assert cleaned == ["<p>A &#x2014; dash</p>"]
    bodies = [a for a in store.articles if a.html is not None]
    assert len(bodies) > 1 and all(a.html == doc_a["content_html"] for a, doc_a in _by_id(store, doc, bodies))
    assert [a.content_html for a in bodies] == [original(a.html) for a in bodies]
    assert [a.content_html for a in bodies] == [original(a.html) for a in bodies]  # again: from the memo
    assert sorted(cleaned) == sorted({a.html for a in bodies})


def _by_id(store: Any, doc: dict, arts: list) -> list[tuple[Any, dict]]:
    docs = {a["id"]: a for a in doc["articles"]}
    return [(a, docs[a.id]) for a in arts]
