"""Test helpers: fetch every document of a selection, parse it with feedparser, and read the archive chain."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import feedparser


def parse(body: bytes, fmt: str) -> Any:
    """Returns feedparser's result for a feed body; asserts it parsed cleanly as the expected version."""
    if fmt == "json":
        return _parse_json(body)
    result = feedparser.parse(body)
    assert not result.bozo, result.get("bozo_exception")
    assert result.version == {"atom": "atom10", "rss": "rss20"}[fmt]
    return result


def _parse_json(body: bytes) -> Any:
    """Reads a JSON Feed into feedparser's shape (feedparser 6.0 on PyPI does not read JSON Feed)."""
    doc = json.loads(body)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    entries = []
    for item in doc["items"]:
        published = dt.datetime.fromisoformat(item["date_published"])
        entries.append(feedparser.FeedParserDict(
            id=item["id"], title=item["title"], link=item["url"],
            published_parsed=published.astimezone(dt.timezone.utc).timetuple(),
        ))
    links = [{"rel": "self", "href": doc["feed_url"]}]
    return feedparser.FeedParserDict(feed=feedparser.FeedParserDict(links=links), entries=entries, version="json1")


def link(parsed: Any, rel: str) -> str | None:
    for ln in parsed.feed.get("links", []):
        if ln.get("rel") == rel:
            return ln["href"]
    return None


def older(parsed: Any, body: bytes, fmt: str) -> str | None:
    """Returns the URL of the next-older document: prev-archive (Atom, RSS) or next_url (JSON Feed)."""
    if fmt == "json":
        return json.loads(body).get("next_url")
    return link(parsed, "prev-archive")


def walk(client: Any, base: str, path: str, fmt: str) -> tuple[list[str], int]:
    """Follows the archive chain from ``path``; returns (entry ids in visiting order, documents read)."""
    ids: list[str] = []
    seen_urls: set[str] = set()
    docs = 0
    url: str | None = base + path
    while url:
        assert url not in seen_urls, f"archive chain loops at {url}"
        seen_urls.add(url)
        resp = client.get(url[len(base):])
        assert resp.status_code == 200, url
        body = resp.get_data()
        parsed = parse(body, fmt)
        ids.extend(e.id for e in parsed.entries)
        docs += 1
        url = older(parsed, body, fmt)
    return ids, docs
