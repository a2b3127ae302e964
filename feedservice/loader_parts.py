"""How a first load hands the Entries of the part a forked child checked (see ``forked``) back to the loader.

A child cannot hand objects over, only bytes, and pickling 70,000 Entries takes longer than checking them. So
the part goes as columns, one msgspec JSON array: ids, dates (RFC 3339, to the microsecond), each slug list
once with a number per article, and the few corrections and withdrawals apart. Reading them back takes a tenth
of what checking them took. The child sends only what it checked and built; any article it refused is read
again here, one by one, which is also how the messages are written if it has a problem.
"""

from __future__ import annotations

import datetime as dt
from itertools import compress
from operator import attrgetter, is_not, methodcaller
from typing import Any

import msgspec
from msgspec import Struct

from .loader_fast import _offset_text
from .store import Correction, Entry, Withdrawal

# A load forks a child only for this many articles to read, or more: below it, the fork costs more than it saves.
FORK_FROM = 20_000
# The share of the articles the child checks, in percent. The parent also reads the file, lists its articles
# and reads the child's answer, so the child takes more than half (measured best at 100,000 articles).
CHILD_SHARE = 50

_id, _published, _updated = attrgetter("id"), attrgetter("published"), attrgetter("updated")
_ministries, _topics = attrgetter("ministries"), attrgetter("topics")
_corrections, _withdrawn = attrgetter("corrections"), attrgetter("withdrawn")
_zone = attrgetter("tzinfo")


class _Wire(Struct, array_like=True, gc=False):
    ids: list[str]
    published: list[dt.datetime]
    updated: list[dt.datetime]
    lists: list[tuple[str, ...]]  # every slug list of the part, once
    ministries: list[int]  # each article's, by its place in lists
    topics: list[int]
    # (place among the articles built, corrections as (date, note), withdrawal as (date, reason) or None)
    extras: list[tuple[int, list[tuple[dt.datetime, str]], tuple[dt.datetime, str] | None]]
    refused: list[int]  # places among the articles asked for that the typed path refused
    strings_built: int
    strings_read: int


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_Wire)


class PartRead:
    """Writes a part's (entries, strings built, strings read) as bytes in the child, and reads them back here."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.lists: dict[tuple[str, ...], tuple[str, ...]] = {}  # equal slug lists read back as one tuple

    @staticmethod
    def usable(tz: dt.tzinfo) -> bool:
        """Whether a part can go through bytes for this zone: a fixed offset of whole minutes, which RFC 3339
        writes exactly (a zone such as Asia/Seoul had offsets in seconds before 1908)."""
        return _offset_text(tz) is not None

    def encode(self, entries: list[Entry | None], strings_built: int, strings_read: int) -> bytes:
        refused = [k for k, e in enumerate(entries) if e is None]
        built: list[Entry] = list(compress(entries, map(is_not, entries, [None] * len(entries)))) if refused else entries  # type: ignore[assignment]
        m_lists, t_lists = list(map(_ministries, built)), list(map(_topics, built))
        lists = list(dict.fromkeys(m_lists + t_lists))
        place = {slugs: k for k, slugs in enumerate(lists)}
        extras = [
            (k, [(c.date, c.note) for c in e.corrections], None if e.withdrawn is None else (e.withdrawn.date, e.withdrawn.reason))
            for k, e in enumerate(built) if e.corrections or e.withdrawn is not None
        ]
        return _ENCODER.encode(_Wire(
            list(map(_id, built)), list(map(_published, built)), list(map(_updated, built)), lists,
            list(map(place.__getitem__, m_lists)), list(map(place.__getitem__, t_lists)), extras, refused,
            strings_built, strings_read,
        ))

    def decode(self, data: Any) -> tuple[list[Entry | None], int, int]:
        w = _DECODER.decode(data)
        lists = [self.lists.setdefault(slugs, slugs) for slugs in w.lists]
        published, updated = self._in_zone(w.published), self._in_zone(w.updated)
        ministries, topics = list(map(lists.__getitem__, w.ministries)), list(map(lists.__getitem__, w.topics))
        out: list[Entry | None] = list(map(Entry, w.ids, published, updated, ministries, topics))
        for k, corrections, withdrawn in w.extras:
            out[k] = Entry(
                w.ids[k], published[k], updated[k], ministries[k], topics[k],
                tuple(Correction(self._one_in_zone(date), note) for date, note in corrections),
                None if withdrawn is None else Withdrawal(self._one_in_zone(withdrawn[0]), withdrawn[1]),
            )
        for k in w.refused:  # in increasing order, so each lands where it was
            out.insert(k, None)
        return out, w.strings_built, w.strings_read

    def _in_zone(self, moments: list[dt.datetime]) -> list[dt.datetime]:
        """The dates as the loader makes them (see ``loader_fast.dates_reader``): msgspec's fixed-offset tzinfo
        is kept where it equals the portal's and has its name, else each is converted."""
        tz = self.tz
        zones = set(map(_zone, moments))
        if not zones or zones == {tz} and all(zone.tzname(None) == tz.tzname(None) for zone in zones):
            return moments
        return list(map(methodcaller("astimezone", tz), moments))

    def _one_in_zone(self, moment: dt.datetime) -> dt.datetime:
        return self._in_zone([moment])[0]
