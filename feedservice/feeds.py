"""Turns a ``FeedDocument`` into Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes.

Same document in, same bytes out: every date comes from the store, entries keep the document's order, and
nothing depends on the request. The XML formats are written by ``feeds_xml``; JSON Feed is a dict.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from typing import Any

from . import feeds_xml
from .archive import ARCHIVE_MAX_AGE, FeedDocument
from .store import Article, Selection, Store
from .urls import CONTENT_TYPES, Site, article_path, feed_path, html_path

SY_NS = feeds_xml.SY_NS
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


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
    if fmt in ("atom", "rss"):
        writer = feeds_xml.atom if fmt == "atom" else feeds_xml.rss
        return writer(store, doc, settings.site, _head(store, doc, fmt, settings), content_html)
    if fmt == "json":
        return _json(store, doc, settings)
    raise ValueError(f"unknown feed format {fmt!r}; use one of {', '.join(CONTENT_TYPES)}")


def _head(store: Store, doc: FeedDocument, fmt: str, settings: RenderSettings) -> feeds_xml.Head:
    refresh = refresh_seconds(doc, settings)
    period, frequency = _sy_period(refresh)
    return feeds_xml.Head(
        feed_id=settings.site.feed_id(doc.selection.key),
        title=feed_title(store, doc.selection),
        subtitle=feed_subtitle(store, doc.selection),
        self_url=settings.site.url(self_path(doc, fmt)),
        content_type=CONTENT_TYPES[fmt].split(";")[0],
        links=_links(doc, fmt, settings),
        period=period,
        frequency=frequency,
        ttl=_ttl_minutes(refresh),
    )


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


def _sy_period(max_age: int) -> tuple[str, int]:
    """Returns (updatePeriod, updateFrequency) closest to one refresh every ``max_age`` seconds."""
    for period, seconds in (("hourly", 3600), ("daily", 86400), ("weekly", 604800), ("monthly", 2592000)):
        if max_age <= seconds:
            return period, max(1, round(seconds / max(1, max_age)))
    return "yearly", max(1, round(31536000 / max_age))


def content_html(art: Article) -> str | None:
    """Returns the article's HTML content with its correction notes appended, or None if it has neither."""
    if not art.corrections:
        return art.content_html
    notes = "".join(
        f"<li><time datetime=\"{c.date.isoformat()}\">{c.date.date().isoformat()}</time>: {html.escape(c.note)}</li>"
        for c in art.corrections
    )
    body = art.content_html  # cleaned on first use (Article.content_html): ask once
    if body is None:
        body = f"<p>{html.escape(art.summary)}</p>"
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
