"""Checks 1 to 3 for JSON Feed 1.1: UTF-8 JSON, the version a reader detects, and the spec's members.

feedparser 6.0 does not read JSON Feed, so this module is its own reader: it names versions the way feedparser's
JSON parser does (``json1`` for https://jsonfeed.org/version/1, ``json11`` for 1.1) and keeps the raw items.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .validate_rules import Collector, Document
from .validate_values import SCHEME_RE, double_escaped, in_future, rfc3339, short

VERSIONS = {"https://jsonfeed.org/version/1": "json1", "https://jsonfeed.org/version/1.1": "json11"}
FEED_STRINGS = ("home_page_url", "feed_url", "description", "user_comment", "next_url", "icon", "favicon", "language")
FEED_URLS = ("home_page_url", "feed_url", "next_url", "icon", "favicon")
ITEM_STRINGS = (
    "url", "external_url", "title", "content_html", "content_text", "summary", "image", "banner_image", "language",
)
ITEM_URLS = ("url", "external_url", "image", "banner_image")
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def looks_like_json(body: bytes) -> bool:
    """Returns True if the document starts (after a BOM and whitespace) like JSON rather than XML."""
    for bom in BOMS:
        if body.startswith(bom):
            body = body[len(bom):]
            break
    return body.lstrip()[:1] in (b"{", b"[")


def parse(body: bytes, col: Collector) -> Any:
    """Returns the parsed JSON, or None after reporting why it is not UTF-8 JSON."""
    if body.startswith(BOMS):
        col.add(
            "json:encoding",
            "the document starts with a byte order mark; RFC 8259 §8.1 forbids it: save as UTF-8 without BOM",
            line=1,
        )
        if not body.startswith(BOMS[0]):
            return None
        body = body[len(BOMS[0]):]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body.count(b"\n", 0, e.start) + 1
        col.add("json:encoding", f"byte 0x{body[e.start]:02x} is not UTF-8; JSON must be UTF-8 (RFC 8259 §8.1)", line=line)
        return None
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value (RFC 8259 §6)")

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as e:
        col.add("json:not-well-formed", f"{e.msg} at column {e.colno}", line=e.lineno)
        return None
    except (ValueError, RecursionError) as e:
        col.add("json:not-well-formed", str(e) or "nested too deeply")
        return None
    for key in duplicates:
        col.add("json:duplicate-key", f"member {key!r} appears twice in one object; readers keep different ones")
    return data


def check(data: Any, col: Collector, doc: Document, now: dt.datetime) -> None:
    """Checks a parsed JSON Feed; fills ``doc`` (version, links, feed, entries)."""
    if not isinstance(data, dict):
        col.add(
            "json:feed-not-object",
            f"the top level is {_kind(data)}; a JSON Feed is an object with version, title and items",
        )
        return
    version = data.get("version")
    if version is None:
        col.add("json:version-missing", "version is missing; write \"version\": \"https://jsonfeed.org/version/1.1\"")
    elif not isinstance(version, str) or version.strip() not in VERSIONS:
        col.add("json:version-invalid", f"version {short(version)} is not https://jsonfeed.org/version/1.1 (or /1)")
    doc.version = VERSIONS.get(version.strip()) if isinstance(version, str) else None
    title = data.get("title")
    if not isinstance(title, str):
        col.add(
            "json:title-missing" if title is None else "json:type-invalid",
            f"title must be a string, not {_kind(title)}",
        )
    _strings(data, FEED_STRINGS, col, "")
    _urls(data, FEED_URLS, col, "")
    if not isinstance(data.get("feed_url"), str):
        col.add("json:feed-url-missing", "feed_url is missing; readers need it to know the feed's URL")
    _authors(data, col, "", doc.version)
    doc.feed = {"title": title, "id": data.get("feed_url")}
    doc.links = {rel: [data[key]] for rel, key in (("self", "feed_url"), ("alternate", "home_page_url"), ("next", "next_url"))
                 if isinstance(data.get(key), str)}
    items = data.get("items")
    if not isinstance(items, list):
        col.add(
            "json:items-missing" if items is None else "json:type-invalid",
            f"items must be an array, not {_kind(items)}",
        )
        return
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            col.add("json:item-invalid", f"items[{i}] is {_kind(item)}; each item is an object", f"items[{i}]")
            continue
        _item(item, i, col, now, seen, doc.version)
        doc.entries.append(item)


def _kind(value: Any) -> str:
    if value is None:
        return "missing or null"
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _item(item: dict, i: int, col: Collector, now: dt.datetime, seen: dict[str, int], version: str | None) -> None:
    item_id = item.get("id")
    label = str(item_id) if isinstance(item_id, (str, int, float)) and str(item_id) else f"items[{i}]"
    if item_id is None or item_id == "":
        col.add("json:item-id-missing", f"items[{i}] has no id; give every item a unique, permanent id", label)
    elif isinstance(item_id, (dict, list)):
        col.add("json:type-invalid", f"items[{i}].id is {_kind(item_id)}; it must be a string", label)
    else:
        if not isinstance(item_id, str):
            col.add("json:item-id-not-string", f"items[{i}].id is {_kind(item_id)}; write it as a string", label)
        key = str(item_id)
        if key in seen:
            col.add("json:item-id-duplicate", f"items[{seen[key]}] and items[{i}] share the id {short(key)}", label)
        else:
            seen[key] = i
    if "content_html" not in item and "content_text" not in item:
        col.add("json:item-content-missing", f"items[{i}] has neither content_html nor content_text; give it one", label)
    _strings(item, ITEM_STRINGS, col, label)
    _urls(item, ITEM_URLS, col, label)
    for key in ("date_published", "date_modified"):
        value = item.get(key)
        if value is None:
            continue
        when = rfc3339(value, strict_case=False) if isinstance(value, str) else None
        if when is None:
            col.add(
                "json:date-invalid",
                f"{key} {short(value)} is not an RFC 3339 date-time like 2024-05-23T09:00:00+09:00",
                label,
            )
        elif in_future(when, now):
            col.add("json:item-in-future", f"{key} {value} is in the future", label)
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        col.add("json:type-invalid", f"tags must be an array of strings, not {short(tags)}", label)
    _authors(item, col, label, version)
    attachments = item.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list) or not all(
            isinstance(a, dict) and isinstance(a.get("url"), str) and isinstance(a.get("mime_type"), str) for a in attachments
        ):
            col.add("json:type-invalid", "attachments must be objects with url and mime_type strings", label)
    html = item.get("content_html")
    if isinstance(html, str):
        bad = double_escaped(html)
        if bad:
            col.add(
                "json:double-escaped-html",
                f"content_html contains {short(bad)}, which readers show as markup; escape HTML once",
                label,
            )


def _strings(obj: dict, keys: tuple[str, ...], col: Collector, label: str) -> None:
    for key in keys:
        if key in obj and not isinstance(obj[key], str):
            col.add("json:type-invalid", f"{key} must be a string, not {_kind(obj[key])}", label)


def _urls(obj: dict, keys: tuple[str, ...], col: Collector, label: str) -> None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and not SCHEME_RE.match(value.strip()):
            col.add("json:url-relative", f"{key} {short(value)} is relative; write the full URL", label)


def _authors(obj: dict, col: Collector, label: str, version: str | None) -> None:
    if "author" in obj and version == "json11":
        col.add("json:author-deprecated", "author is deprecated in JSON Feed 1.1; write authors: [{...}]", label)
    people = obj.get("authors")
    if people is None:
        return
    if not isinstance(people, list) or not all(
        isinstance(p, dict) and any(isinstance(p.get(k), str) for k in ("name", "url", "avatar")) for p in people
    ):
        col.add("json:type-invalid", "authors must be an array of objects, each with a name, url or avatar string", label)
