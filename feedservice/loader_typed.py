"""The loader's fastest path: msgspec reads sound articles straight into typed Structs, which are checked and
made Articles a column at a time.

``loader_fast`` checks each article's parsed JSON in Python: that its fields are known and present, and that
each value has the right type, before the checks that matter. msgspec does all of that in C while it reads, and
builds no dicts. It reads 1,000 articles per call, or one at a time for a chunk holding an article that does
not fit (``read_typed``). ``typed_builder`` then runs the checks that are left (slugs, text, dates, URLs, known
ministries and topics, corrections and a withdrawal), one field at a time over a whole chunk with the loops in
C when the chunk's text needs no text checks (``columns``), else article by article (``each``), and builds the
same ``Article`` as the detailed check.

Anything either step refuses (a null, a float, an unknown field, any problem) comes back as None, and the
loader reads that article again with orjson for the dict fast path and the detailed check, which writes the
messages. So this path too may refuse more than the detailed check, never accept more.

Keys given twice: msgspec keeps the last, as orjson does, without a word. ``typed_builder`` counts the JSON
strings each Struct holds, as ``loader_fast`` counts those of a dict, and ``loader_json.Elements`` counts those
in the text: the loader compares the two (see ``loader_json``).
"""

from __future__ import annotations

import datetime as dt
from itertools import chain, compress, islice, repeat
from operator import attrgetter, is_, is_not, le, not_, or_
from typing import Annotated, Any, Callable, Iterator

import msgspec
from msgspec import Meta, Struct

from .loader_fast import PLAIN_URL_RE, Context, date_reader, dates_reader, slug_lister, slug_lists_checker
from .loader_json import MAX_SAFE_INT, Elements
from .store import Article, Correction, Entry, Withdrawal

# Errors a typed read raises for text the types refuse: ValidationError is a DecodeError, UnicodeDecodeError (a
# string that is not UTF-8) a ValueError.
_REFUSED = (msgspec.DecodeError, ValueError, RecursionError)


_SafeInt = Annotated[int, Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]


class _Correction(Struct, forbid_unknown_fields=True, gc=False):
    date: str
    note: str


class _Withdrawal(Struct, forbid_unknown_fields=True, gc=False):
    date: str
    reason: str


class _Article(Struct, forbid_unknown_fields=True, gc=False):
    """An article as the store writes it: unknown, missing, null and mistyped fields are refused while reading,
    and so are numbers in a source beyond JSON's safe integers. None: the field is not in the text (a key the
    string count leaves out); the types do not take None, which is how a null is refused."""

    id: str
    title: str
    published: str
    ministries: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    updated: str = None  # type: ignore[assignment]
    content_html: str = None  # type: ignore[assignment]
    url: str = None  # type: ignore[assignment]
    source: dict[str, str | _SafeInt] = None  # type: ignore[assignment]
    corrections: list[_Correction] = None  # type: ignore[assignment]
    withdrawn: _Withdrawal = None  # type: ignore[assignment]


# Articles read in one call: a chunk's Structs take about 0.6 MB, its text about 1 MB.
CHUNK = 1000
_ONE = msgspec.json.Decoder(_Article)
_id, _title, _summary = attrgetter("id"), attrgetter("title"), attrgetter("summary")
_published, _updated = attrgetter("published"), attrgetter("updated")
_ministries, _topics = attrgetter("ministries"), attrgetter("topics")
_url, _content_html, _source = attrgetter("url"), attrgetter("content_html"), attrgetter("source")
_corrections, _withdrawn = attrgetter("corrections"), attrgetter("withdrawn")


def _source_text(pair: tuple[str, str | int]) -> str:
    """The text of a source's (key, value): the key, and the value if it is a string."""
    key, value = pair
    return key + value if type(value) is str else key
_LIST = msgspec.json.Decoder(list[_Article])


def read_one(text: Any) -> _Article | None:
    """Returns the Struct of one article's JSON text, or None if msgspec refuses it."""
    try:
        return _ONE.decode(text)
    except _REFUSED:
        return None


def _as_list(chunk: list) -> bytes:
    """The JSON list of the texts in ``chunk`` (not empty), copied once: the brackets go on the first and last
    text (b"[%s]" % b",".join(chunk) copied it twice, and took three times as long)."""
    ends = list(chunk)
    ends[0] = b"[" + ends[0]
    ends[-1] = bytes(ends[-1]) + b"]"
    return b",".join(ends)


