"""The feed validator: proves a feed is well-formed, reads back as what it claims, follows its spec, and (for
this service's own feeds) says exactly what the store says.

Checks, in order, each problem naming its rule (see ``RULES``):

1. well-formedness: XML (declared encoding honoured, no undeclared entities or forbidden characters) or JSON;
2. the feedparser round trip: not bozo, detected as the format served (atom10, rss20, json1/json11);
3. the specs: RFC 4287 (with RFC 6721 tombstones), RSS 2.0 and the RSS Advisory Board profile, JSON Feed 1.1,
   RFC 5005 archive markers and links;
4. against the store (``validate_store``): entries, order, every field, and the archive walk;
5. HTTP, against a running server: Content-Type, ETag, Last-Modified, 304 on revalidation.

``check_document`` runs 1 to 3 on one document; ``validate_sources`` on files and URLs; ``validate_store.run``
on every document of a store, in process or over HTTP, with ``validate_compare`` for check 4 and
``validate_http`` for check 5. Rules and the report live in ``validate_rules``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterable

from lxml import etree

from . import validate_atom, validate_history, validate_json, validate_rss, validate_xml
from .errors import ValidationFailed
from .validate_http import charset_of, media_type, read_source
from .validate_rules import ERROR, RULES, WARNING, Collector, Document, Problem, Report, Rule

__all__ = [
    "ERROR", "RULES", "WARNING", "Collector", "Document", "Problem", "Report", "Rule",
    "check_document", "check_into", "validate_sources", "render_text", "render_json", "rules_table",
]

SERVED_FORMATS = {
    "application/atom+xml": "atom",
    "application/rss+xml": "rss",
    "application/feed+json": "json",
}
EXPECTED_VERSION = {"atom": "atom10", "rss": "rss20"}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_document(
    body: bytes, name: str, report: Report, *, content_type: str | None = None, url: str | None = None,
    now: dt.datetime | None = None,
) -> Document:
    """Runs checks 1 to 3 on one document, adding problems to ``report``; returns what the document says."""
    col = report.collector(name)
    try:
        return check_into(body, col, content_type=content_type, url=url, now=now)
    finally:
        col.close()


def check_into(
    body: bytes, col: Collector, *, content_type: str | None = None, url: str | None = None, now: dt.datetime | None = None,
) -> Document:
    """Like ``check_document``, into an open collector (so callers can add their own checks to the same document)."""
    now = now or now_utc()
    doc = Document(col.feed)
    served = SERVED_FORMATS.get(media_type(content_type) or "")
    if validate_json.looks_like_json(body):
        data = validate_json.parse(body, col)
        if data is None:
            return doc
        doc.format = "json"
        validate_json.check(data, col, doc, now)
        if served and served != "json":
            col.add("feedparser:version", f"served as {media_type(content_type)}, but the document is JSON Feed")
        return doc
    text = validate_xml.decode(body, col, charset_of(content_type))
    if text is None:
        return doc
    root = validate_xml.parse(text, col)
    if root is None:
        return doc
    fmt = _xml_format(root)
    if fmt is None:
        col.add(
            "feed:format-unknown",
            f"the root element is <{_qname(root)}>; only Atom 1.0 <feed>, RSS 2.0 <rss> and JSON Feed are checked",
            line=root.sourceline,
        )
        return doc
    doc.format = fmt
    headers = {"content-type": content_type} if content_type else {}
    if url:
        headers["content-location"] = url
    expected = EXPECTED_VERSION.get(served or fmt, "json11")
    parsed = validate_xml.round_trip(body, col, expected, headers)
    doc.version = parsed.get("version")
    doc.feed = parsed.get("feed") or {}
    doc.entries = parsed.get("entries") or []
    (validate_atom if fmt == "atom" else validate_rss).check(root, col, doc, now)
    validate_history.check_document(doc, col)
    return doc


def _xml_format(root: etree._Element) -> str | None:
    if root.tag in (f"{{{validate_atom.NS}}}feed", f"{{{validate_atom.ATOM03_NS}}}feed"):
        return "atom"
    if root.tag == "rss":
        return "rss"
    return None


def _qname(root: etree._Element) -> str:
    q = etree.QName(root)
    return f"{q.localname} xmlns=\"{q.namespace}\"" if q.namespace else q.localname


def validate_sources(sources: Iterable[str], report: Report, now: dt.datetime | None = None) -> list[str]:
    """Runs checks 1 to 3 on each file or http(s) URL, then RFC 5005 chain checks among them.

    Returns the sources that could not be read (one message each); the others are validated regardless.
    """
    failures: list[str] = []
    docs: list[Document] = []
    for source in sources:
        try:
            body, content_type, url = read_source(source)
        except ValidationFailed as e:
            failures.append(str(e))
            continue
        docs.append(check_document(body, source, report, content_type=content_type, url=url, now=now))
    validate_history.check_chain(docs, report)
    return failures


def render_text(report: Report, what: str, seconds: float) -> list[str]:
    """Returns one line per problem (``feed:line: entry: severity rule: message``) and a summary line."""
    lines = [str(p) for p in report.problems]
    verdict = "problems found" if report.errors else "ok"
    lines.append(
        f"feedservice validate: {what}: {report.documents} document(s), {report.errors} error(s), "
        f"{report.warnings} warning(s) in {seconds:.1f} s: {verdict}"
    )
    return lines


def render_json(report: Report, what: str, seconds: float, failures: list[str] | None = None) -> str:
    """Returns the report as one JSON object for machines."""
    return json.dumps(
        {
            "validated": what,
            "ok": not report.errors and not failures,
            "documents": report.documents,
            "errors": report.errors,
            "warnings": report.warnings,
            "seconds": round(seconds, 3),
            "problems": [p.as_dict() for p in report.problems],
            "failures": failures or [],
        },
        ensure_ascii=False,
        indent=2,
    )


def rules_table() -> list[str]:
    """Returns one line per rule: name, severity, spec section, and what it means."""
    width = max(len(name) for name in RULES)
    return [f"{name:<{width}}  {r.severity:<7}  {r.cite}: {r.summary}" for name, r in RULES.items()]
