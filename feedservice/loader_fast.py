"""The loader's fast paths: articles built without a message in a few microseconds, or not built at all.

Almost every article of a store is sound. ``article_builder`` returns a function that accepts an article's
parsed JSON only when every check of ``loader._Checker.article`` would pass, and then returns the same
``Article`` that check would build; for anything unusual (a missing or unknown field, a wrong type, a date or
URL of another shape, corrections, a withdrawal) it returns None and the loader runs the detailed check, which
writes the messages. So it may refuse more than the detailed check, never less, and messages are unchanged.

Why it is faster: one function with everything in local variables instead of a method per field; set
operations for the field names; fromisoformat after one regex; a URL regex that proves what ``urlsplit``
would find; slug lists checked once per distinct list. It also shares what repeats: each distinct list of
ministry or topic slugs and each ``source`` entry is one tuple for all the articles that name it (19,000 list
tuples instead of 200,000 for the 100,000-article benchmark store), and bare dates are parsed once.

``ArticleMemo`` keeps the articles of the last load by digest of their JSON text, so that a reload builds only
the articles whose text changed (Articles are immutable: the old store and the new one share them).

``tests/test_loader_equivalence.py`` holds both to the detailed check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, methodcaller
from typing import Any, Callable

import msgspec

from .store import Article, Entry

ARTICLE_FIELDS = frozenset((
    "id", "title", "published", "updated", "ministries", "topics", "summary", "content_html", "url", "source",
    "corrections", "withdrawn",
))
REQUIRED = frozenset(("id", "title", "published", "ministries", "topics", "summary"))

# An absolute http(s) URL whose host is ASCII letters, digits, dots and hyphens (no user, port or brackets) and
# which holds no whitespace: for these ``urlsplit`` cannot fail, finds scheme http(s) and a non-empty host,
# and SPACE_RE finds nothing, so ``_Checker.url`` accepts them. Any other URL gets the detailed check.
PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?:[/?#]\S*)?")


def _offset_text(tz: dt.tzinfo) -> str | None:
    """Returns a fixed-offset zone's offset as RFC 3339 writes it ("+09:00"), else None: a time written with
    that offset is already the zone's wall time."""
    if not isinstance(tz, dt.timezone):
        return None
    minutes, rest = divmod(tz.utcoffset(None), dt.timedelta(minutes=1))
    if rest:
        return None
    hours, minutes = divmod(abs(minutes), 60)
    return f"{'-' if tz.utcoffset(None) < dt.timedelta(0) else '+'}{hours:02d}:{minutes:02d}"


def date_reader(tz: dt.tzinfo) -> Callable[[Any], dt.datetime | None]:
    """Returns ``date(value)``: what ``_Checker.date`` returns for ``value`` in the zone ``tz``, or None where it
    would write a message (or for anything not a string). Bare dates are parsed once each."""
    from .loader import DATE_RE, MAX_YEAR, MIN_YEAR, RFC3339_RE  # the detailed check's own, so they cannot drift

    date_match, stamp_match = DATE_RE.fullmatch, RFC3339_RE.fullmatch
    from_date, from_stamp, combine = dt.date.fromisoformat, dt.datetime.fromisoformat, dt.datetime.combine
    midnight = dt.time()
    own_offset = _offset_text(tz)
    days: dict[str, dt.datetime | None] = {}  # bare date -> its datetime (None: refused)

    def date(value: Any) -> dt.datetime | None:
        if type(value) is not str:
            return None
        if len(value) == 10:  # DATE_RE matches exactly 10 characters and RFC3339_RE at least 20
            if value in days:
                return days[value]
            moment = None
            if date_match(value) and MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
                try:
                    moment = combine(from_date(value), midnight, tz)
                except ValueError:
                    pass
            days[value] = moment
            return moment
        if not stamp_match(value) or not MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
            return None
        try:
            if len(value) == 25 and value[19:] == own_offset:
                # what astimezone() returns, at half the cost: the same wall time, with the portal's tzinfo
                moment = from_stamp(value[:19])
                return combine(moment.date(), moment.time(), tz)
            # RFC 3339 section 5.6 allows a lower-case t and z; fromisoformat does not.
            return from_stamp(value.upper()).astimezone(tz)
        except ValueError:
            return None

    return date


