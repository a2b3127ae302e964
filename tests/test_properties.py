"""Property: any article text is either refused at load, naming the field, or comes back unchanged everywhere.

Titles and summaries are drawn from all of Unicode (controls, lone surrogates written as JSON \\uD800 escapes,
noncharacters, whitespace of every kind) mixed with markup, entities and CDATA debris. The store is loaded
with exactly that text; then the Atom, RSS and JSON feeds and the article page must give it back exactly:

- at the XML level (lxml), for every format: the element text equals the original;
- through feedparser, as a reader sees it. feedparser strips leading and trailing whitespace, turns CRLF into
  LF in HTML, maps U+0080-U+009F to Windows-1252 letters and "repairs" UTF-8 read as Latin-1; the loader
  refuses exactly that text (see loader.TEXT_FORBIDDEN_RE, MOJIBAKE_RE and the whitespace rule), so every
  stored text survives it. One thing is left to feedparser's guessing: an RSS title that looks like HTML
  (an entity or a closing tag, e.g. "&#39;" or "</b>") is read as HTML, because RSS 2.0 says nothing about
  markup in titles. The service writes RSS titles as plain text, as the RSS Advisory Board recommends; there
  the XML-level check is the contract and feedparser is compared only when it reads the title as text.
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedservice import create_app
from feedservice.errors import StoreError
from feedservice.loader import parse_store
from conftest import make_store_dict

ATOM = "{http://www.w3.org/2005/Atom}"
PIECES = [
    "&", "&amp;", "&lt;", "&gt;", "&#39;", "&#x26;", "&#0;", "&#x1F600;", "&nbsp;", "&bogus;", "<", ">", "<b>", "</b>",
    "<p>", "</p>", "<script>", "</script>", "<!--", "-->", "<![CDATA[", "]]>", "\"", "'", "\\", "\r\n", "\r", "\n",
    "\t", " ", "  ", "\u00a0", "\u3000", "\u2028", "\u200b", "\ufeff", "\x85", "\x7f", "\x00", "\x1b[2J", "\ud800",
    "\udfff", "\ud83d\ude00", "\ufffe", "\uffff", "\U0010ffff", "\ufdd0", "Ã©", "Â ", "é", "국토교통부", "스마트시티",
    "e\u0301", "\u202e", "%20", "+", "javascript:", "{", "}", "$", "`",
]
any_char = st.characters(exclude_categories=())  # every code point, lone surrogates included


def _reads_as_mojibake(text: str) -> bool:
    """True if ``text`` is all Latin-1 and valid UTF-8 as bytes: feedparser would "repair" it."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except UnicodeError:
        return False


# Text the loader must always accept: letters, digits, punctuation, markup-looking characters, inner spaces
# (but not the rare Latin-1 strings like "Â¡" that are also valid UTF-8, which the loader calls mojibake).
safe_char = st.characters(categories=["L", "M", "N", "P", "S"], exclude_characters="\x7f\ufffe\uffff")
safe_text = st.builds(
    lambda a, b, c: f"{a}{b}{c}",
    safe_char, st.text(st.one_of(safe_char, st.sampled_from([" ", "\n", "\t", "\u3000"])), max_size=40), safe_char,
).filter(lambda t: not _reads_as_mojibake(t))
# Mostly acceptable text full of markup, entities and odd but legal characters between two ordinary ones.
LEGAL_PIECES = [p for p in PIECES if not any(c in p for c in "\r\x85\x7f\x00\x1b\ud800\udfff\ufffe\uffff")]
legal_text = st.builds(
    lambda a, b, c: f"{a}{b}{c}",
    safe_char, st.lists(st.one_of(st.sampled_from(LEGAL_PIECES), st.text(safe_char, max_size=4)), max_size=8).map("".join),
    safe_char,
)
article_text = st.one_of(
    legal_text,
    st.text(st.characters(max_codepoint=0xFF), min_size=1, max_size=10),  # Latin-1 only: where mojibake lives
    st.text(safe_char, min_size=1, max_size=6).map(lambda t: t.encode("utf-8").decode("latin-1")),  # mojibake
    st.text(any_char, min_size=1, max_size=30),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(any_char, max_size=3)), min_size=1, max_size=8).map("".join),
)
# Often one field is plain, so that the other one alone decides.
texts = st.one_of(
    st.tuples(article_text, article_text),
    st.tuples(article_text, st.just("A plain summary.")),
    st.tuples(st.just("A plain title"), article_text),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("properties") / "articles.json"
    path.write_text(json.dumps(make_store_dict(1)), encoding="utf-8")
    return create_app({"STORE": str(path), "RELOAD_SECONDS": 0})


def _raw_store(title: str, summary: str, ascii_only: bool) -> bytes:
    doc = make_store_dict(1)
    doc["articles"][0].update(id="p0", title=title, summary=summary)
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in title + summary)
    # ensure_ascii writes \uXXXX escapes (lone surrogates can only travel that way); else raw UTF-8.
    return json.dumps(doc, ensure_ascii=ascii_only or has_surrogate).encode("utf-8")


def _load(title: str, summary: str, ascii_only: bool) -> Any:
    """Returns the loaded store, or None after checking that the refusal names only the fields at fault."""
    try:
        return parse_store(_raw_store(title, summary, ascii_only), "p.json")
    except StoreError as e:
        assert e.problems
        for problem in e.problems:
            assert problem.startswith("p.json: articles[0] (p0): title: ") or problem.startswith(
                "p.json: articles[0] (p0): summary: "
            ), problem
            assert "; " in problem or "must be" in problem, problem  # a fix follows the finding
            problem.encode("utf-8")  # printable: no lone surrogate in a message
        return None