def _pick(flags: list[bool], no: Iterator, yes: Iterator) -> list:
    """``[next(yes) if flag else next(no) for flag in flags]`` with the loop in C: ``[no, yes][flag]`` is the
    iterator to take from. The caller gives each as many items as it is asked for; map would end the list
    early without a word on a StopIteration, so the length is checked."""
    out = list(map(next, map([no, yes].__getitem__, flags)))
    if len(out) != len(flags):
        raise AssertionError("a column lost an item")  # cannot happen: see above
    return out


def read_typed(elements: Elements, ks: list[int]) -> Iterator[tuple[slice, list[_Article | None]]]:
    """Yields (a slice of ``ks``, the Structs of those elements of ``elements``, None for each msgspec
    refuses), a chunk at a time.

    A chunk is read in one call, unless one of its elements does not fit; the caller builds each chunk's Articles
    before the next is read, so the Structs of only one chunk are alive at a time (all of them would be ~60 MB
    for 100,000 articles).
    """
    texts = elements.texts
    for at in range(0, len(ks), CHUNK):
        part = slice(at, at + CHUNK)
        yield part, read_structs(list(map(texts.__getitem__, ks[part])))


def read_structs(chunk: list) -> list[_Article | None]:
    """Returns the Struct of each JSON text of ``chunk`` (not empty), or None for each msgspec refuses: in one
    call unless one of them does not fit."""
    try:
        return _LIST.decode(_as_list(chunk))
    except _REFUSED:
        return list(map(read_one, chunk))