def dates_reader(tz: dt.tzinfo) -> Callable[[list[str]], list[dt.datetime] | None]:
    """Returns ``dates(values)``: ``[date(v) for v in values]`` (see ``date_reader``) read in one call to msgspec
    when every value is a bare date or a time to the second with an offset, and none is refused; else None.

    Only for a fixed-offset zone (a bare date is then that date at 00:00 with the zone's offset, written out
    for msgspec), and only for values of 10, 20 or 25 characters, which leaves no room for digits of a fraction
    beyond the microsecond (msgspec rounds them, fromisoformat cuts them off). In that shape msgspec accepts
    what ``RFC3339_RE`` and fromisoformat accept, with the same values (tests/test_loader_typed.py compares
    them); it also reads a time without an offset, which is refused here.
    """
    from .loader import MAX_YEAR, MIN_YEAR

    own = _offset_text(tz)
    midnight = f"T00:00:00{own}"
    lowest, highest = f"{MIN_YEAR:04d}", f"{MAX_YEAR:04d}"
    convert = msgspec.convert

    def dates(values: list[str]) -> list[dt.datetime] | None:
        lengths = set(map(len, values)) if own is not None and values else {0}
        if not lengths <= {10, 20, 25}:
            return None
        stamps = [v if len(v) != 10 else v + midnight for v in values] if 10 in lengths else values
        try:
            out = convert(stamps, list[dt.datetime])
        except msgspec.ValidationError:
            return None
        zones = set(map(_zone_of, out))
        if None in zones or min(stamps)[:4] < lowest or max(stamps)[:4] > highest:
            return None  # a time without an offset, or a year out of range (each starts with 4 digits)
        return in_zone(out, tz, zones)

    return dates


_zone_of = attrgetter("tzinfo")


def in_zone(moments: list[dt.datetime], tz: dt.tzinfo, zones: set | None = None) -> list[dt.datetime]:
    """Returns msgspec's datetimes as the loader keeps dates, in ``tz``. Times written with the zone's own offset
    are already its wall time: msgspec gives them a fixed-offset tzinfo equal to ``tz``, kept as it is when it
    also has tz's name (the loader's zones have none); otherwise each is converted. ``zones``: their tzinfos,
    if the caller has them."""
    zones = set(map(_zone_of, moments)) if zones is None else zones
    if zones == {tz} and all(zone.tzname(None) == tz.tzname(None) for zone in zones):
        return moments
    return list(map(methodcaller("astimezone", tz), moments))


def slug_lister(known: dict[str, Any], renamed: dict[str, str]) -> Callable[[tuple], tuple[str, ...] | bool]:
    """Returns ``slugs(key)``: ``_Checker.slug_list`` without messages for the tuple ``key`` of a list's items,
    the slugs as one tuple shared by every article naming the same list, or False where it would write one."""

    names, slug_of = known.keys(), attrgetter("slug")

    def slugs(key: tuple) -> tuple[str, ...] | bool:
        # Only strings are keys of ``known``, so anything else is not in it.
        given = set(key)
        if key and len(given) == len(key) and given <= names and given.isdisjoint(renamed):
            return tuple(map(slug_of, map(known.__getitem__, key)))  # the ministry's own slug strings
        return False

    return slugs


def slug_lists_checker(known: dict[str, Any], renamed: dict[str, str]) -> Callable[[list[tuple]], bool]:
    """Returns ``sound(keys)``: True if ``slugs(key)`` (see ``slug_lister``) would accept every tuple of
    ``keys``, checked together with the loops in C; False if it would refuse any (``slugs`` then finds which).
    An accepted list is its own shared tuple: its items are exactly the slugs ``slugs`` would give."""
    names = known.keys()

    def sound(keys: list[tuple]) -> bool:
        given = set(chain.from_iterable(keys))
        return (
            all(keys) and names >= given and given.isdisjoint(renamed)
            and list(map(len, map(set, keys))) == list(map(len, keys))  # no slug twice in a list
        )

    return sound


@dataclass(frozen=True)
class Context:
    """What ``_Checker`` knows when it reaches the articles: the portal's zone, the ministries and topics, and
    their former slugs, each to its current one."""

    tz: dt.tzinfo
    ministries: dict[str, Any]
    topics: dict[str, Any]
    m_renamed: dict[str, str]
    t_renamed: dict[str, str]


