"""RFC 5005 archived feeds: what one document says about itself, and whether a set of documents link consistently.

An archive document is one whose ``current`` link points elsewhere than itself (``current`` is defined only for
archived feeds, RFC 5005 §4). Each must carry ``fh:archive``; the subscription document must not.
``prev-archive`` and ``next-archive`` must mirror each other and never loop.
"""

from __future__ import annotations

from typing import Iterable

from .validate_rules import Collector, Document, Report

FH_NS = "http://purl.org/syndication/history/1.0"


def check_document(doc: Document, col: Collector) -> None:
    """Checks the RFC 5005 markers and links of one Atom or RSS document."""
    if doc.format not in ("atom", "rss"):
        return
    own = doc.link("self")
    current = doc.link("current")
    if doc.archive:
        if current is None:
            col.add(
                "rfc5005:current-link-missing",
                "an archive document (fh:archive) should link rel=\"current\" to its subscription document",
            )
        elif own is not None and current == own:
            col.add(
                "rfc5005:current-marked-archive",
                f"this is the subscription document ({own}) yet it carries fh:archive; remove it",
            )
    elif current is not None and own is not None and current != own:
        col.add(
            "rfc5005:archive-marker-missing",
            f"this document links rel=\"current\" to {current}, so it is an archive document; add <fh:archive/> "
            f"(xmlns:fh=\"{FH_NS}\")",
        )
    for rel in ("prev-archive", "next-archive"):
        if own is not None and doc.link(rel) == own:
            col.add("rfc5005:chain-inconsistent", f"{rel} points at the document itself ({own})")


def check_chain(docs: Iterable[Document], report: Report) -> None:
    """Checks that prev-archive/next-archive links among ``docs`` mirror each other (matched by their self links)."""
    by_self = {d.link("self"): d for d in docs if d.format in ("atom", "rss") and d.link("self")}
    for url, doc in by_self.items():
        prev = doc.link("prev-archive")
        older = by_self.get(prev) if prev else None
        if older is not None and doc.archive:
            back = older.link("next-archive")
            if back != url:
                what = f"links next-archive to {back}" if back else "has no next-archive link"
                report.add(
                    older.name,
                    "rfc5005:chain-inconsistent",
                    f"{doc.name} links prev-archive here, but this page {what}; link next-archive to {url}",
                )
        nxt = doc.link("next-archive")
        newer = by_self.get(nxt) if nxt else None
        if newer is not None and newer.link("prev-archive") != url:
            back = newer.link("prev-archive")
            what = f"links prev-archive to {back}" if back else "has no prev-archive link"
            report.add(
                newer.name,
                "rfc5005:chain-inconsistent",
                f"{doc.name} links next-archive here, but this page {what}; link prev-archive to {url}",
            )
