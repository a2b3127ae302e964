"""Reads ``data/articles.json``, checks every field, and builds a ``Store``, or raises ``StoreError``.

Every problem is reported at once, one line each, as ``FILE: PLACE: FIELD: what is wrong; the fix``, e.g.
``data/articles.json: articles[3] (2024-05-23-solution-expansion): published: '15/02/2024' is not an RFC 3339
date; write 2024-02-15 or 2024-02-15T09:00:00+09:00``.

A store of 100,000 articles has to load in about a second, and reload whenever its file changes, in a worker of
under 300 MB. So msgspec finds each article's text in the file (``loader_json``) and reads the sound ones into
typed Structs, checked a column at a time (``loader_typed``); an article those refuse is read with orjson and
tried by the dict fast path (``loader_fast``); a reload builds only the articles whose text changed
(``ArticleMemo``); bodies are sanitized when shown, not here (``sanitize``). A first read of a big file checks
half its articles in a forked child on the other core (``forked``, ``loader_parts``). A store read article by
article keeps one small ``Entry`` each and builds an Article from its text when it is shown
(``store.LazyArticles``). The detailed checks in ``_Checker`` write every message, for whatever the fast paths
do not take, and the standard library's reading is kept for files orjson reads differently. The messages are
the same either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import gc
import logging
import os
import re
import threading
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter, is_, itemgetter
from typing import Any, Callable
from urllib.parse import urlsplit

import orjson
from xxhash import xxh3_128_hexdigest

from . import forked
from .errors import StoreError
from .lazy import LazyArticles, LazyDict
from .loader_fast import ArticleMemo, Context, article_builder
from .loader_parts import (
    CHILD_SHARE, FORK_FROM, KEPT, SHARED, Merged, PartRead, merged_index, part_index, whole_index,
)
from .loader_json import (
    MAX_SAFE_INT, TOP_FIELDS, ElementRefused, Elements, json_strings, read_exact, read_fast, scan_texts, text_suspect,
)
from .loader_typed import CHUNK, read_one, read_structs, read_typed, typed_builder
from .sanitize import clean_html, may_decode_forbidden
from .store import (
    Article,
    Correction,
    Entry,
    Former,
    Ministry,
    Portal,
    Store,
    Topic,
    Withdrawal,
    entries_of,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 150 * 1024 * 1024

SLUG_RE = re.compile(r"[a-z0-9-]{1,100}")
# re.ASCII: \d would also match other scripts' digits (２０２４), which no date or tag may hold.
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
RFC3339_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)
NAIVE_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?", re.ASCII)
OFFSET_RE = re.compile(r"[+-](\d{2}):(\d{2})", re.ASCII)
TAG_AUTHORITY_RE = re.compile(
    r"(?:[a-z0-9-]+(?:\.[a-z0-9-]+)+|[^@\s,]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+),[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?"
)
SPACE_RE = re.compile(r"\s")
LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# XML 1.0 section 2.2 Char: everything else (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF) is refused.
XML_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Plain-text fields (titles, summaries, names) also refuse CR and the C1 controls U+007F-U+009F: XML carries
# them, but readers do not (feedparser turns CRLF into LF and U+0080-U+009F into Windows-1252 letters).
TEXT_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# UTF-8 bytes read as Latin-1 ("Ã©" for "é") always show a lead byte followed by a continuation byte.
MOJIBAKE_RE = re.compile("[\xc2-\xf4][\x80-\xbf]")
# Characters a message never prints as they are: controls (a title could carry terminal escapes), lone
# surrogates (stdout cannot encode them), bidirectional overrides. They are shown as \uXXXX instead.
UNPRINTABLE_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
# Years outside this range are typing mistakes (0024 for 2024), and years 1 and 9999 overflow in UTC.
MIN_YEAR, MAX_YEAR = 1900, 2999
# Dates editors tend to type, each with the format that reads it, so the message can show the fix.
GUESS_FORMATS = ("%d/%m/%Y", "%Y.%m.%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y", "%Y-%m-%d")

PORTAL_FIELDS = ("title", "subtitle", "base_url", "tag_authority", "language", "timezone", "author", "contact", "email")
MINISTRY_FIELDS = ("slug", "name", "homepage", "formerly")
TOPIC_FIELDS = ("slug", "name", "formerly")
FORMER_FIELDS = ("slug", "name", "until")
ARTICLE_FIELDS = (
    "id", "title", "published", "updated", "ministries", "topics", "summary",
    "content_html", "url", "source", "corrections", "withdrawn",
)


def load_store(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> Store:
    """Returns the store in the JSON file at ``path``.

    Raises ``StoreError`` listing every problem found, each naming the file, the place and the fix.
    """
    name = _printable(os.fspath(path))
    try:
        size = os.stat(path).st_size
        if size > max_bytes:
            raise StoreError([
                f"{name}: the file is {size:,} bytes, over the limit of {max_bytes:,}; "
                "split the archive or raise FEEDSERVICE_MAX_STORE_BYTES"
            ])
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
        if len(raw) > max_bytes:  # it grew after the stat: still too big
            raise StoreError([
                f"{name}: the file is over the limit of {max_bytes:,} bytes; "
                "split the archive or raise FEEDSERVICE_MAX_STORE_BYTES"
            ])
    except OSError as e:
        raise StoreError([f"{name}: cannot read the store: {e.strerror or e}; check the path and its permissions"]) from None
    return parse_store(raw, name)


def parse_store(raw: bytes, name: str = "<store>") -> Store:
    """Returns the store encoded in ``raw`` (UTF-8 JSON); ``name`` is the file name used in messages."""
    global _article_memo
    name = _printable(name)
    version = _version_of(raw)
    with collector_paused():
        done = _check_fast(raw, name, version, _article_memo)
        if done is None:  # read it the way the loader always did, for the exact messages
            parsed = read_exact(raw, name)
            checker = _Checker(name, parsed.check_text)
            store = checker.build(parsed.doc, version)
        else:
            checker, store = done
    if checker.problems or store is None:
        raise StoreError(checker.problems or [f"{name}: the store is incomplete; compare it with the README's example"])
    if checker.remembered is not None:
        _article_memo = checker.remembered
    return store


def cleaned_forbidden(html: str) -> re.Match[str] | None:
    """Returns the first character XML cannot carry in ``html`` once cleaned, or None. Bodies are cleaned when
    shown, not at load; cleaning only adds such a character by decoding a numeric character reference (&#1;,
    &#xFFFE;), so only a body holding one is cleaned here."""
    return XML_FORBIDDEN_RE.search(clean_html(html)) if may_decode_forbidden(html) else None


def _version_of(raw: bytes) -> str:
    """Returns the store's version: a digest of ``raw``. XXH3-128 (see ``loader_json.Elements`` for why it is
    enough) takes 0.01 s for 100 MB where SHA-256 took 0.07 s, which a thread had to hide; the version only
    names a store in caches and /healthz, and an editor who could forge a collision could as well edit the file."""
    return xxh3_128_hexdigest(raw)[:16]


def _kept_if_equal(built: list[Article | None], before: dict[str, Article]) -> list[Article | None]:
    """Returns ``built`` with each article equal to the one of its id in ``before`` replaced by that one.

    Equal articles render the same bytes (every field is compared, datetimes in the same zone), so nothing a
    reader sees changes; but the new copy is freed at once, chunk by chunk, instead of a second copy of every
    article being alive until the old store goes. A reload whose text changed everywhere (another layout, a
    reformatting tool) then takes the memory of one store, not two.
    """
    for i, art in enumerate(built):
        if art is not None:
            old = before.get(art.id)
            if old is not None and old == art:
                built[i] = old
    return built


@dataclass(frozen=True, slots=True)
class ArticleReader:
    """What ``_Checker.reader`` returns: ``reader(text)``, and ``reader.many(texts)`` for several at once.

    Not ``read.many = read_many`` on the function itself: ``read_many`` calls ``read``, so that made a reference
    cycle, which only the cyclic collector frees, and a store's objects are frozen out of its reach (see
    ``live._kept``): each reload would have kept the last store's reader, its Context and its ministries and
    topics for good."""

    one: Callable[[Any], Article]
    many: Callable[[list], list[Article]]

    def __call__(self, text: Any) -> Article:
        return self.one(text)


def _check_fast(
    raw: bytes, name: str, version: str, memo: ArticleMemo
) -> tuple[_Checker, Store | None] | None:
    """Returns (the checker, the store or None) from orjson's reading of ``raw``, or None when only the
    standard library reads it the way the loader always has (see ``loader_json``)."""
    for by_element in (True, False):
        parsed = read_fast(raw, name, by_element)
        if parsed is None:
            return None  # orjson refuses it
        checker = _Checker(name, parsed.check_text, memo)
        try:
            store = checker.build(parsed.doc, version, parsed.elements, count=True)
        except ElementRefused:
            continue  # the articles list is not laid out a line per article: read it at once
        read = parsed.strings + (0 if parsed.elements is None else parsed.elements.strings)  # type: ignore[operator]
        if checker.strings != read:
            # A key given twice (orjson kept only the last), a float or deep nesting: json names them.
            log.debug("%s: %s strings in the objects read, %d in the text: reading again", name, checker.strings, read)
            return None
        return checker, store
    return None


# Takes the next piece of a forked.Shared range: (start, end), or None when none is left.
_Take = Callable[[], "tuple[int, int] | None"]

# What the last store loaded leaves for the next load: its articles.
_article_memo = ArticleMemo()

_collector_lock = threading.Lock()
_collector_pauses = 0
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Turns the cyclic garbage collector off while a store loads (loads in several threads may overlap).

    A load allocates about ten containers per article; every 700 allocations start a collection, and the
    older generations get traversed again and again for nothing, since a store holds no reference cycles:
    that is 40% of the time of parsing 100,000 articles. Reference counting still frees everything.

    The collector still counts what is allocated meanwhile, so the first allocation after the pause would
    start a collection of everything the load made (23 ms for 100,000 articles). ``live`` pauses around the
    load and its own collection and freeze, which set that count back to zero.
    """
    global _collector_pauses, _collector_was_enabled
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_was_enabled:
                gc.enable()


def _each(items: list, check_text: bool) -> Iterator[tuple[Any, bool]]:
    """Yields (item, check_text) for each item of ``items``, emptying it as it goes (each item is freed once
    used)."""
    for k, item in enumerate(items):
        items[k] = None
        yield item, check_text


def _printable(text: str) -> str:
    """Returns ``text`` with characters a terminal or log must not receive raw written as \\uXXXX."""
    if not UNPRINTABLE_RE.search(text):
        return text
    return UNPRINTABLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _q(value: str, width: int = 60) -> str:
    """Returns ``value`` quoted for a message, cut to ``width`` characters."""
    return f"'{value}'" if len(value) <= width else f"'{value[:width]}...' ({len(value):,} characters)"


def _suggest(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _known_list(known: Any) -> str:
    names = list(known)
    if not names:
        return "(none are defined: the list is empty or missing)"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"(known: {shown})"


def parse_timezone(value: str) -> dt.tzinfo | None:
    """Returns the tzinfo for '+09:00' or an IANA name such as 'Asia/Seoul', or None if it is neither."""
    m = OFFSET_RE.fullmatch(value)
    if m:
        hours, minutes = int(m.group(1)), int(m.group(2))
        if hours > 23 or minutes > 59:
            return None
        delta = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-delta if value[0] == "-" else delta)
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
        return None


class _Checker:
    """Collects problems while turning the parsed JSON into store objects."""

    def __init__(self, name: str, check_text: bool, memo: ArticleMemo | None = None) -> None:
        self.name = name
        self.problems: list[str] = []
        self.check_text = check_text
        self.memo = memo or ArticleMemo()
        # what a load read by element can leave for the next one (see ArticleMemo); None otherwise
        self.remembered: ArticleMemo | None = None
        # JSON strings (keys and string values) in the objects read when build() is asked to count them; None
        # if they hold something orjson may read differently from json (see loader_json.json_strings)
        self.strings: int | None = 0
        self.tz: dt.tzinfo = dt.timezone(dt.timedelta(hours=9))
        self.offset_text = "+09:00"
        # Slugs of ministries/topics refused for a problem of their own (None: the whole list), so that articles
        # naming them are not also reported as naming an unknown one.
        self.refused: dict[str, set[str] | None] = {"ministries": set(), "topics": set()}
        # each article's JSON text, when the articles were read from them (Elements): the store is then lazy
        self.texts: list | None = None
        # (the articles' order, the selections), when the two parts of a forked first read made them (see
        # loader_parts.merged_index); build() then need not
        self.presorted: Merged | None = None

    def problem(self, where: str, message: str) -> None:
        self.problems.append(_printable(f"{self.name}: {where}: {message}"))

    # -- generic fields ------------------------------------------------------------------------------------
    def fields(self, where: str, obj: Any, known: tuple[str, ...], required: tuple[str, ...]) -> bool:
        """Checks that obj is an object with the required fields and no unknown ones; returns False if not an object."""
        if not isinstance(obj, dict):
            self.problem(where, f"must be a JSON object {{\"{required[0]}\": ...}}, not {_json_type(obj)}")
            return False
        for key in obj:
            if key not in known:
                self.problem(where, f"unknown field {_q(key)}{_suggest(key, known)} (fields: {', '.join(known)})")
        for key in getattr(obj, "duplicates", ()):
            self.problem(where, f"{key}: given twice in this object (JSON keeps only the last); delete one")
        for key in required:
            if key not in obj:
                self.problem(where, f"{key}: missing; add \"{key}\"")
        return True

    def text(
        self, where: str, obj: dict, key: str, required: bool = True, empty_ok: bool = False, plain: bool = True
    ) -> str | None:
        """Returns the string ``obj[key]``, or None after recording why it cannot be used.

        ``plain`` text (everything but HTML) may not start or end with whitespace (readers strip it), nor hold
        CR, C1 controls or mojibake; every field refuses what XML cannot carry.
        """
        value = obj.get(key)
        if value is None:
            if required and key in obj:
                self.problem(where, f"{key}: must be a string, not null")
            return None
        if not isinstance(value, str):
            self.problem(where, f"{key}: must be a string, not {_json_type(value)}")
            return None
        if not empty_ok and not value.strip():
            self.problem(where, f"{key}: is empty; write the {key.replace('_', ' ')}")
            return None
        if plain and value and (value[0].isspace() or value[-1].isspace()):
            self.problem(where, f"{key}: starts or ends with whitespace, which readers strip; delete it")
            return None
        if self.check_text:
            bad = (TEXT_FORBIDDEN_RE if plain else XML_FORBIDDEN_RE).search(value)
            if bad:
                char, at = bad.group(), bad.start() + 1
                if XML_FORBIDDEN_RE.match(char):
                    why = "which XML cannot carry; delete it"
                elif char == "\r":
                    why = "a carriage return; write line breaks as \\n alone"
                else:
                    why = "a control character that readers turn into another one; delete it"
                self.problem(where, f"{key}: contains U+{ord(char):04X} at character {at}, {why}")
                return None
            if plain and MOJIBAKE_RE.search(value):
                try:
                    fixed = value.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    pass  # not UTF-8 read as Latin-1
                else:
                    self.problem(where, f"{key}: {_q(value)} is UTF-8 read as Latin-1 (mojibake); write {_q(fixed)}")
                    return None
        return value

    def slug(self, where: str, obj: dict, key: str) -> str | None:
        value = self.text(where, obj, key)
        if value is not None and not SLUG_RE.fullmatch(value):
            fixed = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-") or "name"
            self.problem(where, f"{key}: {_q(value)} is not a slug (a-z, 0-9 and '-', at most 100); write '{fixed[:100]}'")
            return None
        return value

    def url(self, where: str, obj: dict, key: str, required: bool = False) -> str | None:
        value = self.text(where, obj, key, required=required)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            host = parts.netloc
            if ":" in host or "@" in host:  # only then is there a port or user to take apart
                parts.port  # raises ValueError for a port that is not a number from 0 to 65535
                host = parts.hostname
        except ValueError as e:
            self.problem(where, f"{key}: {_q(value)} is not a URL ({e}); write it like https://www.example.go.kr/path")
            return None
        if parts.scheme not in ("http", "https") or not host or SPACE_RE.search(value):
            self.problem(where, f"{key}: {_q(value)} is not an absolute http(s) URL; write it like https://www.example.go.kr/path")
            return None
        return value

    def date(self, where: str, obj: dict, key: str, required: bool = True) -> dt.datetime | None:
        """Returns an aware datetime in the portal's zone; a bare date means 00:00 there."""
        value = obj.get(key)
        if value is None:
            if required:
                self.problem(where, f"{key}: missing; add \"{key}\": \"YYYY-MM-DD\"")
            return None
        if not isinstance(value, str):
            self.problem(where, f"{key}: must be a string like \"2024-02-15\", not {_json_type(value)}")
            return None
        bare = DATE_RE.fullmatch(value)
        if bare or RFC3339_RE.fullmatch(value):
            if not MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
                self.problem(where, f"{key}: {_q(value)}: the year {value[:4]} is out of range; write a year from {MIN_YEAR} to {MAX_YEAR}")
                return None
            try:
                if bare:
                    return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), self.tz)
                # RFC 3339 section 5.6 allows a lower-case t and z; fromisoformat does not.
                return dt.datetime.fromisoformat(value.upper()).astimezone(self.tz)
            except ValueError:
                pass  # the right shape with impossible numbers (month 13): reported below
        if NAIVE_RE.fullmatch(value):
            fix = value.replace(" ", "T")
            if fix.count(":") == 1:
                fix += ":00"
            self.problem(where, f"{key}: {_q(value)} has no UTC offset; write {fix}{self.offset_text}")
            return None
        guess = _guess_date(value)
        if guess:
            fix = f"write {guess} or {guess}T09:00:00{self.offset_text}"
        else:
            fix = f"write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS{self.offset_text}"
        self.problem(where, f"{key}: {_q(value)} is not an RFC 3339 date; {fix}")
        return None

    def slug_list(self, where: str, obj: dict, key: str, known: dict, renamed: dict[str, str]) -> tuple[str, ...]:
        value = obj.get(key)
        if not isinstance(value, list) or not value:
            what = "an empty list" if value == [] else _json_type(value) if key in obj else "missing"
            self.problem(where, f"{key}: must list at least one slug, not {what}; write \"{key}\": [\"{next(iter(known), 'slug')}\"]")
            return ()
        out: list[str] = []
        for i, slug in enumerate(value):
            if not isinstance(slug, str):
                self.problem(where, f"{key}[{i}]: must be a slug string, not {_json_type(slug)}")
            elif slug in renamed:
                self.problem(where, f"{key}[{i}]: '{slug}' is a former name of '{renamed[slug]}'; write '{renamed[slug]}'")
            elif slug not in known:
                refused = self.refused.get(key, set())
                if refused is None or slug in refused:
                    continue  # reported where it is defined
                self.problem(where, f"{key}[{i}]: unknown {key[:-1].replace('ie', 'y')} {_q(slug)}{_suggest(slug, known)} {_known_list(known)}")
            elif slug in out:
                self.problem(where, f"{key}[{i}]: '{slug}' is listed twice; delete one")
            else:
                out.append(slug)
        return tuple(out)

    # -- sections -------------------------------------------------------------------------------------------
    def build(
        self, doc: Any, version: str, elements: Elements | None = None, count: bool = False
    ) -> Store | None:
        """Returns the store ``doc`` describes, or None with ``problems`` saying why; ``version`` is its version.

        ``elements``: the articles (``doc["articles"]`` is then ignored). ``count``: also count the JSON strings
        read in ``strings`` (see ``loader_json.read_fast``). Empties the articles list as it goes, so each
        article's JSON is freed once it is read.
        """
        if count:  # everything but the articles, which articles() counts
            if not isinstance(doc, dict):
                self.strings = json_strings(doc)
            else:
                rest = json_strings([v for k, v in doc.items() if k != "articles" or not isinstance(v, list)])
                self.strings = None if rest is None else len(doc) + rest
        if not isinstance(doc, dict):
            self.problems.append(
                f"{self.name}: the top level must be a JSON object with {', '.join(TOP_FIELDS)}, not {_json_type(doc)}"
            )
            return None
        self.fields("top level", doc, TOP_FIELDS, TOP_FIELDS)
        for key in TOP_FIELDS:
            if key in doc and doc[key] is None:
                self.problem(key, f"must be {'an object' if key == 'portal' else 'a list of objects'}, not null; fill it in as the README shows")
        portal = self.portal(doc.get("portal"))
        ministries, m_renamed = self.named_list(doc.get("ministries"), "ministries", MINISTRY_FIELDS, Ministry)
        topics, t_renamed = self.named_list(doc.get("topics"), "topics", TOPIC_FIELDS, Topic)
        articles = self.articles(
            doc.get("articles") if elements is None else elements, ministries, topics, m_renamed, t_renamed, count
        )
        if self.problems or portal is None:
            return None
        # Ordered by (published, id), with every selection: each part's index merged, or the whole's made now.
        merged = self.presorted if self.presorted is not None else whole_index(articles, ministries, topics)
        order = merged.order
        if self.texts is not None:  # read from the file's text: kept as Entries, built when shown
            texts = self.texts
            ordered: Sequence[Article] = LazyArticles(
                list(map(texts.__getitem__, order)), list(map(entries_of(articles).__getitem__, order)),
                self.reader(Context(self.tz, ministries, topics, m_renamed, t_renamed)),
            )
            entries: Sequence[Entry | Article] = ordered.entries  # type: ignore[attr-defined]
        else:
            ordered = entries = tuple(map(articles.__getitem__, order))
        del articles, order
        positions = range(len(entries))
        return Store(
            path=self.name,
            version=version,
            portal=portal,
            ministries=ministries,
            topics=topics,
            articles=ordered,
            selections=merged.selections,
            by_id=LazyDict(lambda: dict(zip(map(attrgetter("id"), entries), positions))),
            renamed={"ministries": m_renamed, "topics": t_renamed},
            withdrawn_positions=merged.withdrawn,
            corrected_positions=merged.corrected,
        )

    def reader(self, ctx: Context) -> ArticleReader:
        """Returns ``read(text)``: the Article of an article's JSON text that this load checked, built the way
        the load built it (typed, else orjson and the dict fast path, else the detailed check)."""
        typed, fast = typed_builder(ctx), article_builder(ctx)
        name = self.name

        def read(text: Any) -> Article:
            text = bytes(text)
            suspect = text_suspect(text)
            struct = read_one(text)
            if struct is not None:
                (art,), _ = typed([struct], suspect)
                if art is not None:
                    return art
            obj = orjson.loads(text)
            built = fast(obj, suspect)
            if built is not None:
                return built[0]
            checker = _Checker(name, suspect)
            art = checker.article(0, obj, ctx.ministries, ctx.topics, ctx.m_renamed, ctx.t_renamed)
            if art is None:  # cannot happen: the load checked this very text
                raise AssertionError(f"{name}: an article checked at load is refused now: {checker.problems}")
            return art

        def read_many(texts: list) -> list[Article]:
            """``[read(text) for text in texts]``, the sound ones read and built together (a page of 50 in a
            fifth of the time)."""
            if not texts:
                return []
            arts, _ = typed(read_structs(texts), scan_texts(texts)[0])
            return [read(text) if art is None else art for art, text in zip(arts, texts)]

        return ArticleReader(read, read_many)

    def portal(self, obj: Any) -> Portal | None:
        where = "portal"
        if obj is None or not self.fields(where, obj, PORTAL_FIELDS, ("title", "base_url", "tag_authority", "language", "timezone")):
            return None
        tz_text = self.text(where, obj, "timezone")
        if tz_text is not None:
            tz = parse_timezone(tz_text)
            if tz is None:
                self.problem(
                    where,
                    f"timezone: {_q(tz_text)} is neither a UTC offset nor an IANA zone name; write +09:00 or Asia/Seoul",
                )
            else:
                self.tz = tz
                if OFFSET_RE.fullmatch(tz_text):
                    self.offset_text = tz_text
        title = self.text(where, obj, "title")
        base_url = self.url(where, obj, "base_url", required=True)
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
                self.problem(where, f"base_url: {_q(base_url)} has a query or fragment; write only scheme, host and path")
            elif parts.username is not None:
                self.problem(where, f"base_url: {_q(base_url)} has a user name; write only scheme, host and path")
            base_url = base_url.rstrip("/")
        authority = self.text(where, obj, "tag_authority")
        if authority is not None and not TAG_AUTHORITY_RE.fullmatch(authority):
            self.problem(
                where,
                f"tag_authority: {_q(authority)} is not an RFC 4151 tagging entity; write a domain you own and a date "
                "you owned it, like smartcity.go.kr,2025",
            )
        language = self.text(where, obj, "language")
        if language is not None and not LANGUAGE_RE.fullmatch(language):
            self.problem(where, f"language: {_q(language)} is not a language tag; write one like en or ko-KR")
        subtitle = self.text(where, obj, "subtitle", required=False, empty_ok=True) or ""
        author = self.text(where, obj, "author", required=False) or title
        for key in ("contact", "email"):
            self.text(where, obj, key, required=False)
        if None in (title, base_url, authority, language, tz_text) or self.problems:
            return None
        return Portal(title, subtitle, base_url, authority, language, self.tz, author)  # type: ignore[arg-type]

    def named_list(self, value: Any, kind: str, known_fields: tuple[str, ...], cls: Callable) -> tuple[dict, dict[str, str]]:
        """Checks the ministries or topics list; returns ({slug: object}, {former slug: current slug})."""
        out: dict[str, Any] = {}
        renamed: dict[str, str] = {}
        if not isinstance(value, list):
            if value is not None:
                self.problem(kind, f"must be a list of objects, not {_json_type(value)}; write \"{kind}\": [{{\"slug\": ..., \"name\": ...}}]")
            self.refused[kind] = None
            return out, renamed
        formers: list[tuple[str, str, str]] = []  # (where, former slug, current slug)
        for i, obj in enumerate(value):
            where = f"{kind}[{i}]"
            start = len(self.problems)
            if not self.fields(where, obj, known_fields, ("slug", "name")):
                continue
            slug = self.slug(where, obj, "slug")
            if slug is not None:
                where = f"{kind}[{i}] ({slug})"
                for k in range(start, len(self.problems)):  # add the slug to what fields() found
                    self.problems[k] = self.problems[k].replace(f": {kind}[{i}]: ", f": {where}: ", 1)
            name = self.text(where, obj, "name")
            formerly = self.formerly(where, obj.get("formerly"))
            extra = {}
            if "homepage" in known_fields:
                extra["homepage"] = self.url(where, obj, "homepage")
            if slug is None or name is None:
                if slug is not None:
                    self.refused[kind].add(slug)  # type: ignore[union-attr]
                continue
            if slug in out:
                self.problem(where, f"slug: '{slug}' is used twice in {kind}; slugs are permanent, give this one a new slug")
                continue
            out[slug] = cls(slug=slug, name=name, formerly=formerly, **extra)
            formers.extend((where, f.slug, slug) for f in formerly)
        for where, old, new in formers:
            if old in out:
                self.problem(
                    where,
                    f"formerly: '{old}' is the slug of a current entry in {kind}; a slug is never reused for a "
                    "different one: pick a new slug",
                )
            elif old in renamed and renamed[old] != new:
                self.problem(where, f"formerly: '{old}' is already a former slug of '{renamed[old]}'; a former slug has one successor")
            else:
                renamed[old] = new
        return out, renamed

    def formerly(self, where: str, value: Any) -> tuple[Former, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(where, f"formerly: must be a list of objects, not {_json_type(value)}; write \"formerly\": [{{\"slug\": ..., \"name\": ...}}]")
            return ()
        out = []
        for j, obj in enumerate(value):
            w = f"{where}: formerly[{j}]"
            if not self.fields(w, obj, FORMER_FIELDS, ("slug", "name")):
                continue
            slug, name = self.slug(w, obj, "slug"), self.text(w, obj, "name")
            until = self.date(w, obj, "until", required=False)
            if slug and name:
                out.append(Former(slug, name, until.date() if until else None))
        return tuple(out)

    def articles(
        self, value: Any, ministries: dict, topics: dict, m_renamed: dict, t_renamed: dict, count: bool = False
    ) -> list[Article]:
        """Checks the articles list (or ``Elements`` reading it) and returns its articles."""
        ctx = Context(self.tz, ministries, topics, m_renamed, t_renamed)
        fast = article_builder(ctx)
        if isinstance(value, Elements):
            self.texts = value.texts
            # a former slug is never a current one (named_list refuses that), so current slugs suffice
            current = (frozenset(ministries), frozenset(topics))
            known = self.memo.usable(self.tz, *current)
            # each text's digest, for the memo: made now only if a last load left articles to look up
            keys = value.keys() if known else None
            mark = len(self.problems)
            out = self._known_articles(
                value, keys, known, fast, typed_builder(ctx, entries=True), ministries, topics, m_renamed, t_renamed,
                count,
            )
            if out is not None:
                self.remembered = ArticleMemo(
                    self.tz, *current, LazyDict(lambda: dict(zip(value.keys() if keys is None else keys, out)))
                )
                return out
            self.presorted = None
            # Some article has a problem: check them again one by one, for the messages in order. An article
            # whose text the last load read is that load's article, neither read nor built again: a refused
            # edit of one article costs the memory of one article, not of a second store.
            del self.problems[mark:]
            value.strings = 0
            items: Iterator[tuple[Any, bool | None]] = (
                (art, None) if art is not None else value.read(k)
                for k, art in enumerate(repeat(None, len(value.texts)) if keys is None else map(known.get, keys))
            )
        elif isinstance(value, list):
            items = _each(value, self.check_text)
        else:
            if value is not None:
                self.problem("articles", f"must be a list of objects, not {_json_type(value)}; write \"articles\": [{{\"id\": ...}}, ...]")
            return []
        return self._each_article(items, fast, ministries, topics, m_renamed, t_renamed, count)

    def _known_articles(
        self, elements: Elements, keys: list[bytes] | None, known: Mapping[bytes, Entry | Article], fast: Callable,
        typed: Callable,
        ministries: dict, topics: dict, m_renamed: dict, t_renamed: dict, count: bool,
    ) -> list[Article] | None:
        """Returns the articles of ``elements``, reading only those whose key ``known`` does not hold (by the
        typed path ``typed``, else one by one with ``fast``); None if any has a problem (or two share an id), which the caller then
        reports."""
        arts: list[Entry | Article | None] = [None] * len(elements.texts) if keys is None else list(map(known.get, keys))
        todo = list(compress(range(len(arts)), map(is_, arts, repeat(None))))  # the loop in C: 1 ms, not 19
        # The last load's entries by id: an article read again that equals one of them is that one (see
        # _kept_if_equal). Only worth it when much is read again: a file rewritten in another layout, say.
        before = dict(zip(map(attrgetter("id"), known.values()), known.values())) if len(todo) > 64 else {}
        # When every article is read, each process of a forked read also orders and selects its own part
        # (part_index), and the two are merged instead of build() doing it all after the child is done.
        indexed = len(todo) == len(arts)
        built, strings_built, strings_read = self._typed_all(elements, todo, typed, indexed, ministries, topics)
        if before:
            built = _kept_if_equal(built, before)
        strings: int | None = strings_built
        elements.strings += strings_read
        if indexed and None not in built:
            arts = built  # every article read, and built: todo is every place in order
        else:
            for k, art in zip(todo, built):
                if art is None:
                    obj, check_text = elements.read(k)
                    art, n = self._one_article(k, obj, check_text, fast, ministries, topics, m_renamed, t_renamed, count)
                    if art is None:  # it has a problem (an article is built only without one)
                        return None
                    if strings is not None:
                        strings = None if n is None else strings + n
                arts[k] = art
        if self.presorted is None:  # else each part checked its ids, and the parent that none is in both
            ids = list(map(attrgetter("id"), arts))
            if len(set(ids)) != len(ids):
                return None
        if self.strings is not None:
            self.strings = None if strings is None else self.strings + strings
        return arts  # type: ignore[return-value]

    def _typed_all(
        self, elements: Elements, todo: list[int], typed: Callable, indexed: bool, ministries: dict, topics: dict,
    ) -> tuple[list[Entry | None], int, int]:
        """``_typed_part`` of elements ``todo``, checked by this process and, for a big read, a forked child on
        the other core at the same time (see forked and PartRead). Each first checks a part of its own; the
        SHARED percent of the articles between the two parts then goes a piece at a time to whichever gets
        there first (forked.Shared), so that both finish together even when the host slows one down. With
        ``indexed`` (``todo`` is every article), each also indexes its own part, and the merged index is left in
        ``presorted``."""
        n = len(todo)
        mine = theirs = n  # the parent's own part: todo[:mine]; the child's: todo[theirs:]
        shared = None
        if n >= FORK_FROM and PartRead.usable(self.tz) and forked.can_fork():
            mine, theirs = n - n * (CHILD_SHARE + SHARED // 2) // 100, n - n * (CHILD_SHARE - SHARED // 2) // 100
            try:
                shared = forked.Shared(mine, theirs, CHUNK, KEPT)
            except OSError as e:  # no memfd, or no file descriptor left: this process reads it all
                log.debug("no shared range, so no child: %s", e)
                mine = theirs = n
        wire = PartRead(self.tz)

        def typed_pieces(own: tuple[int, int], take: _Take | None) -> tuple[list, int, int]:
            """_typed_part of todo[own], then of each piece ``take()`` gives while there is one, in todo's order."""
            done = [(own, self._typed_part(elements, todo[own[0]:own[1]], typed))]
            for piece in iter(take, None) if take is not None else ():
                done.append((piece, self._typed_part(elements, todo[piece[0]:piece[1]], typed)))
            done.sort(key=itemgetter(0))
            parts = [part for _, part in done]
            return list(chain.from_iterable(p[0] for p in parts)), sum(p[1] for p in parts), sum(p[2] for p in parts)

        kept: list = []  # what the child made, never freed: it exits as soon as it has written its answer

        def child() -> bytes:
            entries, strings_built, strings_read = typed_pieces((theirs, n), shared.last)  # type: ignore[union-attr]
            index = part_index(entries, ministries, topics) if indexed and None not in entries else None
            kept.append((entries, index))  # freeing 50,000 entries on the way out took 10 ms before the write
            return wire.encode(entries, strings_built, strings_read, index)

        result = None
        try:
            result = forked.start(child) if shared is not None else None
            try:
                built, strings_built, strings_read = typed_pieces((0, mine), shared and shared.first)
                split = shared.met() if shared is not None else n  # the child's part: todo[split:]
                own = None
                if result is not None and indexed and None not in built:
                    own = part_index(built, ministries, topics, keys=True)  # type: ignore[arg-type]
            except BaseException:  # MemoryError, KeyboardInterrupt: wait for the child, so none is left behind
                if result is not None:
                    result()
                raise
            if split < n:
                got = result() if result is not None else None
                entries, n_built, n_read, index = (
                    wire.decode(got) if got is not None else (*self._typed_part(elements, todo[split:], typed), None)
                )
                if own is not None and index is not None and own.ids.isdisjoint(index.ids):
                    self.presorted = merged_index(own, index, ministries, topics)
                built += entries
                strings_built += n_built
                strings_read += n_read
        finally:
            if shared is not None:
                shared.close()
            if result is not None:
                forked.reap()  # the child said it was done well before: by now it has exited
        return built, strings_built, strings_read

    @staticmethod
    def _typed_part(elements: Elements, ks: list[int], typed: Callable) -> tuple[list[Entry | None], int, int]:
        """Returns (the Entry of each of elements ``ks``, or None where the typed path refuses one; the JSON
        strings in those built; the JSON strings in their text)."""
        if not ks:
            return [], 0, 0
        suspects, strings_read = elements.scan(ks)
        built: list[Entry | None] = []
        strings_built = 0
        for part, structs in read_typed(elements, ks):  # a chunk at a time: see read_typed
            arts_read, n = typed(structs, suspects if type(suspects) is bool else suspects[part])
            built += arts_read  # Entries: LazyArticles builds the Articles when shown
            strings_built += n
        refused = [k for k, entry in zip(ks, built) if entry is None]
        if refused:  # read again one by one, which counts their strings then
            strings_read -= elements.strings_in(refused)
        return built, strings_built, strings_read

    def _each_article(
        self, items: Iterator[tuple[Any, bool | None]], fast: Callable,
        ministries: dict, topics: dict, m_renamed: dict, t_renamed: dict, count: bool,
    ) -> list[Article]:
        """Checks each (article JSON, check_text) of ``items`` in order and returns the articles. An item
        (Article, None) is an article already checked, whose text was not read this time (so its strings are
        not counted on either side)."""
        out: list[Article] = []
        seen: dict[str, int] = {}
        strings: int | None = 0
        for i, (obj, check_text) in enumerate(items):
            if check_text is None:
                art, n = obj, 0
            else:
                art, n = self._one_article(i, obj, check_text, fast, ministries, topics, m_renamed, t_renamed, count)
            if strings is not None:
                strings = None if n is None else strings + n
            if art is None:
                continue
            if art.id in seen:
                self.problem(
                    f"articles[{i}] ({art.id})",
                    f"id: '{art.id}' is already the id of articles[{seen[art.id]}]; ids are permanent, give this "
                    "article a new one",
                )
                continue
            seen[art.id] = i
            out.append(art)
        if self.strings is not None:
            self.strings = None if strings is None else self.strings + strings
        return out

    def _one_article(
        self, i: int, obj: Any, check_text: bool, fast: Callable,
        ministries: dict, topics: dict, m_renamed: dict, t_renamed: dict, count: bool,
    ) -> tuple[Article | None, int | None]:
        """Returns (article or None, JSON strings it holds): the fast path when it is sound, else the
        detailed check, which records the problems."""
        built = fast(obj, check_text)
        if built is not None:
            return built
        self.check_text = check_text  # this article's text is what the detailed check reads now
        return self.article(i, obj, ministries, topics, m_renamed, t_renamed), json_strings(obj) if count else 0

    def article(self, i: int, obj: Any, ministries: dict, topics: dict, m_renamed: dict, t_renamed: dict) -> Article | None:
        where = f"articles[{i}]"
        start = len(self.problems)
        if not self.fields(where, obj, ARTICLE_FIELDS, ("id", "title", "published", "ministries", "topics", "summary")):
            return None
        art_id = self.slug(where, obj, "id")
        if art_id is not None:
            where = f"articles[{i}] ({art_id})"
            # problems found before the id was known (unknown, missing or repeated fields) get the id added too
            for k in range(start, len(self.problems)):
                self.problems[k] = self.problems[k].replace(f": articles[{i}]: ", f": {where}: ", 1)
        title = self.text(where, obj, "title")
        published = self.date(where, obj, "published")
        updated = self.date(where, obj, "updated", required=False)
        if published and updated and updated < published:
            self.problem(
                where,
                f"updated: {obj['updated']} is before published {obj['published']}; updated must be the same or later",
            )
        art_ministries = self.slug_list(where, obj, "ministries", ministries, m_renamed)
        art_topics = self.slug_list(where, obj, "topics", topics, t_renamed)
        summary = self.text(where, obj, "summary")
        content_html = self.text(where, obj, "content_html", required=False, plain=False)
        if content_html is not None:
            bad = cleaned_forbidden(content_html)
            if bad:
                self.problem(
                    where,
                    f"content_html: holds U+{ord(bad.group()):04X} (written as a character reference like "
                    f"&#{ord(bad.group())};), which XML cannot carry; delete it",
                )
        url = self.url(where, obj, "url")
        source = self.source(where, obj.get("source"))
        corrections = self.corrections(where, obj.get("corrections"), published)
        withdrawn = self.withdrawal(where, obj.get("withdrawn"), published)
        if len(self.problems) > start:  # missing fields were reported by fields()
            return None
        assert art_id and title and published and summary is not None
        newest = updated or published
        if corrections:
            # A correction is the only thing that moves `updated` (the reader shows the entry again for it).
            newest = max(newest, max(c.date for c in corrections))
        return Article(
            id=art_id,
            title=title,
            published=published,
            updated=newest,
            ministries=art_ministries,
            topics=art_topics,
            summary=summary,
            html=content_html,
            url=url,
            source=source,
            corrections=corrections,
            withdrawn=withdrawn,
        )

    def source(self, where: str, value: Any) -> tuple[tuple[str, object], ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.problem(where, f"source: must be an object like {{\"newsletter\": 58, \"date\": \"2025-01-02\"}}, not {_json_type(value)}")
            return ()
        items: list[tuple[str, object]] = []
        for key in getattr(value, "duplicates", ()):
            self.problem(where, f"source: {key}: given twice in this object (JSON keeps only the last); delete one")
        for key, val in value.items():
            if not isinstance(val, (str, int)) or isinstance(val, bool):
                self.problem(where, f"source: {key}: must be a string or a whole number, not {_json_type(val)}")
            elif isinstance(val, int) and abs(val) > MAX_SAFE_INT:
                self.problem(where, f"source: {key}: a {len(str(abs(val)))}-digit number is too large for JSON readers; write a number below 2^53 or a string")
            elif self.check_text and XML_FORBIDDEN_RE.search(key + (val if isinstance(val, str) else "")):
                self.problem(where, f"source: {key}: contains a character XML cannot carry; delete it")
            else:
                items.append((key, val))
        return tuple(items)

    def corrections(self, where: str, value: Any, published: dt.datetime | None) -> tuple[Correction, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(where, f"corrections: must be a list of {{\"date\", \"note\"}} objects, not {_json_type(value)}")
            return ()
        out = []
        for j, obj in enumerate(value):
            w = f"{where}: corrections[{j}]"
            if not self.fields(w, obj, ("date", "note"), ("date", "note")):
                continue
            date, note = self.date(w, obj, "date"), self.text(w, obj, "note")
            if date and published and date < published:
                self.problem(w, f"date: {obj['date']} is before the article was published; a correction comes after")
            elif date and note:
                out.append(Correction(date, note))
        return tuple(sorted(out, key=lambda c: c.date))

    def withdrawal(self, where: str, value: Any, published: dt.datetime | None) -> Withdrawal | None:
        if value is None:
            return None
        w = f"{where}: withdrawn"
        if not self.fields(w, value, ("date", "reason"), ("date", "reason")):
            return None
        date, reason = self.date(w, value, "date"), self.text(w, value, "reason")
        if date and published and date < published:
            self.problem(w, f"date: {value['date']} is before the article was published; it must be the same or later")
            return None
        return Withdrawal(date, reason) if date and reason else None


def _guess_date(value: str) -> str | None:
    for fmt in GUESS_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            # NaN and Infinity are not JSON (RFC 8259 section 6), but Python's json reads them
            shown = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
            return f"{shown}, which is not JSON"
        if value.is_integer():
            return "a number"
        return "a number with a fraction"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
