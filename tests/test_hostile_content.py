"""Hostile content: XSS payloads in a store never reach a feed, a page or the embed frame as markup.

Every payload is put in an article's ``content_html`` (sanitized before it is shown: what is left must be harmless) and
in its title, summary and a correction note (text: it must come out as the same text, escaped). Feeds are
checked in their raw XML/JSON (what any reader gets) and through feedparser; pages are parsed as HTML.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from lxml import etree
from markupsafe import escape

from feedservice import create_app
from feedservice.sanitize import clean_html
from conftest import make_store_dict

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<body onload=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="0" y="20">x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<a href="javascript:alert(1)">js</a>',
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">decimal entities</a>',
    '<a href="&#x6A;avascript&#x3A;alert(1)">hex entities</a>',
    '<a href="javascript&colon;alert(1)">named entity colon</a>',
    '<a href=" javascript:alert(1)">leading space</a>',
    '<a href="java&#x09;script:alert(1)">tab inside</a>',
    '<a href="vbscript:msgbox(1)">vbscript</a>',
    '<a href="VBScript:msgbox(1)">vbscript mixed case</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<img src="data:image/svg+xml,&lt;svg onload=alert(1)&gt;">',
    '<blockquote cite="javascript:alert(1)">quote</blockquote>',
    '<q cite="data:text/html,x">q</q>',
    '<a href="https://ok.example/" onclick="alert(1)" target="_blank">ok link</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example/"><input name="q"><button formaction="javascript:alert(1)">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">css url</div>',
    '<p style="width: expression(alert(1))">css expression</p>',
    "<img src=x onerror=alert(1)//",
    "<p>unclosed <b>bold <i>italic",
    "<!--<script>alert(1)</script>-->",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<template><script>alert(1)</script></template>",
    "<details open ontoggle=alert(1)>d</details>",
    "<video><source onerror=alert(1)></video>",
    '"><script>alert(1)</script>',
    "</title><script>alert(1)</script>",
    "]]><script>alert(1)</script>",
    '<img src="x" alt="`onerror=alert(1)">',
    "<xmp><script>alert(1)</script></xmp>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<a href='https://ok.example/' title='\"onmouseover=alert(1) x=\"'>quoted title</a>",
]

# Attributes whose value a browser or reader follows as a URL.
URL_ATTRS = {
    "href", "src", "cite", "action", "formaction", "data", "poster", "srcset", "background", "xlink:href",
    "longdesc", "usemap", "lowsrc", "dynsrc", "codebase", "manifest", "ping", "icon", "profile", "classid",
    "archive",
}
# Elements no article content may hold; pages may hold none of them either, except the few in HEAD_ONLY.
BANNED = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
    "textarea", "select", "meta", "base", "link", "svg", "math", "template", "noscript", "xmp", "isindex",
    "video", "audio", "source", "body", "html", "head", "title",
}
HEAD_ONLY = {"meta", "link", "style", "title"}
SAFE_SCHEMES = {"http", "https", "mailto"}
SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):")


class _Elements(HTMLParser):
    """Collects (tag, attrs, inside <head>) and the text of an HTML document or fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]], bool]] = []
        self.text: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        self.elements.append((tag, attrs, self._in_head))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def _url_scheme(value: str) -> str | None:
    """Returns the scheme a browser would see in ``value`` (it ignores tab, LF, CR and edge spaces), or None."""
    cleaned = re.sub(r"[\t\n\r]", "", value).strip(" \x00-\x1f").lower()
    m = SCHEME_RE.match(cleaned)
    return m.group(1) if m else None


def assert_harmless(markup: str, where: str, page: bool = False) -> None:
    """Fails if ``markup`` holds a banned element, an event handler, a style attribute or an unsafe URL."""
    lowered = markup.lower()
    if not page:
        assert "<script" not in lowered and "<style" not in lowered and "<iframe" not in lowered, (where, markup)
    for tag, attrs, in_head in _parse(markup).elements:
        if page and tag in ("html", "head", "body"):
            continue
        if page and in_head and tag in HEAD_ONLY:
            if tag == "meta":
                assert not any(name == "http-equiv" for name, _ in attrs), (where, tag, attrs)
            continue
        assert tag not in BANNED, (where, tag, attrs, markup)
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name, value)
            assert name != "style", (where, tag, name, value)
            assert name != "srcdoc", (where, tag, name, value)
            if name in URL_ATTRS and value is not None:
                scheme = _url_scheme(value)
                assert scheme is None or scheme in SAFE_SCHEMES, (where, tag, name, value)