def typed_builder(
    ctx: Context, entries: bool = False
) -> Callable[[list[_Article | None], list[bool] | bool], tuple[list[Any], int]]:
    """Returns ``build(structs, check_text)``: (an Article for each Struct, or None to ask for the detailed
    check; the number of JSON strings in the Structs built). ``check_text``: one flag per Struct, or one for
    all (see ``_Checker.check_text``). With ``entries``, it makes the ``Entry`` of each instead: what a load
    keeps (the checks are the same; only what is made of a Struct that passes them differs)."""
    tz = ctx.tz
    from .loader import (  # the detailed check's own patterns and limits, so the two cannot drift apart
        MOJIBAKE_RE, SLUG_RE, TEXT_FORBIDDEN_RE, XML_FORBIDDEN_RE, cleaned_forbidden,
    )

    slug_match = SLUG_RE.fullmatch
    url_match = PLAIN_URL_RE.fullmatch
    text_bad = TEXT_FORBIDDEN_RE.search
    mojibake = MOJIBAKE_RE.search
    xml_bad = XML_FORBIDDEN_RE.search
    date, dates = date_reader(tz), dates_reader(tz)
    m_slugs, t_slugs = slug_lister(ctx.ministries, ctx.m_renamed), slug_lister(ctx.topics, ctx.t_renamed)
    m_sound, t_sound = slug_lists_checker(ctx.ministries, ctx.m_renamed), slug_lists_checker(ctx.topics, ctx.t_renamed)
    m_lists: dict[tuple, tuple[str, ...] | bool] = {}  # slug list -> the shared tuple (False: refused)
    t_lists: dict[tuple, tuple[str, ...] | bool] = {}
    pairs: dict[tuple, tuple] = {}  # (key, value) of a source -> the shared pair

    def plain(value: str, check_text: bool) -> bool:
        """_Checker.text for plain text (the Struct made sure it is a string)."""
        return bool(value) and value.strip() is value and not (check_text and (text_bad(value) or mojibake(value)))

    def extras(a: _Article, published: dt.datetime, check_text: bool) -> tuple | None:
        """Returns (corrections, withdrawal, newest date, JSON strings) of an article that has either, or None."""
        corrections: tuple[Correction, ...] = ()
        withdrawn = None
        newest = published
        strings = 0
        if a.corrections is not None:
            out = []
            for c in a.corrections:
                moment = date(c.date)
                if moment is None or moment < published or not plain(c.note, check_text):
                    return None
                out.append(Correction(moment, c.note))
            strings += 1 + 4 * len(out)
            corrections = tuple(sorted(out, key=lambda c: c.date))
            if corrections:
                newest = max(c.date for c in corrections)
        if a.withdrawn is not None:
            w = a.withdrawn
            moment = date(w.date)
            if moment is None or moment < published or not plain(w.reason, check_text):
                return None
            withdrawn = Withdrawal(moment, w.reason)
            strings += 5
        return corrections, withdrawn, newest, strings

    def columns(structs: list[_Article]) -> tuple[list[Article | None], int] | None:
        """``each(structs, False)`` a column at a time, every loop in C (map, all, compress) or a list
        comprehension: the Articles and their JSON strings when every Struct passes, else None (``each`` then
        finds which do not). An article with corrections or a withdrawal is built by ``each``."""
        ids, titles, summaries = list(map(_id, structs)), list(map(_title, structs)), list(map(_summary, structs))
        if not (
            all(map(slug_match, ids))
            and all(titles) and all(map(is_, map(str.strip, titles), titles))
            and all(summaries) and all(map(is_, map(str.strip, summaries), summaries))
        ):
            return None
        published = dates(list(map(_published, structs)))
        given = list(map(_updated, structs))
        has_updated = list(map(is_not, given, repeat(None)))
        later = dates(list(compress(given, has_updated))) if any(has_updated) else []
        if published is None or later is None:
            return None
        # updated where it is given, else published
        updated = _pick(has_updated, compress(published, map(not_, has_updated)), iter(later))
        if not all(map(le, published, updated)):
            return None
        art_ministries = slug_column(list(map(_ministries, structs)), m_lists, m_slugs, m_sound)
        art_topics = slug_column(list(map(_topics, structs)), t_lists, t_slugs, t_sound)
        if art_ministries is None or art_topics is None:
            return None
        urls = list(map(_url, structs))
        has_url = list(map(is_not, urls, repeat(None)))
        if not all(map(url_match, compress(urls, has_url))):
            return None
        # No body needs the XML check: the text holds no character the checks refuse (check_text is False).
        bodies = list(map(_content_html, structs))
        has_body = list(map(is_not, bodies, repeat(None)))
        given_bodies = list(compress(bodies, has_body))
        if not all(map(str.strip, given_bodies)) or any(map(cleaned_forbidden, given_bodies)):
            return None
        if entries:  # an Entry keeps no source: only its strings are counted
            sources, source_strings = None, source_strings_of(list(map(_source, structs)))
        else:
            sources, source_strings = source_column(list(map(_source, structs)))
        out: list[Any] = list(map(
            Entry, ids, published, updated, art_ministries, art_topics,
        )) if entries else list(map(
            Article, ids, titles, published, updated, art_ministries, art_topics, summaries, bodies, urls, sources,
        ))
        strings = (
            10 * len(structs) + 2 * (len(later) + sum(has_url) + len(given_bodies)) + source_strings
            + sum(map(len, art_ministries)) + sum(map(len, art_topics))
        )
        extra = list(compress(range(len(structs)), map(
            or_, map(is_not, map(_corrections, structs), repeat(None)), map(is_not, map(_withdrawn, structs), repeat(None))
        )))
        if extra:
            built, n = each([structs[k] for k in extra], False)
            if None in built:
                return None
            for k, art in zip(extra, built):
                out[k] = art
            strings += n - sum(
                10 + 2 * has_updated[k] + len(art_ministries[k]) + len(art_topics[k]) + 2 * has_url[k]
                + 2 * has_body[k] + source_strings_of([structs[k].source])
                for k in extra
            )
        return out, strings

    def slug_column(
        lists: list[tuple[str, ...]], known: dict[tuple, tuple[str, ...] | bool], slugs: Callable,
        sound: Callable[[list[tuple]], bool],
    ) -> list[tuple[str, ...]] | None:
        """The shared slug tuple of each list (see ``slug_lister``), or None if any is refused. Lists not seen
        before (most of them in the first chunks of a first load) are checked all at once (``sound``), each
        becoming its own shared tuple; only if that fails are they checked one by one, to find which."""
        out = list(map(known.get, lists))
        if None in out:
            new = list(dict.fromkeys(compress(lists, map(is_, out, repeat(None)))))
            known.update(zip(new, new) if sound(new) else zip(new, map(slugs, new)))
            out = list(map(known.__getitem__, lists))
        return out if all(out) else None  # type: ignore[return-value]

    def source_strings_of(values: list[Any]) -> int:
        """The JSON strings of the sources ``values`` (None where there is none): of each, the key "source", its
        keys and its string values."""
        given = list(compress(values, map(is_not, values, repeat(None))))
        return len(given) + sum(map(len, given)) + list(map(type, chain.from_iterable(map(dict.values, given)))).count(str)

    def source_column(values: list[Any]) -> tuple[list[tuple], int]:
        """Each source as a tuple of shared (key, value) pairs (``()`` where there is none) and their JSON
        strings (msgspec took only numbers within range)."""
        has = list(map(is_not, values, repeat(None)))
        given = list(compress(values, has))
        flat = list(chain.from_iterable(map(dict.items, given)))
        shared = iter(list(map(pairs.setdefault, flat, flat)))
        sizes = set(map(len, given))
        size = sizes.pop() if len(sizes) == 1 else 0
        if size:  # every source has as many pairs (the usual case): zip takes them that many at a time
            tuples = iter(list(zip(*[shared] * size)))
        else:
            tuples = iter(list(map(tuple, map(islice, repeat(shared), map(len, given)))))
        return _pick(has, repeat(()), tuples), source_strings_of(given)  # () where there is no source

    def build(structs: list[_Article | None], check_text: list[bool] | bool) -> tuple[list[Article | None], int]:
        if check_text is False and structs and None not in structs:
            done = columns(structs)  # type: ignore[arg-type]
            if done is not None:
                return done
        return each(structs, check_text)

    def each(structs: list[_Article | None], check_text: list[bool] | bool) -> tuple[list[Article | None], int]:
        out: list[Article | None] = []
        append = out.append
        total = 0
        checks = repeat(check_text) if type(check_text) is bool else check_text
        # the dates of every Struct in two calls when they allow (see dates_reader), else one by one
        published_all = updated_all = None
        if None not in structs:
            published_all = dates(list(map(_published, structs)))
            updated_all = dates([u for u in map(_updated, structs) if u is not None])
        if published_all is None:
            published_all = [None if a is None else date(a.published) for a in structs]
        updated_each = iter(()) if updated_all is None else iter(updated_all)
        for a, check, published in zip(structs, checks, published_all):
            if a is None:
                append(None)
                continue
            updated = a.updated
            has_updated = updated is not None
            if has_updated:  # taken here, before any refusal, so the dates read in bulk stay in step
                updated = next(updated_each) if updated_all is not None else date(updated)
            art_id, title, summary = a.id, a.title, a.summary
            # str.strip() returns the string itself when there is nothing to strip (CPython); were it ever a
            # copy, the detailed check would just take over.
            if (
                not slug_match(art_id)
                or not title or title.strip() is not title
                or not summary or summary.strip() is not summary
                or check and (text_bad(title) or mojibake(title) or text_bad(summary) or mojibake(summary))
            ):
                append(None)
                continue
            if published is None:
                append(None)
                continue
            strings = 10  # the six required keys; id, title, published, summary
            if not has_updated:
                updated = published
            else:
                if updated is None or updated < published:
                    append(None)
                    continue
                strings += 2
            key = a.ministries
            art_ministries = m_lists.get(key)
            if art_ministries is None:
                art_ministries = m_lists[key] = m_slugs(key)
            key = a.topics
            art_topics = t_lists.get(key)
            if art_topics is None:
                art_topics = t_lists[key] = t_slugs(key)
            if not art_ministries or not art_topics:
                append(None)
                continue
            strings += len(art_ministries) + len(art_topics)
            url = a.url
            if url is not None:
                if not url_match(url) or check and (text_bad(url) or mojibake(url)):
                    append(None)
                    continue
                strings += 2
            if check and a.source is not None and any(map(xml_bad, map(_source_text, a.source.items()))):
                append(None)
                continue
            if entries:
                source, n = None, source_strings_of([a.source])
            else:
                (source,), n = source_column([a.source])  # msgspec took only numbers within range
            strings += n
            content_html = a.content_html
            if content_html is not None:
                if not content_html.strip() or check and xml_bad(content_html) or cleaned_forbidden(content_html):
                    append(None)
                    continue
                strings += 2
            corrections: tuple = ()
            withdrawn = None
            if a.corrections is not None or a.withdrawn is not None:
                more = extras(a, published, check)
                if more is None:
                    append(None)
                    continue
                corrections, withdrawn, newest, n = more
                strings += n
                if newest > updated:  # a correction is the only thing that moves `updated`
                    updated = newest
            total += strings
            append(Entry(
                art_id, published, updated, art_ministries, art_topics, corrections, withdrawn,
            ) if entries else Article(
                art_id, title, published, updated, art_ministries, art_topics, summary, content_html, url, source,
                corrections, withdrawn,
            ))
        return out, total

    build.columns, build.each = columns, each  # type: ignore[attr-defined]  # each way on its own, for the tests
    return build
