"""The validator's vocabulary: every rule it checks, the ``Problem`` it reports, the report that collects them,
and the ``Document``: what one feed document says, read once and shared by the spec, history and store checks.

Rule names are stable (tests, scripts and people grep for them): ``<family>:<what-is-wrong>``. Each rule has a
severity (``error`` fails validation, ``warning`` is advice) and cites the section of the spec it comes from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

ERROR = "error"
WARNING = "warning"
MAX_PER_RULE = 20  # per document; beyond this one line says how many more were found


class Rule(NamedTuple):
    severity: str
    cite: str
    summary: str


def _e(cite: str, summary: str) -> Rule:
    return Rule(ERROR, cite, summary)


def _w(cite: str, summary: str) -> Rule:
    return Rule(WARNING, cite, summary)


RULES: dict[str, Rule] = {
    # 1. Well-formedness
    "xml:not-well-formed": _e("XML 1.0 §2.1, Namespaces in XML §7", "the document is not well-formed (namespace-well-formed) XML"),
    "xml:undefined-entity": _e("XML 1.0 §4.1 WFC: Entity Declared", "an entity reference such as &nbsp; is not declared"),
    "xml:forbidden-character": _e("XML 1.0 §2.2 Char", "a character XML forbids (C0 control, U+FFFE, U+FFFF), literal or as &#N;"),
    "xml:encoding": _e("XML 1.0 §4.3.3", "the bytes are not in the declared encoding (UTF-8 when none is declared), or it is unknown"),
    "xml:encoding-conflict": _w("RFC 7303 §3.2", "the HTTP charset and the XML declaration name different encodings"),
    "json:not-well-formed": _e("RFC 8259 §2", "the document is not JSON"),
    "json:encoding": _e("RFC 8259 §8.1", "JSON exchanged between systems must be UTF-8 without a byte order mark"),
    "json:duplicate-key": _w("RFC 8259 §4", "an object has the same member name twice; readers keep different ones"),
    # 2. The feedparser round trip
    "feed:format-unknown": _e("issue 5", "not an Atom 1.0, RSS 2.0 or JSON Feed 1.x document"),
    "feedparser:bozo": _e("feedparser", "feedparser flags the document as malformed (bozo)"),
    "feedparser:version": _e("feedparser", "the format feedparser detects is not the one served"),
    # 3a. Atom (RFC 4287)
    "atom:obsolete-namespace": _e("RFC 4287 §2", "the root is not in the Atom 1.0 namespace http://www.w3.org/2005/Atom"),
    "atom:feed-id-missing": _e("RFC 4287 §4.1.1", "atom:feed must contain exactly one atom:id"),
    "atom:feed-title-missing": _e("RFC 4287 §4.1.1", "atom:feed must contain exactly one atom:title"),
    "atom:feed-updated-missing": _e("RFC 4287 §4.1.1", "atom:feed must contain exactly one atom:updated"),
    "atom:entry-id-missing": _e("RFC 4287 §4.1.2", "atom:entry must contain exactly one atom:id"),
    "atom:entry-title-missing": _e("RFC 4287 §4.1.2", "atom:entry must contain exactly one atom:title"),
    "atom:entry-updated-missing": _e("RFC 4287 §4.1.2", "atom:entry must contain exactly one atom:updated"),
    "atom:element-duplicate": _e("RFC 4287 §4.1.1, §4.1.2", "an element that may appear once appears more than once"),
    "atom:author-missing": _e("RFC 4287 §4.1.1, §4.1.2", "an entry has no author, and neither has the feed"),
    "atom:self-link-missing": _e("RFC 4287 §4.1.1 (SHOULD; required here)", "atom:feed has no link rel=\"self\""),
    "atom:id-not-absolute": _e("RFC 4287 §4.2.6", "an atom:id is not an absolute IRI"),
    "atom:entry-id-duplicate": _e("RFC 4287 §4.1.1, §4.2.6 (unique here)", "two entries share an atom:id"),
    "atom:date-invalid": _e("RFC 4287 §3.3", "a date is not an RFC 3339 date-time with uppercase T and Z"),
    "atom:link-href-missing": _e("RFC 4287 §4.2.7.1", "atom:link has no href"),
    "atom:link-not-absolute": _e("RFC 4287 §4.2.7.1, XML Base §4.2", "a link is not an absolute IRI, nor resolved by an absolute xml:base"),
    "atom:person-name-missing": _e("RFC 4287 §3.2.1", "an author or contributor has no atom:name"),
    "atom:text-type-invalid": _e("RFC 4287 §3.1.1", "a text construct's type is not text, html or xhtml"),
    "atom:xhtml-div-missing": _e("RFC 4287 §3.1.1.3, §4.1.3.3", "type=\"xhtml\" content must be a single xhtml:div"),
    "atom:entry-content-missing": _e("RFC 4287 §4.1.1", "an entry has neither atom:content nor a link rel=\"alternate\""),
    "atom:entry-in-future": _e("RFC 4287 §4.2.15 (an instant not yet come)", "an entry is dated in the future"),
    "atom:double-escaped-html": _e("RFC 4287 §3.1.1.2", "type=\"html\" text is escaped twice: readers show the markup"),
    # 3b. RFC 6721 tombstones
    "tombstone:ref-invalid": _e("RFC 6721 §3", "at:deleted-entry needs a ref that is an absolute IRI"),
    "tombstone:when-invalid": _e("RFC 6721 §3", "at:deleted-entry needs a when that is an RFC 3339 date-time"),
    # 3c. RSS 2.0 and the RSS Advisory Board profile
    "rss:version": _e("RSS 2.0 (rss element)", "the root must be <rss version=\"2.0\">"),
    "rss:channel-missing": _e("RSS 2.0 (rss element)", "<rss> must contain one <channel>"),
    "rss:channel-title-missing": _e("RSS 2.0 Required channel elements", "the channel has no title"),
    "rss:channel-link-missing": _e("RSS 2.0 Required channel elements", "the channel has no link"),
    "rss:channel-description-missing": _e("RSS 2.0 Required channel elements", "the channel has no description"),
    "rss:element-duplicate": _e("RSS Profile §3", "an element that may appear once appears more than once"),
    "rss:item-title-or-description-missing": _e("RSS 2.0 Elements of <item>", "an item has neither title nor description"),
    "rss:guid-duplicate": _e("RSS 2.0 <guid>, RSS Profile §4.3", "two items share a guid"),
    "rss:guid-permalink-not-url": _e("RSS 2.0 <guid>", "a guid is a permalink (isPermaLink is true or absent) but not a URL"),
    "rss:url-invalid": _e("RSS Profile §3, §4", "a link, enclosure or atom:link is not a full URL"),
    "rss:date-invalid": _e("RSS 2.0, RFC 822 §5", "a date is not an RFC 822 date-time"),
    "rss:date-weekday": _e("RFC 822 §5", "a date names the wrong day of the week"),
    "rss:date-problematic": _w("RSS Profile §3.2", "an RFC 822 date in a form many readers misread (2-digit year, case)"),
    "rss:self-link-missing": _e("RSS Profile §3.1 (atom:link)", "the channel has no atom:link rel=\"self\""),
    "rss:double-escaped-html": _e("RSS Profile §4.2 (Encoding HTML)", "HTML is escaped twice: readers show the markup"),
    "rss:enclosure-invalid": _e("RSS 2.0 <enclosure>", "an enclosure lacks url, length or type"),
    "rss:item-in-future": _w("RSS 2.0 <pubDate>", "an item is dated in the future; readers may hide it until then"),
    # 3d. JSON Feed 1.1
    "json:feed-not-object": _e("JSON Feed 1.1 Top-level", "the top level must be an object"),
    "json:version-missing": _e("JSON Feed 1.1 Top-level (version)", "version is required"),
    "json:version-invalid": _e("JSON Feed 1.1 Top-level (version)", "version must be https://jsonfeed.org/version/1.1 (or /1)"),
    "json:title-missing": _e("JSON Feed 1.1 Top-level (title)", "title is required"),
    "json:items-missing": _e("JSON Feed 1.1 Top-level (items)", "items is required and must be an array"),
    "json:item-invalid": _e("JSON Feed 1.1 Items", "an item must be an object"),
    "json:item-id-missing": _e("JSON Feed 1.1 Items (id)", "an item has no id"),
    "json:item-id-not-string": _w("JSON Feed 1.1 Items (id)", "an item id is not a string; readers coerce it"),
    "json:item-id-duplicate": _e("JSON Feed 1.1 Items (id)", "two items share an id"),
    "json:item-content-missing": _e("JSON Feed 1.1 Items (content_html, content_text)", "an item has neither content_html nor content_text"),
    "json:date-invalid": _e("JSON Feed 1.1 Items (date_published, date_modified)", "a date is not RFC 3339"),
    "json:type-invalid": _e("JSON Feed 1.1", "a member has the wrong JSON type"),
    "json:url-relative": _w("JSON Feed 1.1", "a URL is relative; JSON has no base to resolve it against"),
    "json:feed-url-missing": _w("JSON Feed 1.1 Top-level (feed_url)", "feed_url is strongly recommended"),
    "json:author-deprecated": _w("JSON Feed 1.1 Top-level (authors)", "author is deprecated in 1.1; use authors"),
    "json:item-in-future": _w("JSON Feed 1.1 Items", "an item is dated in the future"),
    "json:double-escaped-html": _e("JSON Feed 1.1 Items (content_html)", "content_html is escaped twice: readers show the markup"),
    # 3e. RFC 5005 archived feeds
    "rfc5005:archive-marker-missing": _e("RFC 5005 §4", "an archive document does not carry fh:archive"),
    "rfc5005:current-marked-archive": _e("RFC 5005 §4", "the subscription document carries fh:archive"),
    "rfc5005:current-link-missing": _w("RFC 5005 §4", "an archive document has no link rel=\"current\""),
    "rfc5005:chain-inconsistent": _e("RFC 5005 §4", "prev-archive and next-archive links do not mirror each other, or loop"),
    # 4. Against the store
    "store:document-missing": _e("issue 5 §4", "a document the store calls for is not served"),
    "store:feed-mismatch": _e("issue 5 §4", "a feed-level field (id, title, self, updated, links) differs from the store"),
    "store:entries-mismatch": _e("issue 5 §4", "the entries, or their order, differ from the store's selection"),
    "store:entry-mismatch": _e("issue 5 §4", "an entry field differs from the store's article"),
    "store:withdrawn-entry-present": _e("issue 5 §4", "a withdrawn article is served as a live entry"),
    "store:archive-walk": _e("issue 5 §4, RFC 5005 §4.2", "walking the archive chain does not reproduce the selection"),
    # 5. HTTP
    "http:content-type": _e("RFC 4287 §7, RSS Profile, JSON Feed 1.1", "the Content-Type is not the format's media type"),
    "http:etag-missing": _e("RFC 9110 §8.8.3", "the response has no ETag"),
    "http:last-modified-missing": _e("RFC 9110 §8.8.2", "the response has no Last-Modified"),
    "http:not-revalidated": _e("RFC 9110 §13.1.2", "If-None-Match with the current ETag did not give 304"),
    "http:store-version": _e("issue 5 §5", "the server serves a different store version than the one compared with"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: in which document (``feed``) and entry, which rule, and what is wrong."""

    feed: str
    entry: str
    rule: str
    message: str
    severity: str = ERROR
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.feed}:{self.line}" if self.line else self.feed
        return f"{where}: {self.entry or 'feed'}: {self.severity} {self.rule}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "feed": self.feed, "line": self.line, "entry": self.entry or None, "rule": self.rule,
            "severity": self.severity, "message": self.message, "cite": RULES[self.rule].cite,
        }


