"""The reference renderer: the same Atom and RSS documents built with feedgen, as the service once did.

feedservice writes XML as text for speed (feeds_xml.py says why). This module keeps the feedgen version as
an oracle: tests/test_oracle.py parses both renderings of every document and requires the same feed, field by
field. It fills feedgen's gaps the way the service did: entry links lose their rel in feedgen 1.0, RFC 5005
links and fh:archive, atom:link in RSS and the syndication module (feedgen writes sy:UpdatePeriod, wrongly
capitalised) come from one extension.
"""

from __future__ import annotations

import html
from email.utils import format_datetime
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from feedservice.archive import FeedDocument
from feedservice.feeds import (
    RenderSettings, _links, _sy_period, _ttl_minutes, content_html, feed_subtitle, feed_title, refresh_seconds,
    self_path,
)
from feedservice.feeds_xml import ATOM_NS, DC_NS, FH_NS, GENERATOR, SY_NS, TOMBSTONE_NS
from feedservice.store import Store
from feedservice.urls import CONTENT_TYPES, article_path, html_path


def render(store: Store, doc: FeedDocument, fmt: str, settings: RenderSettings) -> bytes:
    return _atom(store, doc, settings) if fmt == "atom" else _rss(store, doc, settings)


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


