"""Which articles each feed document holds, and how documents link (RFC 5005 section 4, archived feeds).

A selection's articles are numbered oldest first and cut into fixed-size pages: page 1 holds positions
0..size-1, page 2 the next ``size``, and so on. Only completed pages are archive documents, so a page never
changes when articles are published and can be cached for a year. The subscription document holds the newest
entries; its ``prev-archive`` points at the newest completed page, each page's ``prev-archive`` at the one
before, so walking back from the subscription document reaches every article.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .errors import BadRequest, NotFound
from .store import Article, Selection, Store

MAX_LIMIT = 200
ARCHIVE_MAX_AGE = 31536000  # a year: completed archive pages do not change
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """One feed document, format-agnostic: what it holds and where it links (paths, not URLs)."""

    selection: Selection
    entries: tuple[Article, ...]  # newest first, none withdrawn
    tombstones: tuple[Article, ...]  # withdrawn articles announced here (RFC 6721, Atom only)
    page: int | None  # None for the subscription document
    limit: int | None  # an explicit ?limit=, else None
    updated: dt.datetime
    prev_archive: int | None  # page numbers
    next_archive: int | None

    @property
    def is_archive(self) -> bool:
        return self.page is not None


def completed_pages(count: int, size: int) -> int:
    """Returns how many archive pages a selection of ``count`` articles has."""
    return count // size


def parse_limit(value: str | None, default: int) -> int | None:
    """Returns the ``limit`` query parameter as an int, None when absent; raises BadRequest otherwise."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 4 or not 1 <= int(value) <= MAX_LIMIT:
        shown = value if len(value) <= 20 else value[:20] + "..."
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {shown!r}; omit it for {default}")
    return int(value)


def _updated(entries: tuple[Article, ...], tombstones: tuple[Article, ...], store: Store) -> dt.datetime:
    """Returns the document's updated date: its newest entry update or withdrawal, from the store, never now."""
    dates = [a.updated for a in entries] + [a.withdrawn.date for a in tombstones]  # type: ignore[union-attr]
    if dates:
        return max(dates)
    return store.last_change or EPOCH.astimezone(store.portal.timezone)


def recent_tombstones(store: Store, selection: Selection, days: int) -> tuple[Article, ...]:
    """Returns the selection's articles withdrawn within ``days`` of the store's newest change.

    The period is counted from a date in the store, not from the clock, so the same store always gives the
    same document.
    """
    withdrawn = store.withdrawn_in(selection)
    if not withdrawn or not days:
        return ()
    since = store.last_change - dt.timedelta(days=days)  # type: ignore[operator]
    recent = []
    for a in withdrawn:  # most recently withdrawn first: stop at the first one too old
        if a.withdrawn.date < since:  # type: ignore[union-attr]
            break
        recent.append(a)
    return tuple(recent)


def subscription(
    store: Store, selection: Selection, size: int, limit: int | None = None, tombstone_days: int = 30
) -> FeedDocument:
    """Returns the subscription document: the newest ``limit`` (default ``size``) live entries of the
    selection, and tombstones of the ones withdrawn recently."""
    count = limit or size
    entries = tuple(store.newest(selection, count))
    tombstones = recent_tombstones(store, selection, tombstone_days)
    pages = completed_pages(len(selection), size)
    # Link into the archive only when this document holds every entry newer than the newest completed
    # page; otherwise (a small ?limit=) a client walking prev-archive would miss entries.
    covers_tail = count >= len(selection) - pages * size
    return FeedDocument(
        selection=selection,
        entries=entries,
        tombstones=tombstones,
        page=None,
        limit=limit,
        updated=_updated(entries, tombstones, store),
        prev_archive=pages if pages and covers_tail else None,
        next_archive=None,
    )


def archive_page(store: Store, selection: Selection, size: int, page: int) -> FeedDocument:
    """Returns archive page ``page`` (1 = oldest) of the selection; raises NotFound if there is no such page."""
    pages = completed_pages(len(selection), size)
    if not 1 <= page <= pages:
        raise NotFound(
            f"no archive page {page} of {selection.key}: it has "
            + (f"pages 1 to {pages}" if pages else "no archive pages yet")
        )
    # A withdrawn article keeps its slot, as a tombstone, so no page boundary moves (RFC 6721 section 3).
    slots = store.slice(selection, (page - 1) * size, page * size)
    entries = tuple(a for a in slots if a.withdrawn is None)
    tombstones = tuple(a for a in slots if a.withdrawn is not None)
    return FeedDocument(
        selection=selection,
        entries=entries,
        tombstones=tombstones,
        page=page,
        limit=None,
        updated=_updated(entries, tombstones, store),
        prev_archive=page - 1 if page > 1 else None,
        next_archive=page + 1 if page < pages else None,
    )
