"""The feed service proper: the live store, the render cache, and the documents they make.

``web`` asks this module for a ``Rendered`` by name (selection key, format, page, limit); this module asks
``archive`` which entries the document holds, ``feeds`` for the bytes, and ``cache`` to keep them.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from . import archive, feeds, opml
from .archive import EPOCH
from .cache import RenderCache, Rendered, cache_control
from .errors import NotFound
from .live import LiveStore
from .store import Store
from .urls import CONTENT_TYPES, Site

log = logging.getLogger(__name__)


class FeedService:
    def __init__(self, config: Mapping[str, Any]) -> None:
        """Loads the configured store; raises StoreError when it is broken."""
        self.config = config
        self.page_size: int = config["PAGE_SIZE"]
        self.max_age: int = config["MAX_AGE"]
        self.live = LiveStore(config["STORE"], config["MAX_STORE_BYTES"], config["RELOAD_SECONDS"])
        self.cache = RenderCache(config["CACHE_BYTES"])
        self.limiter: Any = None  # a ratelimit.RateLimiter when FEEDSERVICE_RATE_LIMIT is set
        self.notifier: Any = None  # a websub.WebSubNotifier when FEEDSERVICE_WEBSUB_HUB is set

    @property
    def store(self) -> Store:
        return self.live.current

    def site(self, store: Store) -> Site:
        return Site(
            (self.config["BASE_URL"] or store.portal.base_url).rstrip("/"),
            self.config["TAG_AUTHORITY"] or store.portal.tag_authority,
        )

    def render_settings(self, store: Store) -> feeds.RenderSettings:
        return feeds.RenderSettings(self.site(store), self.max_age, self.config["WEBSUB_HUB"])

    def document(self, store: Store, key: str, page: int | None, limit: int | None) -> archive.FeedDocument:
        """Returns the feed document; raises NotFound for an unknown selection or page."""
        selection = store.selection(key)
        if selection is None:
            raise NotFound(f"no feed {key!r}: see /feeds.opml for every feed")
        if page is None:
            return archive.subscription(store, selection, self.page_size, limit, self.config["TOMBSTONE_DAYS"])
        return archive.archive_page(store, selection, self.page_size, page)

    def feed(self, store: Store, key: str, fmt: str, page: int | None = None, limit: int | None = None) -> Rendered:
        """Returns the rendered feed document, from the cache when it is there."""
        if limit == self.page_size:
            limit = None  # the same document as the default: one cache entry, one canonical self link

        def make() -> Rendered:
            doc = self.document(store, key, page, limit)
            body = feeds.render(store, doc, fmt, self.render_settings(store))
            return Rendered.make(body, CONTENT_TYPES[fmt], doc.updated, cache_control(self.max_age, doc.is_archive))

        return self.cache.get_or_make((store.version, key, fmt, page, limit), make)

    def opml(self, store: Store) -> Rendered:
        def make() -> Rendered:
            body = opml.render(store, self.site(store))
            newest = max((a.updated for a in store.entries[-50:]), default=EPOCH)
            return Rendered.make(body, "text/x-opml; charset=utf-8", newest, cache_control(self.max_age))

        return self.cache.get_or_make((store.version, "opml"), make)
