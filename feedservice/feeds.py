"""Turns a ``FeedDocument`` into Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes. The only module that imports feedgen.

Same document in, same bytes out: every date comes from the store (feedgen's defaults of "now" are always
overridden), entries keep the document's order, and nothing depends on the request.
"""

from __future__ import annotations

import html
import json
import math
from email.utils import format_datetime
from dataclasses import dataclass
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from .archive import ARCHIVE_MAX_AGE, FeedDocument
from .store import Article, Selection, Store
from .urls import CONTENT_TYPES, Site, article_path, feed_path, html_path

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
TOMBSTONE_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
DC_NS = "http://purl.org/dc/elements/1.1/"
SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "feedservice"


@dataclass(frozen=True, slots=True)
class RenderSettings:
    site: Site
    max_age: int  # seconds; drives RSS ttl and sy:updatePeriod/updateFrequency
    hub: str | None = None  # WebSub hub URL


def feed_title(store: Store, selection: Selection) -> str:
    portal = store.portal.title
    return portal if selection.key == "all" else f"{portal}: {selection.title}"


def feed_subtitle(store: Store, selection: Selection) -> str:
    kind = selection.key.split("/", 1)[0]
    if kind == "ministries":
        return f"News from {selection.title}, via the {store.portal.title}"
    if kind == "topics":
        return f"News on {selection.title}, from the {store.portal.title}"
    return store.portal.subtitle or f"News from the {store.portal.title}"


def render(store: Store, doc: FeedDocument, fmt: str, settings: RenderSettings) -> bytes:
    """Returns the document in ``fmt`` ('atom', 'rss' or 'json') as UTF-8 bytes."""
    if fmt == "atom":
        return _atom(store, doc, settings)
    if fmt == "rss":
        return _rss(store, doc, settings)
    if fmt == "json":
        return _json(store, doc, settings)
    raise ValueError(f"unknown feed format {fmt!r}; use one of {', '.join(CONTENT_TYPES)}")


def self_path(doc: FeedDocument, fmt: str) -> str:
    path = feed_path(doc.selection.key, fmt, doc.page)
    return path if doc.limit is None else f"{path}?limit={doc.limit}"


def _links(doc: FeedDocument, fmt: str, settings: RenderSettings) -> list[tuple[str, str, str]]:
    """Returns the document's (rel, href, type) links beyond self and alternate: RFC 5005 and WebSub."""
    site, key = settings.site, doc.selection.key
    ctype = CONTENT_TYPES[fmt].split(";")[0]
    links = []
    if doc.is_archive:
        links.append(("current", site.url(feed_path(key, fmt)), ctype))
    if doc.prev_archive:
        links.append(("prev-archive", site.url(feed_path(key, fmt, doc.prev_archive)), ctype))
    if doc.next_archive:
        links.append(("next-archive", site.url(feed_path(key, fmt, doc.next_archive)), ctype))
    if settings.hub and not doc.is_archive:
        links.append(("hub", settings.hub, ""))
    return links


def refresh_seconds(doc: FeedDocument, settings: RenderSettings) -> int:
    """Returns how often a reader should poll this document: the configured interval, a year for archive
    pages. One number behind RSS ttl, sy:updatePeriod/updateFrequency and HTTP Cache-Control max-age."""
    return ARCHIVE_MAX_AGE if doc.is_archive else settings.max_age


def _ttl_minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