def _title(i: int, payload: str) -> str:
    return f"T{i} {payload}"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Any:
    doc = make_store_dict(0)
    doc["ministries"][1]["name"] = "<script>alert('ministry')</script> Institute"
    doc["topics"][1]["name"] = "<img src=x onerror=alert('topic')> & Surveys"
    for i, payload in enumerate(PAYLOADS):
        doc["articles"].append({
            "id": f"x{i:03d}",
            "title": _title(i, payload),
            "published": f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}T09:00:00+09:00",
            "ministries": ["molit", "ngii"],
            "topics": ["policy", "maps"],
            "summary": f"S{i} {payload}",
            "content_html": f"<p>Body {i}</p>{payload}",
            "corrections": [{"date": "2025-01-01", "note": f"N{i} {payload}"}],
        })
    # One withdrawn article: its 410 page and its tombstone carry the reason as text.
    doc["articles"][0]["withdrawn"] = {"date": "2025-01-02", "reason": f"R {PAYLOADS[0]}"}
    path = tmp_path_factory.mktemp("hostile") / "articles.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    app = create_app({"STORE": str(path), "RELOAD_SECONDS": 0, "PAGE_SIZE": 200})
    return app.test_client()


def test_there_are_enough_payloads():
    assert len(PAYLOADS) >= 25
    assert len(set(PAYLOADS)) == len(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitizer_leaves_nothing_active(payload):
    assert_harmless(clean_html(payload), payload)


def test_sanitizer_keeps_what_news_articles_need():
    article = (
        '<h2>Plan</h2><p>The <a href="https://www.molit.go.kr/x" title="MOLIT">ministry</a> and '
        '<abbr title="National Geographic Information Institute">NGII</abbr> '
        '<time datetime="2024-02-15">today</time>:</p><ul><li><b>one</b></li><li><em>two</em></li></ul>'
        '<figure><img src="https://www.molit.go.kr/a.png" alt="map" width="640" height="480">'
        "<figcaption>A map</figcaption></figure>"
        '<table><thead><tr><th scope="col">Year</th></tr></thead><tbody><tr><td colspan="2">2024</td></tr></tbody></table>'
        '<blockquote><p>Quote</p></blockquote><p><a href="mailto:press@molit.go.kr">press</a></p>'
    )
    cleaned = clean_html(article)
    for kept in ('<a href="https://www.molit.go.kr/x" title="MOLIT" rel="noopener noreferrer">', "<h2>", "<abbr title=",
                 '<time datetime="2024-02-15">', "<ul><li><b>one</b>", '<img src="https://www.molit.go.kr/a.png" alt="map"',
                 "<figcaption>", '<th scope="col">', '<td colspan="2">', "<blockquote><p>Quote", 'href="mailto:press@molit.go.kr"'):
        assert kept in cleaned, kept


def _entries_by_id(parsed: Any) -> dict[str, Any]:
    return {e.id.rsplit("/", 1)[-1]: e for e in parsed.entries}


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/ministries/ngii.atom", "/feeds/topics/maps.atom"])
def test_atom(hostile, path):
    resp = hostile.get(path)
    assert resp.status_code == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    root = etree.fromstring(resp.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    # No markup smuggled in as elements: no XHTML namespace, no element a browser would run or style.
    for el in root.iter():
        if isinstance(el.tag, str):
            assert not el.tag.startswith(("{http://www.w3.org/1999/xhtml}", "{http://www.w3.org/2000/svg}")), el.tag
            assert etree.QName(el).localname.lower() not in {"script", "style", "iframe", "object", "embed", "img",
                                                             "form", "meta", "base", "svg", "math"}, el.tag
    entries = root.findall("a:entry", ns)
    assert len(entries) == len(PAYLOADS) - 1  # the withdrawn one is a tombstone
    for entry in entries:
        i = int(entry.findtext("a:id", namespaces=ns).rsplit("x", 1)[1])
        title = entry.find("a:title", ns)
        summary = entry.find("a:summary", ns)
        assert title.get("type", "text") == "text" and title.text == _title(i, PAYLOADS[i])
        assert summary.get("type") == "text" and summary.text == f"S{i} {PAYLOADS[i]}"
        content = entry.find("a:content", ns)
        assert content.get("type") == "html"
        assert_harmless(content.text, f"atom content x{i:03d}")
        assert f"N{i} {PAYLOADS[i]}" in "".join(_parse(content.text).text)  # the correction note, as text
    for comment in root.iter("{http://purl.org/atompub/tombstones/1.0}comment"):
        assert comment.text == f"R {PAYLOADS[0]}"
    parsed = feedparser.parse(resp.data)
    assert not parsed.bozo
    for key, entry in _entries_by_id(parsed).items():
        i = int(key[1:])
        assert entry.title == _title(i, PAYLOADS[i]).strip()
        for c in entry.content:
            assert_harmless(c.value, f"feedparser atom content {key}")


@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds/topics/maps.rss"])
def test_rss(hostile, path):
    resp = hostile.get(path)
    assert resp.status_code == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    root = etree.fromstring(resp.data)
    items = root.findall("channel/item")
    assert len(items) == len(PAYLOADS) - 1
    for item in items:
        i = int(item.findtext("guid").rsplit("x", 1)[1])
        assert item.findtext("title") == _title(i, PAYLOADS[i])  # plain text, escaped once by XML
        description = item.findtext("description")
        # description is HTML holding the summary as text: no element at all, and the text back exactly.
        parsed = _parse(description)
        assert parsed.elements == [] and "".join(parsed.text) == f"S{i} {PAYLOADS[i]}"
        content = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
        assert_harmless(content, f"rss content x{i:03d}")
    parsed_feed = feedparser.parse(resp.data)
    assert not parsed_feed.bozo
    for key, entry in _entries_by_id(parsed_feed).items():
        i = int(key[1:])
        assert html.unescape(entry.summary) == f"S{i} {PAYLOADS[i]}"
        for c in entry.get("content", []):
            assert_harmless(c.value, f"feedparser rss content {key}")


@pytest.mark.parametrize("path", ["/feeds/all.json", "/feeds/ministries/ngii.json"])
def test_json_feed(hostile, path):
    resp = hostile.get(path)
    assert resp.status_code == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    items = json.loads(resp.data)["items"]
    assert len(items) >= len(PAYLOADS) - 1
    for item in items:
        i = int(item["id"].rsplit("x", 1)[1])
        assert item["title"] == _title(i, PAYLOADS[i])
        assert item["summary"] == f"S{i} {PAYLOADS[i]}"
        if "content_html" in item:
            assert_harmless(item["content_html"], f"json content x{i:03d}")


def _assert_page_headers(resp) -> None:
    assert resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    script = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and "*" not in script
    assert "'unsafe-inline'" not in directives.get("style-src", [])
    assert directives.get("base-uri") == ["'none'"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def _pages(client) -> list[str]:
    pages = ["/", "/ministries/ngii", "/topics/maps", "/ministries/molit"]
    pages += [f"/articles/x{i:03d}" for i in range(len(PAYLOADS))]
    for embed in ("/embed/all.html", "/embed/topics/maps.html", "/embed/all.html?limit=20"):
        if client.get(embed).status_code == 200:  # the embed frame, once it exists
            pages.append(embed)
    return pages


def test_pages_escape_text_and_hold_nothing_active(hostile):
    pages = _pages(hostile)
    assert len(pages) >= len(PAYLOADS) + 4
    for path in pages:
        resp = hostile.get(path)
        assert resp.status_code in (200, 410), path
        _assert_page_headers(resp)
        body = resp.get_data(as_text=True)
        assert_harmless(body, path, page=True)
        if path.startswith("/articles/x"):
            i = int(path.rsplit("x", 1)[1])
            if i == 0:
                assert str(escape(f"R {PAYLOADS[0]}")) in body
                continue
            for text in (_title(i, PAYLOADS[i]), f"S{i} {PAYLOADS[i]}", f"N{i} {PAYLOADS[i]}"):
                assert str(escape(text)) in body, (path, text)
            assert_harmless(body.split('<div class="content">', 1)[1].split("</div>", 1)[0], path)
    index = hostile.get("/").get_data(as_text=True)
    for i in range(1, len(PAYLOADS)):
        assert str(escape(_title(i, PAYLOADS[i]))) in index


def test_embed_frame_escapes_titles(hostile):
    resp = hostile.get("/embed/all.html?limit=20")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    shown = [i for i in range(1, len(PAYLOADS)) if str(escape(_title(i, PAYLOADS[i]))) in body]
    assert len(shown) >= 15  # the newest 20, less any withdrawn
    assert_harmless(body, "/embed/all.html", page=True)


def test_error_pages_send_the_same_headers(hostile):
    for path in ("/articles/nope", "/ministries/nope", "/no/such/page"):
        resp = hostile.get(path)
        assert resp.status_code == 404
        _assert_page_headers(resp)
        assert_harmless(resp.get_data(as_text=True), path, page=True)


def test_opml_names_are_escaped(hostile):
    resp = hostile.get("/feeds.opml")
    assert resp.status_code == 200
    root = etree.fromstring(resp.data)
    texts = [el.get("text") or "" for el in root.iter("outline")]
    assert any("<script>alert('ministry')</script> Institute" in t for t in texts)
    assert not [el for el in root.iter() if isinstance(el.tag, str) and el.tag.lower() in ("script", "img")]
