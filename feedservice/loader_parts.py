"""The two parts of a forked first read (see ``forked``): what the child hands back, and how the parent joins
the two parts' indexes.

A child cannot hand objects over, only bytes, and pickling 70,000 Entries takes longer than checking them. So
the part goes as columns, one msgspec JSON array (``PartRead``): ids, dates (RFC 3339, to the microsecond),
each slug list once with a number per article, the few corrections and withdrawals apart, and the part's own
index. Reading them back takes a tenth of what checking them took. The child sends only what it checked and
built; any article it refused is read again by the parent, one by one, which is also how the messages are
written if it has a problem.

Each process also orders its part and builds its part's selections (``part_index``) while the other does the
same, and ``merged_index`` joins the two: far less than ordering and selecting the whole store after the
child is done.
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass
from collections import deque
from itertools import chain, compress, repeat
from operator import attrgetter, is_, is_not, ne, or_
from typing import Any, Collection, Iterator, Sequence

import msgspec
from msgspec import Struct

from .loader_fast import _offset_text, in_zone
from .store import Article, Correction, Entry, Selection, Withdrawal, selections_of

# A load forks a child only for this many articles to read, or more: below it, the fork costs more than it saves.
FORK_FROM = 20_000
# The share of the articles the child checks, in percent, when both run at the same speed: where both finish
# their part at about the same time (100,000 articles, timed in both processes, with the split fixed: at 45 the
# child was done 0.14-0.23 s before the parent, at 50 0.06-0.14 s after it, at 55 0.34-0.38 s after). The child
# also writes its answer; the parent makes its merge keys.
CHILD_SHARE = 48
# The share of the articles, in percent, around that split that neither process has to begin with: each takes
# it a chunk at a time once its own part is done (forked.Shared). The host often slows one process more than the
# other, and with the split fixed, one then waited for the other: 0.01-0.20 s in 6 first reads of 100,000
# articles (mean 0.08 s); with 20% shared, 0.01-0.05 s (mean 0.03 s).
SHARED = 20
# The articles of the shared range the child leaves to the parent at the least. Once the checks are done, the
# child still writes its answer (60-90 ms at 100,000 articles) while the parent only makes its merge keys, and
# the parent then waited for it: from the end of its part_index to its decode, 14-151 ms (median 86 ms) in 8
# first reads of 100,000 articles, and 16-73 ms (median 31 ms) with 4,000 left to it, alternating.
KEPT = 4000

_id, _published, _updated = attrgetter("id"), attrgetter("published"), attrgetter("updated")
_ministries, _topics = attrgetter("ministries"), attrgetter("topics")
_corrections, _withdrawn = attrgetter("corrections"), attrgetter("withdrawn")


def _extra(entries: list[Entry]) -> Iterator[bool]:
    """Whether each entry has corrections or a withdrawal (the loop in C)."""
    return map(or_, map(bool, map(_corrections, entries)), map(is_not, map(_withdrawn, entries), repeat(None)))


class _Wire(Struct, array_like=True, gc=False):
    ids: list[str]
    published: list[dt.datetime]
    later: list[int]  # the places whose updated is not their published (most articles were never updated)
    updated: list[dt.datetime]  # theirs
    lists: list[tuple[str, ...]]  # every slug list of the part, once
    ministries: list[int]  # each article's, by its place in lists
    topics: list[int]
    # (place among the articles built, corrections as (date, note), withdrawal as (date, reason) or None)
    extras: list[tuple[int, list[tuple[dt.datetime, str]], tuple[dt.datetime, str] | None]]
    refused: list[int]  # places among the articles asked for that the typed path refused
    strings_built: int
    strings_read: int
    # the part's own index (see part_index), when nothing was refused: its order, and each selection's
    # positions in that order as array('I') bytes
    order: list[int] = []
    groups: dict[str, bytes] = {}
    withdrawn: list[int] = []
    corrected: list[int] = []


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_Wire)


class PartRead:
    """Writes a part's (entries, strings built, strings read) as bytes in the child, and reads them back here."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz

    @staticmethod
    def usable(tz: dt.tzinfo) -> bool:
        """Whether a part can go through bytes for this zone: a fixed offset of whole minutes, which RFC 3339
        writes exactly (a zone such as Asia/Seoul had offsets in seconds before 1908)."""
        return _offset_text(tz) is not None

    def encode(
        self, entries: list[Entry | None], strings_built: int, strings_read: int, index: PartIndex | None = None
    ) -> bytes:
        refused = list(compress(range(len(entries)), map(is_, entries, repeat(None))))
        built: list[Entry] = entries  # type: ignore[assignment]
        if refused:
            built = list(compress(entries, map(is_not, entries, repeat(None))))  # type: ignore[arg-type]
        m_lists, t_lists = list(map(_ministries, built)), list(map(_topics, built))
        lists = list(dict.fromkeys(m_lists + t_lists))
        place = {slugs: k for k, slugs in enumerate(lists)}
        extra = list(_extra(built))
        extras = [
            (k, [(c.date, c.note) for c in e.corrections], e.withdrawn and (e.withdrawn.date, e.withdrawn.reason))
            for k, e in zip(compress(range(len(built)), extra), compress(built, extra))
        ]
        published, updated = list(map(_published, built)), list(map(_updated, built))
        later = list(map(ne, published, updated))
        return _ENCODER.encode(_Wire(
            list(map(_id, built)), published, list(compress(range(len(built)), later)), list(compress(updated, later)),
            lists,
            list(map(place.__getitem__, m_lists)), list(map(place.__getitem__, t_lists)), extras, refused,
            strings_built, strings_read,
            [] if index is None else index.order,
            {} if index is None else {key: positions.tobytes() for key, positions in index.groups.items()},
            [] if index is None else index.withdrawn,
            [] if index is None else index.corrected,
        ))

    def decode(self, data: Any) -> tuple[list[Entry | None], int, int, PartIndex | None]:
        """Returns what ``encode`` was given: the entries (None where refused), the two string counts, and the
        index, if any (its ``ids`` a list, its ``keys`` made here).

        The entries are made in the file's order, as the parent made its own: a reload reads them in that order
        (whole_index, the memo), and made in the merge's order they lay all over memory for it (a reload of
        100,000 articles took 1.23x the time)."""
        w = _DECODER.decode(data)
        lists = w.lists  # each once: equal lists are one tuple again
        published = self._in_zone(w.published)
        updated = published.copy()
        deque(map(updated.__setitem__, w.later, self._in_zone(w.updated)), maxlen=0)  # the loop in C
        ministries, topics = list(map(lists.__getitem__, w.ministries)), list(map(lists.__getitem__, w.topics))
        out: list[Entry | None] = list(map(Entry, w.ids, published, updated, ministries, topics))
        # the dates of every correction and withdrawal, put in the zone in one call
        dates = iter(self._in_zone([
            date for _, corrections, withdrawn in w.extras
            for date in chain((date for date, _ in corrections), () if withdrawn is None else (withdrawn[0],))
        ]))
        for k, corrections, withdrawn in w.extras:
            out[k] = Entry(
                w.ids[k], published[k], updated[k], ministries[k], topics[k],
                tuple([Correction(next(dates), note) for _, note in corrections]),
                None if withdrawn is None else Withdrawal(next(dates), withdrawn[1]),
            )
        for k in w.refused:  # in increasing order, so each lands where it was
            out.insert(k, None)
        index = None
        if len(w.order) == len(out):
            groups = {}
            for key, packed in w.groups.items():
                groups[key] = positions = array("I")
                positions.frombytes(packed)
            index = PartIndex(
                w.order, groups, w.withdrawn, w.corrected, w.ids, _keys(published, w.ids, w.order),
            )
        return out, w.strings_built, w.strings_read, index

    def _in_zone(self, moments: list[dt.datetime]) -> list[dt.datetime]:
        return in_zone(moments, self.tz)  # as the loader makes them (see loader_fast.dates_reader)