class _FeedExtension(BaseExtension):
    """Fills what feedgen leaves out: RFC 5005 links and fh:archive, atom:link in RSS, the syndication module."""

    def __init__(self) -> None:
        self.fmt = "atom"
        self.links: list[tuple[str, str, str]] = []
        self.archive = False
        self.max_age = 0
        self.tombstones: list[tuple[str, str, str]] = []  # (ref, when, reason)

    def extend_ns(self) -> dict[str, str]:
        if self.fmt == "atom":
            return {"fh": FH_NS, "at": TOMBSTONE_NS, "sy": SY_NS}
        return {"fh": FH_NS, "dc": DC_NS, "sy": SY_NS}

    def _syndication(self, parent: Any) -> None:
        # One refresh interval said everywhere: ttl, sy:updatePeriod/updateFrequency, Cache-Control.
        period, frequency = _sy_period(self.max_age)
        xml_elem(f"{{{SY_NS}}}updatePeriod", parent).text = period
        xml_elem(f"{{{SY_NS}}}updateFrequency", parent).text = str(frequency)

    def extend_atom(self, feed: Any) -> Any:
        for rel, href, ctype in self.links:
            link = xml_elem("link", feed, rel=rel, href=href)
            if ctype:
                link.attrib["type"] = ctype
        if self.archive:
            xml_elem(f"{{{FH_NS}}}archive", feed)
        self._syndication(feed)
        for ref, when, reason in self.tombstones:
            # RFC 6721 section 2: at:deleted-entry with ref and when, the reason as at:comment. No atom:link
            # inside, though RFC 6721 allows one: feedparser 6 takes it for the feed's own alternate link.
            gone = xml_elem(f"{{{TOMBSTONE_NS}}}deleted-entry", feed, ref=ref, when=when)
            xml_elem(f"{{{TOMBSTONE_NS}}}comment", gone).text = reason
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        for rel, href, ctype in self.links:
            link = xml_elem(f"{{{ATOM_NS}}}link", channel, rel=rel, href=href)
            if ctype:
                link.attrib["type"] = ctype
        if self.archive:
            xml_elem(f"{{{FH_NS}}}archive", channel)
        self._syndication(channel)
        return feed


def _sy_period(max_age: int) -> tuple[str, int]:
    """Returns (updatePeriod, updateFrequency) closest to one refresh every ``max_age`` seconds."""
    for period, seconds in (("hourly", 3600), ("daily", 86400), ("weekly", 604800), ("monthly", 2592000)):
        if max_age <= seconds:
            return period, max(1, round(seconds / max(1, max_age)))
    return "yearly", max(1, round(31536000 / max_age))


class _EntryExtension(BaseExtension):
    """Per entry: typed Atom links (feedgen 1.0 drops rel/type on entry links) and dc:creator in RSS."""

    def __init__(self) -> None:
        self.related: str | None = None
        self.creators: tuple[str, ...] = ()
        self.pub_date: Any = None

    def extend_atom(self, entry: Any) -> Any:
        for link in entry.findall("link"):
            link.attrib["rel"] = "alternate"
            link.attrib["type"] = "text/html"
        if self.related:
            xml_elem("link", entry, rel="related", href=self.related)
        return entry

    def extend_rss(self, item: Any) -> Any:
        if self.pub_date is not None:
            # RFC 822 date with the portal's offset (+0900). Written here rather than by feedgen, whose
            # formatter switches the process locale for every date: slow, and unsafe across threads.
            xml_elem("pubDate", item).text = format_datetime(self.pub_date)
        for name in self.creators:
            xml_elem(f"{{{DC_NS}}}creator", item).text = name
        return item