def _serve(app, store) -> Any:
    """Serves ``store`` from the module's app (as a reload would swap it in) and returns a test client."""
    app.extensions["feedservice"].live.current = store
    return app.test_client()


class _Article(HTMLParser):
    """The text of the article page's <h1> and <p class="summary">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.where: str | None = None
        self.found: dict[str, str] = {"h1": "", "summary": ""}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self.where = "h1"
        elif tag == "p" and ("class", "summary") in attrs:
            self.where = "summary"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "p"):
            self.where = None

    def handle_data(self, data: str) -> None:
        if self.where:
            self.found[self.where] += data


def _check(app, fmt: str, title: str, summary: str, ascii_only: bool) -> None:
    store = _load(title, summary, ascii_only)
    event("refused at load" if store is None else "served")
    if store is None:
        return
    # What the store holds is the text as JSON reads it: an escaped surrogate pair is one character.
    title, summary = json.loads(json.dumps([title, summary]))
    client = _serve(app, store)
    if fmt == "html":
        resp = client.get("/articles/p0")
        assert resp.status_code == 200
        page = _Article()
        page.feed(resp.get_data(as_text=True))
        assert page.found == {"h1": title, "summary": summary}
        return
    resp = client.get(f"/feeds/all.{fmt}")
    assert resp.status_code == 200
    if fmt == "json":
        item = json.loads(resp.data)["items"][0]
        assert (item["title"], item["summary"]) == (title, summary)
        return
    root = etree.fromstring(resp.data)
    entry = feedparser.parse(resp.data).entries[0]
    if fmt == "atom":
        xml_entry = root.find(f"{ATOM}entry")
        assert xml_entry.findtext(f"{ATOM}title") == title
        assert xml_entry.findtext(f"{ATOM}summary") == summary
        assert entry.title == title
        assert entry.summary == summary
    else:
        item = root.find("channel/item")
        assert item.findtext("title") == title
        # description is HTML: the summary escaped once for HTML, then once more by XML
        assert html.unescape(item.findtext("description")) == summary
        assert html.unescape(entry.summary) == summary
        if entry.title_detail.type == "text/plain":
            assert entry.title == title


@pytest.mark.parametrize("fmt", ["atom", "rss", "json", "html"])
@settings(max_examples=200, deadline=None)
@given(texts=texts, ascii_only=st.booleans())
@example(texts=("\ud800", "ok"), ascii_only=True)
@example(texts=("ok \udc00\ud800 ko", "ok"), ascii_only=True)
@example(texts=("smile \ud83d\ude00", "pair"), ascii_only=True)
@example(texts=("a\r\nb", "ok"), ascii_only=False)
@example(texts=("ok", " lead"), ascii_only=False)
@example(texts=("Ã©tÃ©", "ok"), ascii_only=False)
@example(texts=("ok", "\x85"), ascii_only=False)
@example(texts=("Café ©", "Â"), ascii_only=False)
@example(texts=("0", "\x08"), ascii_only=False)  # JSON writes it as \b, which once slipped past the loader
@example(texts=("\x0c", "ok"), ascii_only=False)  # \f
@example(texts=("&#39; &amp; <b>x</b>", "&lt;script&gt; <![CDATA[ ]]>"), ascii_only=False)
@example(texts=("\ufffe", "\U0010ffff"), ascii_only=False)
def test_text_is_refused_or_round_trips(app, fmt, texts, ascii_only):
    _check(app, fmt, *texts, ascii_only)


@settings(max_examples=200, deadline=None)
@given(title=safe_text, summary=safe_text)
def test_ordinary_text_is_never_refused(app, title, summary):
    store = parse_store(_raw_store(title, summary, False), "p.json")
    art = store.article("p0")
    assert (art.title, art.summary) == (title, summary)


@pytest.mark.parametrize(
    ("raw_title", "message"),
    [
        ('"\\ud800"', "title: contains U+D800 at character 1, which XML cannot carry; delete it"),
        ('"x\\udfff"', "title: contains U+DFFF at character 2, which XML cannot carry; delete it"),
        ('"\\udc00\\ud800"', "title: contains U+DC00 at character 1"),
        ('"\\u0000"', "title: contains U+0000 at character 1, which XML cannot carry"),
        ('"a\\rb"', "title: contains U+000D at character 2, a carriage return; write line breaks as \\n alone"),
        ('"a\\u0085b"', "title: contains U+0085 at character 2, a control character"),
        ('" a"', "title: starts or ends with whitespace, which readers strip; delete it"),
        ('"\\u00c3\\u00a9t\\u00c3\\u00a9"', "title: 'Ã©tÃ©' is UTF-8 read as Latin-1 (mojibake); write 'été'"),
    ],
)
def test_refusals_name_the_field_and_the_fix(raw_title, message):
    doc = make_store_dict(1)
    doc["articles"][0]["title"] = "PLACEHOLDER"
    raw = json.dumps(doc).replace('"PLACEHOLDER"', raw_title).encode("utf-8")
    with pytest.raises(StoreError) as info:
        parse_store(raw, "p.json")
    assert info.value.problems == [f"p.json: articles[0] (a00000): {message}"] or message in str(info.value)
    assert str(info.value).startswith("p.json: articles[0] (a00000): title: ")


def test_a_valid_surrogate_pair_escape_is_one_character():
    doc = make_store_dict(1)
    doc["articles"][0]["title"] = "PLACEHOLDER"
    raw = json.dumps(doc).replace('"PLACEHOLDER"', '"smile \\ud83d\\ude00"').encode("utf-8")
    assert parse_store(raw).article("a00000").title == "smile \U0001f600"
