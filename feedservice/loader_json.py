"""Turns the store's bytes into parsed JSON for the loader: fast and an article at a time when the file is
sound, exact when it is not.

Two readers give the same document:

- ``read_fast``: orjson, straight from the bytes (no copy of the text, which Hangul makes 2 bytes a character),
  about twice as fast as the standard library. When the articles list is the last member of the top-level
  object and its articles all start with the same key (``"id"``, as the README and ``bench/gen_store.py``
  write them), ``Elements`` reads the list one article at a time: each article's objects are freed before the
  next is read, so the parser's memory is used again instead of ending up as ~75 MB of scattered holes the
  process keeps for good; and an article whose text is unchanged since the last load need not be read at all
  (the loader keeps what it built from it, by digest of the text).
- ``read_exact``: the standard library with a hook that finds keys given twice, and the messages for a file
  that is not JSON (line and column), not UTF-8 or nested too deeply. This is how the loader always read.

orjson differs from the standard library in a few ways, and the loader takes ``read_exact`` whenever one may
matter, so every message stays what it was: it refuses NaN and Infinity, lone surrogate escapes and nesting
beyond 1024 (``read_fast`` returns None); it reads integers beyond 64 bits as floats (no field takes a float:
the loader sees one, see ``json_strings``, and reads again); and it keeps the last of two equal keys without a
word. For that last one, ``raw_string_count`` counts the JSON strings in the text read and the loader compares
that with the strings of the objects it got: a key given twice is a string the objects no longer hold.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from xxhash import xxh3_128_digest

from .errors import StoreError

TOP_FIELDS = ("portal", "ministries", "topics", "articles")
# Deeper than this, json and orjson may disagree (json's limit is the interpreter's recursion limit); no store
# nests deeper than 4.
MAX_DEPTH = 100

_WHITESPACE = b" \t\n\r"  # JSON's (RFC 8259 section 2); bytes.strip() would also remove \x0b and \x0c
# JSON numbers beyond 2**53 do not survive a round trip through most JSON readers (RFC 8259 section 6).
MAX_SAFE_INT = 2**53 - 1
# The UTF-8 lead bytes of every character the loader's text checks look for (C0 controls but tab and LF, DEL,
# U+0080-U+00FF through C2/C3, U+FFFE/U+FFFF through EF), and the JSON escapes that write one (\b \f \r, \u00XX
# controls and Latin-1 letters, surrogates, U+FFFE/U+FFFF). A hit only means "check every field".
_SUSPECT_BYTES = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0xC2, 0xC3, 0xEF])
_PLAIN_BYTES = bytes(b for b in range(256) if b not in _SUSPECT_BYTES)
_SUSPECT_ESCAPE_RE = re.compile(
    rb"\\(?:[bfr]|u(?:00[01][0-9a-fA-F]|007[fF]|00[89c-fC-F][0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF]))"
)
# Any escape other than \" (the only one most stores hold): a regex with a literal first byte scans at memchr
# speed, several times faster than a two-byte bytes.find().
_OTHER_ESCAPE_RE = re.compile(rb'\\[^"]')
# The key of the articles list, with the byte before it: a key's quotation mark follows "{", "," or whitespace.
_ARTICLES_KEY_RE = re.compile(rb'[{,\s]"articles"[ \t\n\r]*:[ \t\n\r]*\[')


class ElementRefused(Exception):
    """An element of the articles list is not one JSON value and a comma: read the whole file at once instead."""


@dataclass(slots=True)
class Parsed:
    """A parsed document and what the loader needs to know about the bytes it came from."""

    doc: Any  # with ``elements``, the top-level object without its articles (doc["articles"] is [])
    check_text: bool  # some string of doc may hold a character the text checks refuse
    strings: int | None = None  # JSON strings (keys and values) in the text of doc (read_fast only)
    elements: Elements | None = None  # the articles, read as they are asked for


def read_fast(raw: bytes, name: str, by_element: bool = True) -> Parsed | None:
    """Returns the document in ``raw`` read by orjson (the articles list by ``Elements`` if ``by_element`` and
    the layout allows), or None if orjson refuses it. Raises StoreError for an empty file or a byte order mark."""
    _check_bytes(raw, name)
    layout = _articles_layout(raw) if by_element else None
    if layout is not None:
        header, start, end = layout
        try:
            elements = Elements(raw, start, end)
        except ElementRefused:
            pass  # not JSON to msgspec: orjson reads the whole file, or says why not
        else:
            # the articles list follows, and after it only "}": the header's text is what comes before it
            text = raw[:start]
            return Parsed(header, text_suspect(text), raw_string_count(text), elements)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    other_escapes = _OTHER_ESCAPE_RE.search(raw) is not None
    return Parsed(doc, text_suspect(raw, other_escapes), raw_string_count(raw, other_escapes))


def read_exact(raw: bytes, name: str) -> Parsed:
    """Returns the document in ``raw`` read by the standard library; objects with a key given twice are
    ``DuplicateKeys``. Raises StoreError for a file that is empty, has a BOM, or is not UTF-8 or not JSON."""
    _check_bytes(raw, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise StoreError([
            f"{name}: line {line}, column {col}: byte 0x{raw[e.start]:02x} is not UTF-8; "
            "save the file as UTF-8"
        ]) from None
    try:
        doc = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        raise StoreError([f"{name}: line {e.lineno}, column {e.colno}: {e.msg}; fix the JSON syntax there"]) from None
    except RecursionError:
        raise StoreError([f"{name}: the JSON is nested too deeply to be a store; check for runaway brackets"]) from None
    except ValueError:  # an integer too long to convert (sys.get_int_max_str_digits())
        m = re.search(r"\d{%d,}" % (sys.get_int_max_str_digits() or 4300), text)
        start = m.start() if m else 0
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        digits = f"{len(m.group()):,}" if m else "thousands of"
        raise StoreError([
            f"{name}: line {line}, column {col}: a number with {digits} digits; "
            "no field takes a number that long: delete it or write the intended value"
        ]) from None
    return Parsed(doc, text_suspect(raw))


def _check_bytes(raw: bytes, name: str) -> None:
    """Raises StoreError for an empty file or one that starts with a byte order mark."""
    if not raw or raw.isspace():  # as ``not raw.strip()`` (same ASCII whitespace), without copying the file
        raise StoreError([f"{name}: the file is empty; it must hold one JSON object with {', '.join(TOP_FIELDS)}"])
    if raw.startswith(b"\xef\xbb\xbf"):
        raise StoreError([f"{name}: line 1, column 1: the file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM"])


def _articles_layout(raw: bytes) -> tuple[dict, int, int] | None:
    """Returns (the top-level object without its articles, the offsets of the articles list's "[" and "]"),
    or None unless the list is provably the last member of the top-level object.

    The object up to the "[" followed by ``[]}`` parses only if the key before it is at the top level; and
    after the "]" comes only "}" (and whitespace). ``Elements`` checks whatever lies between.
    """
    m = _ARTICLES_KEY_RE.search(raw)
    if m is None:
        return None
    start = m.end() - 1
    end = len(raw)
    while end and raw[end - 1] in _WHITESPACE:
        end -= 1
    if not end or raw[end - 1] != ord("}"):
        return None
    end -= 1
    while end and raw[end - 1] in _WHITESPACE:
        end -= 1
    if end <= start or raw[end - 1] != ord("]"):
        return None
    try:
        header = orjson.loads(raw[:start] + b"[]}")
    except orjson.JSONDecodeError:
        return None
    if type(header) is not dict or header.get("articles") != []:
        return None
    return header, start, end - 1


class Elements:
    """The elements of the JSON list between the "[" at ``start`` and the "]" at ``end`` of ``raw``, each read
    only when asked for.

    msgspec reads the list once without building its elements, keeping each one's exact text (``texts``, views
    of ``raw``; ElementRefused if the list is not JSON). ``keys()`` are the 128-bit XXH3 digests of those texts:
    an element whose key was seen in an earlier load came from the very same text, which was read as one value
    then, so the loader may keep what it built from it instead. XXH3 is not a cryptographic hash, but two texts
    share a 128-bit digest by chance with odds far below any hardware fault's, and it is 7 times as fast as
    SHA-256 here (20 against 140 ms for 100,000 articles: hashlib's cost is mostly per call). Someone who set
    out to make two articles collide could only make the service keep an article's earlier text, which they
    could as well have left in the file. ``read(k)`` reads element k with orjson, and
    ``loader_typed`` reads them into typed Structs; ``strings`` counts the JSON strings in the text of the
    elements read either way (see ``read_fast``); ``scan`` tells whether their text may hold what the text
    checks refuse, and counts the strings in it.
    """

    def __init__(self, raw: bytes, start: int, end: int) -> None:
        self.strings = 0
        try:
            self.texts: list[msgspec.Raw] = _RAW_LIST.decode(memoryview(raw)[start:end + 1])
        except (msgspec.DecodeError, RecursionError):
            raise ElementRefused from None

    def keys(self) -> list[bytes]:
        """Returns each element's key (computed in C, about 0.2 us an element)."""
        return list(map(xxh3_128_digest, self.texts))

    def read(self, k: int) -> tuple[Any, bool]:
        """Returns (element k, whether its text may hold what the text checks refuse: ``text_suspect``)."""
        text = bytes(self.texts[k])
        other_escapes = _OTHER_ESCAPE_RE.search(text) is not None
        self.strings += raw_string_count(text, other_escapes)
        return _loads(memoryview(text)), text_suspect(text, other_escapes)

    def scan(self, ks: list[int]) -> tuple[list[bool] | bool, int]:
        """``scan_texts`` of elements ``ks``."""
        return scan_texts(list(map(self.texts.__getitem__, ks)))

    def strings_in(self, ks: list[int]) -> int:
        """Returns the JSON strings in the text of elements ``ks``."""
        return sum(map(raw_string_count, map(bytes, map(self.texts.__getitem__, ks))))


# What the scan of a part deletes: every byte but the quotation mark, the backslash and _SUSPECT_BYTES.
_UNCOUNTED = bytes(b for b in _PLAIN_BYTES if b not in b'"\\')
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def _loads(text: memoryview) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ElementRefused from None


def scan_texts(texts: list[Any]) -> tuple[list[bool] | bool, int]:
    """Returns (for each JSON text whether it may hold what the text checks refuse, or one False for all when
    none may; the JSON strings in them), from one copy of them all: no article's text starts or ends with a
    backslash or inside a string, so what is in the copy is what is in each."""
    joined = b"".join(texts)
    if _OTHER_ESCAPE_RE.search(joined) is None:
        # Every backslash starts a \": keep only the bytes that matter (a few percent of them) and count there.
        kept = joined.translate(None, _UNCOUNTED)
        quotes, backslashes = kept.count(b'"'), kept.count(b"\\")
        suspect, strings = len(kept) > quotes + backslashes, (quotes - backslashes) // 2
    else:
        suspect, strings = text_suspect(joined), raw_string_count(joined)
    del joined
    if not suspect:
        return False, strings
    return list(map(text_suspect, map(bytes, texts))), strings


def text_suspect(raw: bytes, other_escapes: bool = True) -> bool:
    """Returns False only if no string in ``raw`` (valid UTF-8 JSON) can hold a character the text checks refuse.

    ``other_escapes``: False if the only escape in ``raw`` is \\" (which saves a scan).
    """
    if raw.translate(None, _PLAIN_BYTES):  # deletes every other byte: about 0.4 ns a byte
        return True
    return other_escapes and _SUSPECT_ESCAPE_RE.search(raw) is not None


def raw_string_count(raw: bytes, other_escapes: bool = True) -> int:
    """Returns how many JSON strings (object keys and string values) the valid JSON ``raw`` holds.

    Outside strings JSON has no quotation marks, and inside one a quotation mark is always escaped; so every
    string has two unescaped ones. An escape is a backslash and the next character, read left to right, so
    after deleting every pair of backslashes each remaining backslash before a quotation mark escapes it.
    """
    if not other_escapes:  # every backslash is the start of \"
        return (raw.count(b'"') - raw.count(b"\\")) // 2
    if b"\\\\" in raw:
        raw = raw.replace(b"\\\\", b"")
    return (raw.count(b'"') - raw.count(b'\\"')) // 2


def json_strings(value: Any) -> int | None:
    """Returns how many JSON strings (object keys and string values) the parsed ``value`` holds, or None if it
    holds a float or nests deeper than MAX_DEPTH, where orjson's reading may differ from json's."""
    count = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            count += 1
            continue
        if kind is float or depth > MAX_DEPTH:
            return None
        if kind is dict:
            count += len(item)
            item = item.values()
        elif kind is not list:
            continue
        for v in item:
            k = type(v)
            if k is str:
                count += 1
            elif k is dict or k is list or k is float:
                stack.append((v, depth + 1))
    return count


class DuplicateKeys(dict):
    """A JSON object in which some keys were given twice; ``duplicates`` names them (JSON keeps the last)."""

    __slots__ = ("duplicates",)


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    dup = DuplicateKeys(obj)  # rare: only now find which keys repeat
    seen: set[str] = set()
    dup.duplicates = []
    for key, _ in pairs:
        if key in seen and key not in dup.duplicates:
            dup.duplicates.append(key)
        seen.add(key)
    return dup


# object_pairs_hook finds keys given twice, which json drops silently.
_DECODER = json.JSONDecoder(object_pairs_hook=_object)