@dataclass(frozen=True, slots=True)
class PartIndex:
    """A part's own index: ``order``, the places of its entries ordered by (published, id); ``groups``, each
    selection's positions in that order (the selections ``store.selections_of`` makes, but ``all``); the
    positions of the withdrawn and corrected ones; ``ids``, its ids; and, where the merge is made, ``keys``, the
    (published, id) of each in that order (see ``part_index``)."""

    order: list[int]
    groups: dict[str, Sequence[int]]
    withdrawn: list[int]
    corrected: list[int]
    ids: Collection[str]
    keys: list[tuple[dt.datetime, str]] | None = None


@dataclass(frozen=True, slots=True)
class Merged:
    """A store's index: ``order``, the places of its articles (in the file's order) ordered by (published, id);
    every selection; and the positions of the withdrawn and corrected articles. Of the whole read at once
    (``whole_index``), or of two parts together (``merged_index``)."""

    order: list[int]
    selections: dict[str, Selection]
    withdrawn: tuple[int, ...]
    corrected: tuple[int, ...]


def part_index(entries: list[Entry], ministries: dict, topics: dict, keys: bool = False) -> PartIndex | None:
    """Returns the index of a part's entries (none None), or None if two of them share an id: each process makes
    its own at the same time, and ``merged_index`` joins them in a fraction of what making one for the whole
    store takes. ``keys``: also the keys the merge sorts by (the parent's part: made here, on its own core; the
    parent makes the child's when it reads them back, see ``PartRead.decode``)."""
    ids = list(map(_id, entries))
    unique = set(ids)
    if len(unique) != len(ids):
        return None  # the loader's own check finds which, and says so
    published, order, selections, withdrawn, corrected = _indexed(entries, ids, ministries, topics)
    return PartIndex(
        order, {key: sel.positions for key, sel in selections.items() if key != "all"}, withdrawn, corrected,
        unique, _keys(published, ids, order) if keys else None,
    )