@dataclass
class Report:
    """Every problem found in a run, and how many documents were checked."""

    problems: list[Problem] = field(default_factory=list)
    documents: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == WARNING)

    def rules(self, severity: str | None = None) -> set[str]:
        return {p.rule for p in self.problems if severity is None or p.severity == severity}

    def add(self, feed: str, rule: str, message: str, entry: str = "", line: int | None = None) -> None:
        """Records a problem outside any one document's collector (e.g. between documents)."""
        self.problems.append(Problem(feed, entry, rule, message, RULES[rule].severity, line))

    def collector(self, feed: str) -> "Collector":
        self.documents += 1
        return Collector(self, feed)


class Collector:
    """Adds one document's problems to a report, at most ``MAX_PER_RULE`` lines per rule."""

    def __init__(self, report: Report, feed: str) -> None:
        self.report = report
        self.feed = feed
        self.counts: Counter[str] = Counter()

    def add(self, rule: str, message: str, entry: str = "", line: int | None = None) -> None:
        """Records a problem; raises KeyError for a rule not in RULES (a bug in the validator)."""
        severity = RULES[rule].severity
        self.counts[rule] += 1
        n = self.counts[rule]
        if n <= MAX_PER_RULE:
            self.report.problems.append(Problem(self.feed, entry, rule, message, severity, line))

    def close(self) -> None:
        """Adds one line per rule that was cut off, saying how many more there were."""
        for rule, n in self.counts.items():
            if n > MAX_PER_RULE:
                more = n - MAX_PER_RULE
                self.report.problems.append(
                    Problem(self.feed, "", rule, f"... and {more} more like this in this document", RULES[rule].severity)
                )

    def has(self, *rules: str) -> bool:
        return any(self.counts[r] for r in rules)


@dataclass
class Document:
    """What one feed document says, format-agnostic where it can be.

    ``entries`` are feedparser's entries (plain dicts) for Atom and RSS, the raw item objects for JSON Feed.
    ``links`` maps a feed-level link relation to its absolute hrefs (JSON Feed: feed_url is ``self``,
    home_page_url ``alternate``, next_url ``next``).
    """

    name: str
    format: str | None = None  # "atom", "rss", "json", or None when not a feed we know
    version: str | None = None  # feedparser's name: atom10, rss20, json1, json11
    links: dict[str, list[str]] = field(default_factory=dict)
    archive: bool = False  # carries fh:archive (RFC 5005 §4)
    feed: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, str]] = field(default_factory=list)  # RFC 6721: ref, when
    extra: dict[str, Any] = field(default_factory=dict)  # per-format raw details the store check needs

    def link(self, rel: str) -> str | None:
        hrefs = self.links.get(rel)
        return hrefs[0] if hrefs else None
