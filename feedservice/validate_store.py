"""Check 4: every document of the configured store, in every format, says exactly what the store says.

For each selection and format it fetches the subscription document and every archive page (in process with the
test client, or from a running server), runs checks 1 to 3 on each, compares feed-level fields, the entries and
their order, and every entry field with what ``archive`` and ``feeds`` derive from the store, then walks the
archive chain the way a reader does and checks it reaches every live article once, newest first.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import archive, feeds
from .store import Selection, Store
from .urls import CONTENT_TYPES, FORMATS, Site, feed_path
from .validate import check_into, now_utc
from .validate_history import check_chain
from .validate_http import AppFetcher, Fetcher, Response, check_response, media_type
from .validate_compare import Compare, diff, entry_ids
from .validate_rules import Document, Report


def run(app: Any, report: Report, *, fetcher: Fetcher | None = None, http: bool = False, now: dt.datetime | None = None) -> None:
    """Validates every document of ``app``'s store; ``http`` adds the HTTP checks (for a running server)."""
    _Run(app, report, fetcher or AppFetcher(app), http, now or now_utc()).all()


class _Run:
    def __init__(self, app: Any, report: Report, fetcher: Fetcher, http: bool, now: dt.datetime) -> None:
        self.fs = app.extensions["feedservice"]
        self.store: Store = self.fs.store
        self.site: Site = self.fs.site(self.store)
        self.report, self.fetcher, self.http, self.now = report, fetcher, http, now
        self.compare = True
        self.withdrawn = {self.site.entry_id(a.id): a for a in self.store.withdrawn}

    def all(self) -> None:
        if self.http:
            self._server_matches_store()
        for selection in self.store.feeds():
            for fmt in FORMATS:
                self._selection(selection, fmt)

    def _selection(self, selection: Selection, fmt: str) -> None:
        """Checks the subscription document and every archive page of one selection in one format."""
        pages = archive.completed_pages(len(selection), self.fs.page_size)
        docs: dict[str, Document] = {}
        for page in [None, *range(1, pages + 1)]:
            expected = self.fs.document(self.store, selection.key, page, None)
            path = feeds.self_path(expected, fmt)
            doc = self._document(path, fmt, expected, self.fetcher.get(path))
            if doc is not None:
                docs[path] = doc
        check_chain(docs.values(), self.report)
        if self.compare:
            self._walk(selection, fmt, docs)

    def _server_matches_store(self) -> None:
        """Checks the server serves this store (else comparisons are meaningless) and learns its base URL."""
        version = _json_member(self.fetcher.get("/healthz"), "version")
        if version != self.store.version:
            self.report.add(
                "/healthz", "http:store-version",
                f"the server serves store version {version!r}, the store here is {self.store.version!r} "
                f"({self.store.path}); pass the server's store with --store to compare entries",
            )
            self.compare = False
        served = _json_member(self.fetcher.get(feed_path("all", "json")), "feed_url")
        suffix = feed_path("all", "json")
        if isinstance(served, str) and served.endswith(suffix):
            self.site = Site(served[: -len(suffix)], self.site.tag_authority)

    def _document(self, path: str, fmt: str, expected: archive.FeedDocument, resp: Response) -> Document | None:
        col = self.report.collector(path)
        try:
            if resp.status != 200:
                col.add("store:document-missing", f"GET {path} answered {resp.status}; the store calls for this document")
                return None
            doc = check_into(resp.body, col, content_type=resp.content_type, now=self.now)
            if self.http:
                check_response(resp, fmt, path, self.fetcher, col)
            elif media_type(resp.content_type) != media_type(CONTENT_TYPES[fmt]):
                col.add("http:content-type", f"Content-Type is {resp.content_type!r}; serve {CONTENT_TYPES[fmt]!r}")
            if self.compare and doc.format == fmt:
                Compare(self.store, self.site, doc, expected, fmt, col).all()
            return doc
        finally:
            col.close()

    def path_of(self, url: str | None) -> str | None:
        base = self.site.base_url
        return url[len(base):] if url and url.startswith(base + "/") else None

    def _walk(self, selection: Selection, fmt: str, docs: dict[str, Document]) -> None:
        """Follows prev-archive (Atom, RSS) or next_url (JSON Feed) from the subscription document."""
        start = feed_path(selection.key, fmt)
        rel = "next" if fmt == "json" else "prev-archive"
        path: str | None = start
        seen: list[str] = []
        ids: list[str] = []
        while path is not None:
            if path in seen:
                self.report.add(
                    path,
                    "rfc5005:chain-inconsistent",
                    f"walking {rel} from {start} comes back to {path}: a loop",
                )
                break
            seen.append(path)
            doc = docs.get(path)
            if doc is None:
                self.report.add(
                    start,
                    "store:archive-walk",
                    f"the walk from {start} reaches {path}, which is not one of the selection's documents",
                )
                return
            ids.extend(entry_ids(doc))
            url = doc.link(rel)
            path = self.path_of(url)
            if url and path is None:
                self.report.add(seen[-1], "store:archive-walk", f"{rel} {url} is not under {self.site.base_url}")
        got = list(dict.fromkeys(i for i in ids if i not in self.withdrawn))
        want = [self.site.entry_id(a.id) for a in self.store.newest(selection, len(selection))]
        if got != want:
            self.report.add(
                start,
                "store:archive-walk",
                f"walking {rel} through {len(seen)} document(s) gives {len(got)} entries, the selection has {len(want)}: {diff(got, want)}",
            )


def _json_member(resp: Response, key: str) -> Any:
    """Returns ``key`` of a JSON object response, or None if the response is not one."""
    if resp.status != 200:
        return None
    try:
        data = json.loads(resp.body)
    except ValueError:
        return None
    return data.get(key) if isinstance(data, dict) else None
