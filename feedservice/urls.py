"""Every absolute URL and ``tag:`` id the service writes, from the configured base URL and tag authority.

Nothing here looks at a request: the Host header never enters a body, so every worker and every host
writes the same bytes. Ids come from the tag authority alone (RFC 4151), so moving the service to a new
base URL changes links but never an id, and nothing reappears as unread.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("atom", "rss", "json")
CONTENT_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Site:
    base_url: str  # no trailing slash
    tag_authority: str  # e.g. "smartcity.go.kr,2025"

    def url(self, path: str) -> str:
        """Returns the absolute URL of ``path`` (which starts with '/')."""
        return self.base_url + path

    def feed_id(self, key: str) -> str:
        return f"tag:{self.tag_authority}:feeds/{key}"

    def entry_id(self, article_id: str) -> str:
        return f"tag:{self.tag_authority}:articles/{article_id}"

    def topic_scheme(self) -> str:
        return self.url("/topics/")


def feed_path(key: str, fmt: str, page: int | None = None) -> str:
    """Returns the path of a selection's subscription document, or of its archive page ``page``."""
    if page is None:
        return f"/feeds/{key}.{fmt}"
    return f"/feeds/{key}/archive/{page}.{fmt}"


def html_path(key: str) -> str:
    """Returns the path of a selection's HTML page ('/' for all)."""
    return "/" if key == "all" else f"/{key}"


def article_path(article_id: str) -> str:
    return f"/articles/{article_id}"


def embed_path(key: str) -> str:
    return f"/embed/{key}.html"