def article_builder(ctx: Context) -> Callable[[Any, bool], tuple[Article, int] | None]:
    """Returns ``build(obj, check_text)``: (the Article, the number of JSON strings in ``obj``), or None to ask
    for the detailed check. ``check_text`` is False if the article's text holds nothing the text checks look
    for (``_Checker.check_text``)."""
    tz, ministries, topics = ctx.tz, ctx.ministries, ctx.topics
    from .loader import (  # the detailed check's own patterns and limits, so the two cannot drift apart
        MAX_SAFE_INT, MOJIBAKE_RE, SLUG_RE, TEXT_FORBIDDEN_RE, XML_FORBIDDEN_RE, cleaned_forbidden,
    )

    slug_match = SLUG_RE.fullmatch
    url_match = PLAIN_URL_RE.fullmatch
    text_bad = TEXT_FORBIDDEN_RE.search
    mojibake = MOJIBAKE_RE.search
    xml_bad = XML_FORBIDDEN_RE.search
    date = date_reader(tz)
    m_slugs, t_slugs = slug_lister(ministries, ctx.m_renamed), slug_lister(topics, ctx.t_renamed)
    shapes: dict[tuple[str, ...], bool] = {}  # field names in order -> whether the fast path takes them
    m_lists: dict[tuple, tuple[str, ...] | bool] = {}  # slug list -> the shared tuple (False: refused)
    t_lists: dict[tuple, tuple[str, ...] | bool] = {}
    pairs: dict[tuple, tuple] = {}  # (key, value) of a source -> the shared pair

    def shape(names: tuple[str, ...]) -> bool:
        """True if an article with these fields may take the fast path."""
        present = set(names)
        return present <= ARTICLE_FIELDS and present >= REQUIRED and not present & {"corrections", "withdrawn"}

    def build(obj: Any, check_text: bool) -> tuple[Article, int] | None:
        try:
            if type(obj) is not dict:
                return None
            names = tuple(obj)
            ok = shapes.get(names)
            if ok is None:
                ok = shapes[names] = shape(names)
            if not ok:
                return None
            art_id, title, summary = obj["id"], obj["title"], obj["summary"]
            # _Checker.text: a string, not empty, without leading or trailing whitespace. str.strip() returns the
            # string itself when there is none to strip (CPython); were it ever a copy, the detailed check would
            # just take over.
            if (
                type(art_id) is not str or not slug_match(art_id)
                or type(title) is not str or not title or title.strip() is not title
                or type(summary) is not str or not summary or summary.strip() is not summary
                or check_text and (text_bad(title) or mojibake(title) or text_bad(summary) or mojibake(summary))
            ):
                return None
            published = date(obj["published"])
            if published is None:
                return None
            get = obj.get
            strings = len(names) + 4  # the field names, id, title, published, summary
            updated = get("updated")
            if updated is not None:
                updated = date(updated)
                if updated is None or updated < published:
                    return None
                strings += 1
            value = obj["ministries"]
            if type(value) is not list:
                return None
            key = tuple(value)  # hashing it raises TypeError if the list holds a list or an object
            art_ministries = m_lists.get(key)
            if art_ministries is None:
                art_ministries = m_lists[key] = m_slugs(key)
            value = obj["topics"]
            if type(value) is not list:
                return None
            key = tuple(value)
            art_topics = t_lists.get(key)
            if art_topics is None:
                art_topics = t_lists[key] = t_slugs(key)
            if not art_ministries or not art_topics:
                return None
            strings += len(art_ministries) + len(art_topics)
            url = get("url")
            if url is not None:
                if (
                    type(url) is not str or not url_match(url)
                    or check_text and (text_bad(url) or mojibake(url))
                ):
                    return None
                strings += 1
            source: tuple = ()
            value = get("source")
            if value is not None:
                if type(value) is not dict:
                    return None
                items = []
                for pair in value.items():
                    key, val = pair
                    kind = type(val)
                    if kind is str:
                        strings += 1
                    elif kind is not int or not -MAX_SAFE_INT <= val <= MAX_SAFE_INT:
                        return None
                    if check_text and xml_bad(key + (val if kind is str else "")):
                        return None
                    items.append(pairs.setdefault(pair, pair))
                strings += len(items)
                source = tuple(items)
            content_html = get("content_html")
            if content_html is not None:
                if type(content_html) is not str or not content_html.strip() or (check_text and xml_bad(content_html)):
                    return None
                if cleaned_forbidden(content_html):
                    return None
                strings += 1
            return Article(
                art_id, title, published, updated or published, art_ministries, art_topics, summary, content_html, url,
                source, (), None,
            ), strings
        except TypeError:  # an object or a list where a string or a number belongs: the detailed check's case
            return None

    return build


@dataclass(frozen=True, slots=True)
class ArticleMemo:
    """The articles of the last store loaded (their ``Entry``, or the Article the detailed check built), by the
    digest of their JSON text (see ``loader_json.Elements``), and what they were checked against. Both are
    immutable, so two stores can share them: a reload reads only the articles whose text changed.

    An article's text gives the same Article again as long as the portal's time zone is the same and every
    ministry and topic it names is still current (``usable``): nothing else it depends on is outside its text.
    """

    tz: dt.tzinfo | None = None
    ministries: frozenset[str] = frozenset()  # current slugs, not former ones
    topics: frozenset[str] = frozenset()
    articles: Mapping[bytes, Entry | Article] = field(default_factory=dict)  # a dict, or a LazyDict (loader)

    def usable(self, tz: dt.tzinfo, ministries: frozenset[str], topics: frozenset[str]) -> Mapping[bytes, Entry | Article]:
        """Returns the articles that stay as they are with this time zone, ministries and topics."""
        if tz != self.tz:
            return {}
        if ministries >= self.ministries and topics >= self.topics:
            return self.articles  # none went away (the usual case)
        m_fine: dict[tuple[str, ...], bool] = {}  # slug lists are shared tuples: check each once
        t_fine: dict[tuple[str, ...], bool] = {}
        keep = {}
        for key, art in self.articles.items():
            m, t = art.ministries, art.topics
            m_ok = m_fine.get(m)
            if m_ok is None:
                m_ok = m_fine[m] = ministries.issuperset(m)
            t_ok = t_fine.get(t)
            if t_ok is None:
                t_ok = t_fine[t] = topics.issuperset(t)
            if m_ok and t_ok:
                keep[key] = art
        return keep
