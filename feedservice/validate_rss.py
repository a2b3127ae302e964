"""Check 3 for RSS: RSS 2.0 and the RSS Advisory Board's Best Practices Profile, on the parsed tree."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from .validate_rules import Collector, Document
from .validate_values import double_escaped, in_future, is_full_url, rfc822, short

ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
FH_ARCHIVE = "{http://purl.org/syndication/history/1.0}archive"
CHANNEL_ONCE = (
    "title", "link", "description", "language", "copyright", "managingEditor", "webMaster", "pubDate",
    "lastBuildDate", "docs", "generator", "ttl", "image", "cloud", "textInput", "rating", "skipHours", "skipDays",
)
ITEM_ONCE = ("title", "link", "description", "author", "comments", "guid", "pubDate", "source")
EXAMPLE_DATE = "Tue, 26 Nov 2024 00:00:00 +0900"


def check(root: etree._Element, col: Collector, doc: Document, now: dt.datetime) -> None:
    """Checks an RSS 2.0 document; fills ``doc.links`` and ``doc.archive``."""
    version = root.get("version")
    if version != "2.0":
        col.add(
            "rss:version",
            f"<rss version={short(version)}> is not RSS 2.0; write <rss version=\"2.0\">",
            line=root.sourceline,
        )
    channels = root.findall("channel")
    if not channels:
        col.add("rss:channel-missing", "<rss> has no <channel>", line=root.sourceline)
        return
    if len(channels) > 1:
        col.add(
            "rss:element-duplicate",
            f"<rss> has {len(channels)} channels; it must have one",
            line=channels[1].sourceline,
        )
    channel = channels[0]
    _once(channel, CHANNEL_ONCE, col, "")
    for name in ("title", "link", "description"):
        if channel.find(name) is None:
            col.add(
                f"rss:channel-{name}-missing",
                f"the channel has no <{name}>; RSS 2.0 requires it",
                line=channel.sourceline,
            )
    _url(channel.find("link"), col, "")
    for name in ("pubDate", "lastBuildDate"):
        _date(channel.find(name), col, "")
    doc.links = _atom_links(channel, col)
    doc.archive = channel.find(FH_ARCHIVE) is not None
    if "self" not in doc.links and channel.find(f"{ATOM_LINK}[@rel='self']") is None:
        col.add(
            "rss:self-link-missing",
            "the channel has no <atom:link rel=\"self\" href=\"...\" type=\"application/rss+xml\"/> "
            "(xmlns:atom=\"http://www.w3.org/2005/Atom\")",
            line=channel.sourceline,
        )
    guids: dict[str, int] = {}
    for i, item in enumerate(channel.iterfind("item")):
        _item(item, i, col, now, guids)


def _text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _label(item: etree._Element, i: int) -> str:
    return _text(item.find("guid")) or _text(item.find("link")) or f"item {i + 1}"


def _item(item: etree._Element, i: int, col: Collector, now: dt.datetime, guids: dict[str, int]) -> None:
    label = _label(item, i)
    line = item.sourceline
    _once(item, ITEM_ONCE, col, label)
    if item.find("title") is None and item.find("description") is None:
        col.add(
            "rss:item-title-or-description-missing",
            "the item has neither <title> nor <description>; give it at least one",
            label,
            line,
        )
    _url(item.find("link"), col, label)
    guid = item.find("guid")
    if guid is not None:
        value = _text(guid)
        permalink = (guid.get("isPermaLink") or "true").strip().lower()
        # A permalink is a page a browser opens: an http(s) URL, not a tag: or urn: identifier.
        if permalink == "true" and not (is_full_url(value) and value.lower().startswith(("http://", "https://"))):
            col.add(
                "rss:guid-permalink-not-url",
                f"<guid> {short(value)} is a permalink (isPermaLink defaults to true) but not an http(s) URL; "
                "add isPermaLink=\"false\"",
                label, guid.sourceline,
            )
        if value in guids:
            col.add(
                "rss:guid-duplicate",
                f"items {guids[value] + 1} and {i + 1} share the guid {short(value)}",
                label,
                guid.sourceline,
            )
        else:
            guids[value] = i
    when = _date(item.find("pubDate"), col, label)
    if in_future(when, now):
        col.add(
            "rss:item-in-future",
            f"<pubDate> {when.isoformat()} is in the future; readers may hide the item until then",
            label,
            line,
        )
    for el in (item.find("description"), item.find(CONTENT_ENCODED)):
        if el is not None:
            bad = double_escaped(el.text or "")
            if bad:
                name = "content:encoded" if el.tag == CONTENT_ENCODED else "description"
                col.add(
                    "rss:double-escaped-html",
                    f"<{name}> contains {short(bad)}, which readers show as markup; escape HTML once",
                    label,
                    el.sourceline,
                )
    for enclosure in item.iterfind("enclosure"):
        missing = [a for a in ("url", "length", "type") if not (enclosure.get(a) or "").strip()]
        if missing:
            col.add(
                "rss:enclosure-invalid",
                f"<enclosure> lacks {', '.join(missing)}; RSS 2.0 requires url, length and type",
                label,
                enclosure.sourceline,
            )
        elif not is_full_url(enclosure.get("url", "")):
            col.add(
                "rss:url-invalid",
                f"<enclosure url={short(enclosure.get('url'))}> is not a full URL",
                label,
                enclosure.sourceline,
            )


def _once(parent: etree._Element, names: tuple[str, ...], col: Collector, label: str) -> None:
    for name in names:
        found = parent.findall(name)
        if len(found) > 1:
            col.add(
                "rss:element-duplicate",
                f"<{name}> appears {len(found)} times; at most one is allowed",
                label,
                found[1].sourceline,
            )


def _url(el: etree._Element | None, col: Collector, label: str) -> None:
    if el is not None and not is_full_url(_text(el)):
        col.add(
            "rss:url-invalid",
            f"<{el.tag}> {short(_text(el))} is not a full URL (scheme and host)",
            label,
            el.sourceline,
        )


def _date(el: etree._Element | None, col: Collector, label: str) -> dt.datetime | None:
    if el is None:
        return None
    value = _text(el)
    when, verdict = rfc822(value)
    if verdict == "invalid":
        col.add(
            "rss:date-invalid",
            f"<{el.tag}> {short(value)} is not an RFC 822 date-time like {EXAMPLE_DATE}",
            label,
            el.sourceline,
        )
    elif verdict == "weekday":
        col.add("rss:date-weekday", f"<{el.tag}> {short(value)} names the wrong day of the week", label, el.sourceline)
    elif verdict == "loose":
        col.add(
            "rss:date-problematic",
            f"<{el.tag}> {short(value)} is RFC 822 but readers misread it; write it like {EXAMPLE_DATE}",
            label,
            el.sourceline,
        )
    return when


def _atom_links(channel: etree._Element, col: Collector) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in channel.iterfind(ATOM_LINK):
        rel = (link.get("rel") or "alternate").strip()
        href = (link.get("href") or "").strip()
        if not is_full_url(href):
            col.add(
                "rss:url-invalid",
                f"<atom:link rel=\"{rel}\" href={short(href)}> is not a full URL",
                line=link.sourceline,
            )
            continue
        out.setdefault(rel, []).append(href)
    return out