def whole_index(entries: Sequence[Entry | Article], ministries: dict, topics: dict) -> Merged:
    """Returns the index of a whole store's entries (or Articles), in file order: what a load in one process
    makes (any load but a big first read, which merges two parts' instead)."""
    _, order, selections, withdrawn, corrected = _indexed(entries, list(map(_id, entries)), ministries, topics)
    return Merged(order, selections, tuple(withdrawn), tuple(corrected))


def _indexed(entries: Sequence[Entry | Article], ids: list[str], ministries: dict, topics: dict) -> tuple[
    list[dt.datetime], list[int], dict[str, Selection], list[int], list[int]
]:
    """Returns (the published dates in file order; the order by (published, id); every selection; the
    withdrawn and corrected positions in that order), given the ids in file order.

    Each field is read once, in the order the entries were made (and lie in memory); what is then put in order
    is the columns, not the entries: see ``store.selections_of``."""
    published = list(map(_published, entries))
    order = list(range(len(ids)))
    # A stable sort by id, then by date, compares no tuples (twice as fast as one sort by both).
    order.sort(key=ids.__getitem__)
    order.sort(key=published.__getitem__)
    selections = selections_of(
        _reordered(list(map(_ministries, entries)), order), _reordered(list(map(_topics, entries)), order),
        ministries, topics,
    )
    positions = range(len(order))
    withdrawn = list(compress(positions, map(is_not, _reordered(list(map(_withdrawn, entries)), order), repeat(None))))
    corrected = list(compress(positions, _reordered(list(map(_corrections, entries)), order)))
    return published, order, selections, withdrawn, corrected


def _reordered(column: list, order: list[int]) -> list:
    return list(map(column.__getitem__, order))


def _keys(published: list[dt.datetime], ids: list[str], order: list[int]) -> list[tuple[dt.datetime, str]]:
    """The (published, id) of each entry in ``order``, from the columns in the entries' own order."""
    return list(zip(_reordered(published, order), _reordered(ids, order)))


def merged_index(first: PartIndex, second: PartIndex, ministries: dict, topics: dict) -> Merged:
    """Returns the index of two parts together, ``first``'s places then ``second``'s (as the file lists them),
    from each part's own index (with ``keys``).

    Each part's keys are a sorted run, so sorting their concatenation only merges two runs: ``runs``, the place
    in (first's, then second's) of each position of the whole, which maps each part's order to the whole's.
    Ids are unique, so the merged order keeps each part's own order, and the inverse of ``runs`` gives the
    whole's position of each of first's and of second's, which maps each part's selection positions to positions
    in the whole.
    """
    n_first = len(first.order)
    keys = first.keys + second.keys  # type: ignore[operator]
    runs = list(range(len(keys)))
    runs.sort(key=keys.__getitem__)
    del keys
    positions = range(len(runs))
    at = [0] * len(runs)  # the inverse of runs: the whole's position of each place
    deque(map(at.__setitem__, runs, positions), maxlen=0)  # the loop in C
    at_first, at_second = at[:n_first], at[n_first:]
    del at
    selections = {"all": Selection("all", "All news", positions)}
    for kind, names in (("ministries", ministries), ("topics", topics)):
        for slug, named in names.items():
            key = f"{kind}/{slug}"
            found = list(map(at_first.__getitem__, first.groups.get(key, ())))
            found += map(at_second.__getitem__, second.groups.get(key, ()))
            found.sort()
            selections[key] = Selection(key, named.name, array("I", found))
    withdrawn = [*map(at_first.__getitem__, first.withdrawn), *map(at_second.__getitem__, second.withdrawn)]
    corrected = [*map(at_first.__getitem__, first.corrected), *map(at_second.__getitem__, second.corrected)]
    order = _reordered(first.order + list(map(n_first.__add__, second.order)), runs)
    return Merged(order, selections, tuple(sorted(withdrawn)), tuple(sorted(corrected)))