def _generator(store: Store, doc: FeedDocument, fmt: str, settings: RenderSettings) -> FeedGenerator:
    site, key = settings.site, doc.selection.key
    fg = FeedGenerator()
    fg.register_extension("feedservice", _FeedExtension, _EntryExtension)
    ext: _FeedExtension = fg.feedservice  # type: ignore[attr-defined]
    ext.fmt, ext.links, ext.archive = fmt, _links(doc, fmt, settings), doc.is_archive
    ext.max_age = refresh_seconds(doc, settings)
    fg.id(site.feed_id(key))
    fg.title(feed_title(store, doc.selection))
    fg.updated(doc.updated)
    fg.language(store.portal.language)
    fg.generator(GENERATOR)
    fg.link(href=site.url(self_path(doc, fmt)), rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    # feedgen takes the RSS channel link from the last link added: the HTML page.
    fg.link(href=site.url(html_path(key)), rel="alternate", type="text/html")
    return fg


def _atom(store: Store, doc: FeedDocument, settings: RenderSettings) -> bytes:
    site = settings.site
    fg = _generator(store, doc, "atom", settings)
    fg.subtitle(feed_subtitle(store, doc.selection))
    fg.author(name=store.portal.author, uri=site.url("/"))
    fg.feedservice.tombstones = [  # type: ignore[attr-defined]
        (site.entry_id(a.id), a.withdrawn.date.isoformat(), a.withdrawn.reason)  # type: ignore[union-attr]
        for a in doc.tombstones
    ]
    for art in doc.entries:
        fe = fg.add_entry(order="append")
        fe.id(site.entry_id(art.id))
        fe.title(art.title)
        fe.updated(art.updated)
        fe.published(art.published)
        fe.link(href=site.url(article_path(art.id)))
        fe.feedservice.related = art.url
        for slug in art.ministries:
            m = store.ministries[slug]
            fe.author(name=m.name, uri=m.homepage) if m.homepage else fe.author(name=m.name)
        for slug in art.topics:
            fe.category(term=slug, label=store.topics[slug].name, scheme=site.topic_scheme())
        fe.summary(art.summary, type="text")
        body = content_html(art)
        if body is not None:
            fe.content(body, type="html")
    return fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _rss(store: Store, doc: FeedDocument, settings: RenderSettings) -> bytes:
    site = settings.site
    fg = _generator(store, doc, "rss", settings)
    fg.description(html.escape(feed_subtitle(store, doc.selection), quote=False))  # HTML, like item descriptions
    fg.ttl(_ttl_minutes(refresh_seconds(doc, settings)))
    for art in doc.entries:
        fe = fg.add_entry(order="append")
        fe.title(art.title)
        fe.link(href=site.url(article_path(art.id)))
        fe.guid(site.entry_id(art.id), permalink=False)
        fe.feedservice.pub_date = art.published
        for slug in art.topics:
            fe.category(term=store.topics[slug].name, scheme=site.topic_scheme())
        fe.feedservice.creators = tuple(store.ministries[s].name for s in art.ministries)
        # RSS description is HTML: the plain-text summary is escaped for HTML once, then for XML by lxml.
        fe.description(html.escape(art.summary, quote=False))
        body = content_html(art)
        if body is not None:
            fe.content(body)
    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def content_html(art: Article) -> str | None:
    """Returns the article's HTML content with its correction notes appended, or None if it has neither."""
    if not art.corrections:
        return art.content_html
    notes = "".join(
        f"<li><time datetime=\"{c.date.isoformat()}\">{c.date.date().isoformat()}</time>: {html.escape(c.note)}</li>"
        for c in art.corrections
    )
    body = art.content_html if art.content_html is not None else f"<p>{html.escape(art.summary)}</p>"
    return f'{body}<aside class="corrections"><p>Corrections:</p><ul>{notes}</ul></aside>'


def _json(store: Store, doc: FeedDocument, settings: RenderSettings) -> bytes:
    site, key = settings.site, doc.selection.key
    feed: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": feed_title(store, doc.selection),
        "home_page_url": site.url(html_path(key)),
        "feed_url": site.url(self_path(doc, "json")),
        "description": feed_subtitle(store, doc.selection),
        "language": store.portal.language,
        "authors": [{"name": store.portal.author, "url": site.url("/")}],
    }
    if doc.prev_archive:
        # JSON Feed pages backwards with next_url: the next document holds older items.
        feed["next_url"] = site.url(feed_path(key, "json", doc.prev_archive))
    if settings.hub and not doc.is_archive:
        feed["hubs"] = [{"type": "WebSub", "url": settings.hub}]
    period, frequency = _sy_period(refresh_seconds(doc, settings))
    # JSON Feed extension (section "Extensions"): the same refresh interval as RSS sy: and Cache-Control.
    feed["_syndication"] = {"about": SY_NS, "update_period": period, "update_frequency": frequency}
    items = []
    for art in doc.entries:
        item: dict[str, Any] = {
            "id": site.entry_id(art.id),
            "url": site.url(article_path(art.id)),
            "title": art.title,
            "summary": art.summary,
        }
        if art.url:
            item["external_url"] = art.url
        body = content_html(art)
        if body is not None:
            item["content_html"] = body
        else:
            item["content_text"] = art.summary
        item["date_published"] = art.published.isoformat()
        item["date_modified"] = art.updated.isoformat()
        item["tags"] = [store.topics[s].name for s in art.topics]
        item["authors"] = [_json_author(store, s) for s in art.ministries]
        items.append(item)
    feed["items"] = items
    # Compact: the C encoder (ten times faster than indenting); UTF-8 as is, not \u escapes.
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _json_author(store: Store, slug: str) -> dict[str, str]:
    m = store.ministries[slug]
    return {"name": m.name, "url": m.homepage} if m.homepage else {"name": m.name}
