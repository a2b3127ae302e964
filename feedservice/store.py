"""The article store as frozen data: portal, ministries, topics, articles, and the selections feeds are made of.

The store knows neither XML nor HTTP. ``loader.load_store`` builds a ``Store`` from ``data/articles.json``;
anything else that can produce the same objects (a database, say) can replace it without touching feeds or web.
Articles are kept oldest first, ordered by (published, id); every selection is a sequence of positions into
that order, built once at load, so a ministry's feed or an archive page is a slice, never a scan. The indexes
are built from ``Entry``s (what ordering and selecting need); the articles of a store read from a file are
built from their text when shown (``lazy.LazyArticles``).
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Iterable, Iterator

import msgspec

from .lazy import LazyArticles
from .sanitize import clean_html

SELECTION_KINDS = ("ministries", "topics")


@dataclass(frozen=True, slots=True)
class Former:
    """A name a ministry or topic had before a rename or merger."""

    slug: str
    name: str
    until: dt.date | None


@dataclass(frozen=True, slots=True)
class Portal:
    title: str
    subtitle: str
    base_url: str
    tag_authority: str
    language: str
    timezone: dt.tzinfo
    author: str


@dataclass(frozen=True, slots=True)
class Ministry:
    slug: str
    name: str
    homepage: str | None = None
    formerly: tuple[Former, ...] = ()


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    name: str
    formerly: tuple[Former, ...] = ()


@dataclass(frozen=True, slots=True)
class Correction:
    date: dt.datetime
    note: str


@dataclass(frozen=True, slots=True)
class Withdrawal:
    date: dt.datetime
    reason: str


class Article(msgspec.Struct, frozen=True, gc=False):
    """One article; datetimes are timezone-aware and already in the portal's time zone.

    A frozen msgspec Struct rather than a frozen dataclass: the loader makes 100,000 of them, and a Struct is
    built in C (a third of the time of a dataclass's ``__init__``, which sets each field through
    ``object.__setattr__``), and with ``gc=False`` the cyclic collector never tracks one (an article refers to
    nothing that could refer back to it), so no collection walks them. Otherwise it behaves like the dataclass:
    keyword or positional arguments in this order, equality and hashing by value, immutable.

    ``html`` is the article's body as the store writes it; ``content_html`` is that body sanitized, on first use
    (see ``sanitize``).
    """

    id: str
    title: str
    published: dt.datetime
    updated: dt.datetime
    ministries: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    html: str | None = None
    url: str | None = None
    source: tuple[tuple[str, object], ...] = ()
    corrections: tuple[Correction, ...] = ()
    withdrawn: Withdrawal | None = None

    @property
    def content_html(self) -> str | None:
        """The body, sanitized: what feeds and pages show."""
        return None if self.html is None else clean_html(self.html)


class Entry(msgspec.Struct, frozen=True, gc=False):
    """What the store's indexes need of an article, and all it keeps of one until the article is shown: the
    fields of ``Article`` that order, select and date it. ``Article`` has each of them, so either can index."""

    id: str
    published: dt.datetime
    updated: dt.datetime
    ministries: tuple[str, ...]
    topics: tuple[str, ...]
    corrections: tuple[Correction, ...] = ()
    withdrawn: Withdrawal | None = None


_entry_fields = tuple(map(attrgetter, Entry.__struct_fields__))


def entries_of(arts: list[Entry | Article]) -> list[Entry]:
    """Returns ``arts`` with each Article as its Entry: a load makes Entries, and only the paths that check an
    article alone (orjson, the detailed check) make Articles."""
    if set(map(type, arts)) <= {Entry}:
        return arts  # type: ignore[return-value]
    return [a if type(a) is Entry else Entry(*(get(a) for get in _entry_fields)) for a in arts]


@dataclass(frozen=True, slots=True)
class Selection:
    """A named set of articles: ``all``, ``ministries/<slug>`` or ``topics/<slug>``.

    ``positions`` index ``Store.articles`` (oldest first); feeds show them newest first. It is a read-only
    sequence of ints (``range`` for ``all``, else an ``array('I')``: 4 bytes a position instead of a tuple
    slot and an int object, about 8 MB less for 100,000 articles): index, slice, iterate or reverse it.
    """

    key: str
    title: str
    positions: Sequence[int]

    def __len__(self) -> int:
        return len(self.positions)

    def __hash__(self) -> int:  # an array is not hashable; equal selections still hash equal
        return hash((self.key, self.title, len(self.positions)))


@dataclass(frozen=True, slots=True)
class Store:
    path: str
    version: str
    portal: Portal
    ministries: dict[str, Ministry]
    topics: dict[str, Topic]
    articles: Sequence[Article]  # a tuple, or LazyArticles for a store read article by article
    selections: dict[str, Selection] = field(repr=False)
    by_id: Mapping[str, int] = field(repr=False)  # a dict, or a LazyDict made on the first article asked for
    # former slug -> current slug, per kind ("ministries"/"topics")
    renamed: dict[str, dict[str, str]] = field(repr=False)
    withdrawn_positions: tuple[int, ...] = field(default=(), repr=False)
    corrected_positions: tuple[int, ...] = field(default=(), repr=False)
    # What every subscription document asks and only a scan answers (last_change, withdrawn_in), worked out on
    # first use: at 1,000,000 articles the scans were 50 ms of each cold render of a subscription document.
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def selection(self, key: str) -> Selection | None:
        """Returns the selection named ``key`` (``all``, ``ministries/molit``...), or None if there is none."""
        return self.selections.get(key)

    def article(self, article_id: str) -> Article | None:
        pos = self.by_id.get(article_id)
        return None if pos is None else self.articles[pos]

    @property
    def entries(self) -> Sequence[Entry | Article]:
        """What the indexes were built from, one for each article, oldest first: ``Entry`` or ``Article``."""
        arts = self.articles
        return arts.entries if isinstance(arts, LazyArticles) else arts

    def newest(self, selection: Selection, count: int) -> list[Article]:
        """Returns up to ``count`` articles of ``selection`` that are not withdrawn, newest first."""
        entries = self.entries
        out: list[int] = []
        for p in reversed(selection.positions):
            if entries[p].withdrawn is None:
                out.append(p)
                if len(out) == count:
                    break
        return self._at(out)

    def _at(self, positions: Iterable[int]) -> list[Article]:
        arts = self.articles
        return arts.many(positions) if isinstance(arts, LazyArticles) else list(map(arts.__getitem__, positions))

    def withdrawn_in(self, selection: Selection) -> list[Article]:
        """Returns the withdrawn articles of ``selection``, most recently withdrawn first."""
        key = selection.key
        found = self._memo.get(("withdrawn_in", key))
        if found is None:
            kind, _, slug = key.partition("/")
            found = sorted(
                (a for a in self.withdrawn if key == "all" or slug in (a.ministries if kind == "ministries" else a.topics)),
                key=lambda a: (a.withdrawn.date, a.id),  # type: ignore[union-attr]
                reverse=True,
            )
            self._memo[("withdrawn_in", key)] = found
        return list(found)

    @property
    def withdrawn(self) -> list[Article]:
        return self._at(self.withdrawn_positions)

    @property
    def last_change(self) -> "dt.datetime | None":
        """Returns the newest date the store records (an update, a correction or a withdrawal), or None."""
        if "last_change" not in self._memo:
            entries = self.entries
            withdrawn = [entries[p] for p in self.withdrawn_positions]
            dates = [a.updated for a in entries[-50:]]
            dates += [a.updated for a in withdrawn] + [a.withdrawn.date for a in withdrawn]  # type: ignore[union-attr]
            dates += [entries[p].updated for p in self.corrected_positions]
            self._memo["last_change"] = max(dates, default=None)
        return self._memo["last_change"]

    def slice(self, selection: Selection, start: int, stop: int) -> list[Article]:
        """Returns the articles at positions ``start``..``stop`` (oldest-first numbering), newest first."""
        return self._at(reversed(selection.positions[start:stop]))

    def feeds(self) -> Iterator[Selection]:
        """Yields every selection: all, then ministries, then topics, in store order."""
        yield self.selections["all"]
        for kind, names in (("ministries", self.ministries), ("topics", self.topics)):
            for slug in names:
                yield self.selections[f"{kind}/{slug}"]


def selections_of(
    ministry_lists: list[tuple[str, ...]], topic_lists: list[tuple[str, ...]],
    ministries: dict[str, Ministry], topics: dict[str, Topic],
) -> dict[str, Selection]:
    """Returns every selection, each the positions of its articles, from each article's ministry and topic slug
    lists, oldest first. The loader passes its own columns reordered, which reads no article: ordered by date,
    articles lie all over memory, and reading each one's lists from there cost a cache miss an article (a third
    of the time)."""
    out = {"all": Selection("all", "All news", range(len(ministry_lists)))}
    for kind, names, lists in (("ministries", ministries, ministry_lists), ("topics", topics, topic_lists)):
        # Group positions by slug list first (the loader makes equal lists one tuple, and there are far fewer
        # lists than articles), so the work per slug is per list, not per article.
        groups: dict[tuple[str, ...], list[int]] = {}
        for pos, slugs in enumerate(lists):
            group = groups.get(slugs)
            if group is None:
                groups[slugs] = [pos]
            else:
                group.append(pos)
        by_slug: dict[str, list[int]] = {slug: [] for slug in names}
        for slugs, group in groups.items():
            for slug in slugs:
                by_slug[slug] += group
        for slug, plist in by_slug.items():
            plist.sort()
            out[f"{kind}/{slug}"] = Selection(f"{kind}/{slug}", names[slug].name, array("I", plist))
    return out
