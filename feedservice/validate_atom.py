"""Check 3 for Atom: RFC 4287 on the parsed tree, RFC 6721 tombstones accepted and checked.

Works on the lxml tree (feedparser forgives what the spec forbids, so the raw elements are the evidence).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urljoin

from lxml import etree

from .validate_rules import Collector, Document
from .validate_values import SCHEME_RE, double_escaped, in_future, is_absolute_iri, rfc3339, short

NS = "http://www.w3.org/2005/Atom"
A = f"{{{NS}}}"
ATOM03_NS = "http://purl.org/atom/ns#"
XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}deleted-entry"
FH_ARCHIVE = "{http://purl.org/syndication/history/1.0}archive"
FEED_ONCE = ("id", "title", "updated", "subtitle", "rights", "icon", "logo", "generator")
ENTRY_ONCE = ("id", "title", "updated", "published", "summary", "content", "rights", "source")
TEXT_CONSTRUCTS = ("title", "subtitle", "summary", "rights")
TEXT_TYPES = ("text", "html", "xhtml")


def check(root: etree._Element, col: Collector, doc: Document, now: dt.datetime) -> None:
    """Checks an Atom feed document; fills ``doc.links``, ``doc.archive`` and ``doc.tombstones``."""
    if root.tag == f"{{{ATOM03_NS}}}feed":
        col.add(
            "atom:obsolete-namespace",
            f"the feed is in the Atom 0.3 namespace {ATOM03_NS}; Atom 1.0 is {NS}",
            line=root.sourceline,
        )
        return
    _once(root, FEED_ONCE, col, "")
    for name in ("id", "title", "updated"):
        if root.find(A + name) is None:
            col.add(f"atom:feed-{name}-missing", f"atom:feed has no atom:{name}; add exactly one", line=root.sourceline)
    _id(root, col, "")
    _date(root, "updated", col, "")
    _texts(root, col, "")
    feed_has_author = _persons(root, col, "")
    links = _links(root, col, "")
    doc.links = links
    doc.archive = root.find(FH_ARCHIVE) is not None
    if root.find(f"{A}link[@rel='self']") is None:
        col.add(
            "atom:self-link-missing",
            "atom:feed has no <link rel=\"self\" href=\"...\">: readers need it to know the feed's URL",
            line=root.sourceline,
        )
    seen: dict[str, int] = {}
    for i, entry in enumerate(root.iterfind(A + "entry")):
        _entry(entry, i, col, now, feed_has_author, seen)
    for stone in root.iterfind(TOMBSTONE):
        doc.tombstones.append(_tombstone(stone, col))


def _label(entry: etree._Element, i: int) -> str:
    el = entry.find(A + "id")
    text = (el.text or "").strip() if el is not None else ""
    return text or f"entry {i + 1}"


def _entry(entry: etree._Element, i: int, col: Collector, now: dt.datetime, feed_has_author: bool, seen: dict[str, int]) -> None:
    label = _label(entry, i)
    line = entry.sourceline
    _once(entry, ENTRY_ONCE, col, label)
    for name in ("id", "title", "updated"):
        if entry.find(A + name) is None:
            col.add(f"atom:entry-{name}-missing", f"atom:entry has no atom:{name}; add exactly one", label, line)
    entry_id = _id(entry, col, label)
    if entry_id:
        if entry_id in seen:
            col.add(
                "atom:entry-id-duplicate",
                f"entries {seen[entry_id] + 1} and {i + 1} share the id {entry_id}",
                label,
                line,
            )
        else:
            seen[entry_id] = i
    updated = _date(entry, "updated", col, label)
    published = _date(entry, "published", col, label)
    for name, when in (("updated", updated), ("published", published)):
        if in_future(when, now):
            col.add(
                "atom:entry-in-future",
                f"atom:{name} {when.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')})",
                label,
                line,
            )
            break
    _texts(entry, col, label)
    has_author = _persons(entry, col, label)
    source = entry.find(A + "source")
    if source is not None:
        has_author = _persons(source, col, label) or has_author
    if not has_author and not feed_has_author:
        col.add(
            "atom:author-missing",
            "the entry has no atom:author and neither has the feed; add one to either",
            label,
            line,
        )
    _links(entry, col, label)
    alternate = any(link.get("rel", "alternate").strip() == "alternate" for link in entry.iterfind(A + "link"))
    if entry.find(A + "content") is None and not alternate:
        col.add("atom:entry-content-missing", "the entry has neither atom:content nor a link rel=\"alternate\"", label, line)


def _once(parent: etree._Element, names: tuple[str, ...], col: Collector, label: str) -> None:
    for name in names:
        found = parent.findall(A + name)
        if len(found) > 1:
            col.add(
                "atom:element-duplicate",
                f"atom:{name} appears {len(found)} times; at most one is allowed",
                label,
                found[1].sourceline,
            )


def _id(parent: etree._Element, col: Collector, label: str) -> str | None:
    el = parent.find(A + "id")
    if el is None:
        return None
    value = (el.text or "").strip()
    if not is_absolute_iri(value):
        col.add(
            "atom:id-not-absolute",
            f"atom:id {short(value)} is not an absolute IRI; use e.g. tag:example.org,2025:articles/1",
            label,
            el.sourceline,
        )
    return value


def _date(parent: etree._Element, name: str, col: Collector, label: str) -> dt.datetime | None:
    el = parent.find(A + name)
    if el is None:
        return None
    value = (el.text or "").strip()
    when = rfc3339(value)
    if when is None:
        col.add(
            "atom:date-invalid",
            f"atom:{name} {short(value)} is not an RFC 3339 date-time like 2024-05-23T09:00:00+09:00",
            label,
            el.sourceline,
        )
    return when


def _texts(parent: etree._Element, col: Collector, label: str) -> None:
    for name in TEXT_CONSTRUCTS + ("content",):
        for el in parent.iterfind(A + name):
            kind = el.get("type", "text")
            if name == "content" and "/" in kind:
                continue  # a media type (RFC 4287 §4.1.3.1)
            if kind not in TEXT_TYPES:
                col.add(
                    "atom:text-type-invalid",
                    f"atom:{name} has type={kind!r}; use text, html or xhtml",
                    label,
                    el.sourceline,
                )
            elif kind == "xhtml":
                children = list(el)
                if len(children) != 1 or children[0].tag != XHTML_DIV or (el.text or "").strip() or (children[0].tail or "").strip():
                    col.add(
                        "atom:xhtml-div-missing",
                        f"type=\"xhtml\" atom:{name} must hold exactly one <div xmlns=\"http://www.w3.org/1999/xhtml\">",
                        label,
                        el.sourceline,
                    )
            elif kind == "html":
                bad = double_escaped(el.text or "")
                if bad:
                    col.add(
                        "atom:double-escaped-html",
                        f"atom:{name} contains {short(bad)}, which readers show as markup; escape HTML once",
                        label,
                        el.sourceline,
                    )


def _persons(parent: etree._Element, col: Collector, label: str) -> bool:
    authors = parent.findall(A + "author")
    for person in authors + parent.findall(A + "contributor"):
        name = person.find(A + "name")
        if name is None or not (name.text or "").strip():
            col.add(
                "atom:person-name-missing",
                f"atom:{etree.QName(person).localname} has no atom:name",
                label,
                person.sourceline,
            )
    return bool(authors)


def _base(el: etree._Element) -> str | None:
    """Returns the xml:base in effect for ``el`` (RFC 4287 §2, XML Base), or None if there is none."""
    bases = []
    node = el
    while node is not None:
        value = node.get(XML_BASE)
        if value is not None:
            bases.append(value.strip())
        node = node.getparent()
    base = None
    for value in reversed(bases):
        base = urljoin(base, value) if base else value
    return base


def _links(parent: etree._Element, col: Collector, label: str) -> dict[str, list[str]]:
    """Checks the atom:link children of ``parent``; returns rel -> absolute hrefs."""
    out: dict[str, list[str]] = {}
    for link in parent.iterfind(A + "link"):
        rel = link.get("rel", "alternate").strip()
        href = link.get("href")
        if href is None:
            col.add("atom:link-href-missing", f"<link rel=\"{rel}\"> has no href", label, link.sourceline)
            continue
        href = href.strip()
        if not SCHEME_RE.match(href):
            base = _base(link)
            if not base or not is_absolute_iri(base):
                col.add(
                    "atom:link-not-absolute",
                    f"<link rel=\"{rel}\" href={short(href)}> is relative and no absolute xml:base resolves it; write the full URL",
                    label,
                    link.sourceline,
                )
                continue
            href = urljoin(base, href)
        elif not is_absolute_iri(href):
            col.add(
                "atom:link-not-absolute",
                f"<link rel=\"{rel}\" href={short(href)}> is not a valid absolute IRI",
                label,
                link.sourceline,
            )
            continue
        out.setdefault(rel, []).append(href)
    return out


def _tombstone(stone: etree._Element, col: Collector) -> dict[str, str]:
    ref, when = stone.get("ref", ""), stone.get("when", "")
    label = ref or "at:deleted-entry"
    if not is_absolute_iri(ref.strip()):
        col.add(
            "tombstone:ref-invalid",
            f"at:deleted-entry ref={short(ref)} is not an absolute IRI (the deleted entry's atom:id)",
            label,
            stone.sourceline,
        )
    if rfc3339(when.strip()) is None:
        col.add(
            "tombstone:when-invalid",
            f"at:deleted-entry when={short(when)} is not an RFC 3339 date-time",
            label,
            stone.sourceline,
        )
    return {"ref": ref.strip(), "when": when.strip()}
