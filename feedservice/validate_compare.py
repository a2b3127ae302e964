"""Check 4, one document at a time: feed-level fields, the entries and their order, and every entry field, as a
reader (feedparser) sees them, against what ``archive`` and ``feeds`` derive from the store.

Dates must denote the same instant in the same UTC offset (the portal's zone); text is compared after the
whitespace trim every reader applies.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable

from . import archive, feeds
from .store import Article, Store
from .urls import Site, article_path, feed_path, html_path
from .validate_rules import Collector, Document
from .validate_values import rfc822, rfc3339, short


def entry_ids(doc: Document) -> list[str]:
    return [str(e.get("id")) for e in doc.entries]


def diff(got: list[str], want: list[str]) -> str:
    """Returns how two id lists differ: what is missing, what is extra, or where the order first differs."""
    got_set, want_set = set(got), set(want)
    missing = [i for i in want if i not in got_set]
    extra = [i for i in got if i not in want_set]
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    if extra:
        parts.append(f"unexpected {len(extra)} ({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''})")
    if not parts:
        if len(got) != len(want):
            parts.append(f"{len(got)} entries where the store has {len(want)} (duplicates)")
        else:
            i = next(k for k, (a, b) in enumerate(zip(got, want)) if a != b)
            parts.append(f"out of order from position {i + 1}: {got[i]} where the store has {want[i]}")
    return "; ".join(parts)


def _when(raw: Any, parse: Callable[[str], dt.datetime | None]) -> Any:
    """Returns the date ``raw`` denotes in ISO form (instant and UTC offset), or ``raw`` if it does not parse."""
    when = parse(raw) if isinstance(raw, str) else None
    return when.isoformat() if when is not None else raw


def _json_date(raw: str) -> dt.datetime | None:
    return rfc3339(raw, strict_case=False)


def _rss_date(raw: str) -> dt.datetime | None:
    return rfc822(raw)[0]


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Compare:
    """Compares one parsed document with the store's ``FeedDocument``; reports into ``col``."""

    def __init__(self, store: Store, site: Site, doc: Document, expected: archive.FeedDocument, fmt: str, col: Collector) -> None:
        self.store, self.site, self.doc, self.fd, self.fmt, self.col = store, site, doc, expected, fmt, col
        self.withdrawn = {site.entry_id(a.id): a for a in store.withdrawn}

    def all(self) -> None:
        self._feed()
        self._entries()

    def _feed(self) -> None:
        fd, site, key, doc = self.fd, self.site, self.fd.selection.key, self.doc
        want_links: dict[str, str | None] = {"self": site.url(feeds.self_path(fd, self.fmt))}
        older = site.url(feed_path(key, self.fmt, fd.prev_archive)) if fd.prev_archive else None
        if self.fmt == "json":
            want_links.update(alternate=site.url(html_path(key)), next=older)
        else:
            want_links["prev-archive"] = older
            want_links["next-archive"] = site.url(feed_path(key, self.fmt, fd.next_archive)) if fd.next_archive else None
            want_links["current"] = site.url(feed_path(key, self.fmt)) if fd.is_archive else None
            want_links["alternate"] = site.url(html_path(key))
        for rel, want in want_links.items():
            # The feed's home page as a reader sees it: feedparser's feed.link (RSS <link>, Atom's last
            # alternate link anywhere outside entries, including inside extension elements).
            reader = rel == "alternate" and self.fmt != "json"
            got = doc.feed.get("link") if reader else doc.link(rel)
            if got != want:
                name = "next_url" if rel == "next" else f"link rel={rel}" + (" (as feedparser reads it)" if reader else "")
                self.col.add("store:feed-mismatch", f"{name} is {got}; the store calls for {want}")
        if self.fmt != "json" and doc.archive != fd.is_archive:
            self.col.add(
                "store:feed-mismatch",
                f"fh:archive is {'present' if doc.archive else 'absent'}; this is {'an archive page' if fd.is_archive else 'the subscription document'}",
            )
        title = feeds.feed_title(self.store, fd.selection)
        if _text(doc.feed.get("title")) != title.strip():
            self.col.add("store:feed-mismatch", f"title is {short(doc.feed.get('title'))}; the store says {short(title)}")
        if self.fmt == "atom":
            if doc.feed.get("id") != site.feed_id(key):
                self.col.add("store:feed-mismatch", f"id is {doc.feed.get('id')}; the store says {site.feed_id(key)}")
        parse = rfc3339 if self.fmt == "atom" else _rss_date
        if self.fmt in ("atom", "rss") and _when(doc.feed.get("updated"), parse) != fd.updated.isoformat():
            name = "updated" if self.fmt == "atom" else "lastBuildDate"
            self.col.add(
                "store:feed-mismatch",
                f"{name} is {doc.feed.get('updated')!r}; the store's newest change is {fd.updated.isoformat()}",
            )

    def _entries(self) -> None:
        site, fd = self.site, self.fd
        want = [site.entry_id(a.id) for a in fd.entries]
        got = entry_ids(self.doc)
        for entry_id in got:
            if entry_id in self.withdrawn:
                gone = self.withdrawn[entry_id].withdrawn
                assert gone is not None
                self.col.add(
                    "store:withdrawn-entry-present", f"the article was withdrawn on {gone.date.date()} but is served as an entry", entry_id
                )
        if got != want:
            self.col.add("store:entries-mismatch", f"{len(got)} entries where the store has {len(want)}: {diff(got, want)}")
        want_stones = {site.entry_id(a.id): a for a in fd.tombstones} if self.fmt == "atom" else {}
        got_stones = {t["ref"]: t for t in self.doc.tombstones}
        if set(got_stones) != set(want_stones):
            self.col.add(
                "store:entries-mismatch",
                f"tombstones for {sorted(got_stones) or 'nothing'}; the store withdraws {sorted(want_stones) or 'nothing'} here",
            )
        for ref, stone in got_stones.items():
            art = want_stones.get(ref)
            if art is not None and _when(stone["when"], rfc3339) != art.withdrawn.date.isoformat():  # type: ignore[union-attr]
                self.col.add(
                    "store:entry-mismatch",
                    f"at:deleted-entry when={stone['when']!r}; the store says {art.withdrawn.date.isoformat()}",  # type: ignore[union-attr]
                    ref,
                )
        by_id = {site.entry_id(a.id): a for a in fd.entries}
        check = {"atom": self._atom, "rss": self._rss, "json": self._json}[self.fmt]
        for entry in self.doc.entries:
            art = by_id.get(str(entry.get("id")))
            if art is not None:
                for name, got_value, want_value in check(entry, art):
                    if got_value != want_value:
                        self.col.add(
                            "store:entry-mismatch",
                            f"{name} is {short(got_value)}; the store says {short(want_value)}",
                            str(entry.get("id")),
                        )

    def _common(self, art: Article) -> tuple[str, str | None, list[str]]:
        return self.site.url(article_path(art.id)), feeds.content_html(art), [self.store.ministries[s].name for s in art.ministries]

    def _atom(self, e: dict, art: Article) -> list[tuple[str, Any, Any]]:
        url, body, names = self._common(art)
        links = e.get("links") or []
        content = (e.get("content") or [{}])[0]
        return [
            ("title", _text(e.get("title")), art.title.strip()),
            ("link rel=alternate", [x.get("href") for x in links if x.get("rel") == "alternate"], [url]),
            ("link rel=related", [x.get("href") for x in links if x.get("rel") == "related"], [art.url] if art.url else []),
            ("updated", _when(e.get("updated"), rfc3339), art.updated.isoformat()),
            ("published", _when(e.get("published"), rfc3339), art.published.isoformat()),
            ("summary", (_text(e.get("summary")), (e.get("summary_detail") or {}).get("type")), (art.summary.strip(), "text/plain")),
            ("content", (_text(content.get("value")), content.get("type")), (body.strip(), "text/html") if body is not None else (None, None)),
            ("authors", [(p.get("name"), p.get("href")) for p in e.get("authors") or []],
             [(self.store.ministries[s].name, self.store.ministries[s].homepage) for s in art.ministries]),
            ("categories", [(t.get("term"), t.get("label"), t.get("scheme")) for t in e.get("tags") or []],
             [(s, self.store.topics[s].name, self.site.topic_scheme()) for s in art.topics]),
        ]

    def _rss(self, e: dict, art: Article) -> list[tuple[str, Any, Any]]:
        url, body, names = self._common(art)
        content = (e.get("content") or [{}])[0]
        return [
            ("guid isPermaLink", e.get("guidislink"), False),
            ("title", _text(e.get("title")), art.title.strip()),
            ("link", e.get("link"), url),
            ("pubDate", _when(e.get("published"), _rss_date), art.published.isoformat()),
            ("description", _text(e.get("summary")), html.escape(art.summary, quote=False).strip()),
            ("content:encoded", _text(content.get("value")), body.strip() if body is not None else None),
            ("dc:creator", [p.get("name") for p in e.get("authors") or []], names),
            ("categories", [(t.get("term"), t.get("scheme")) for t in e.get("tags") or []],
             [(self.store.topics[s].name, self.site.topic_scheme()) for s in art.topics]),
        ]

    def _json(self, item: dict, art: Article) -> list[tuple[str, Any, Any]]:
        url, body, names = self._common(art)
        ministries = [self.store.ministries[s] for s in art.ministries]
        authors = [{"name": m.name, "url": m.homepage} if m.homepage else {"name": m.name} for m in ministries]
        return [
            ("url", item.get("url"), url),
            ("external_url", item.get("external_url"), art.url),
            ("title", item.get("title"), art.title),
            ("summary", item.get("summary"), art.summary),
            ("content_html", item.get("content_html"), body),
            ("content_text", item.get("content_text"), art.summary if body is None else None),
            ("date_published", _when(item.get("date_published"), _json_date), art.published.isoformat()),
            ("date_modified", _when(item.get("date_modified"), _json_date), art.updated.isoformat()),
            ("tags", item.get("tags"), [self.store.topics[s].name for s in art.topics]),
            ("authors", item.get("authors"), authors),
        ]
