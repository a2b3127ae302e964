"""``/feeds.opml``: an OPML 2.0 subscription list of every feed, grouped into ministries and topics."""

from __future__ import annotations

from email.utils import format_datetime
from xml.etree import ElementTree as ET

from .feeds import feed_title
from .store import Store
from .urls import Site, feed_path, html_path

# OPML 2.0 subscription lists mark every feed type="rss", whatever its format; readers rely on it.
FORMAT_LABELS = (("atom", "Atom"), ("rss", "RSS"), ("json", "JSON Feed"))


def render(store: Store, site: Site) -> bytes:
    """Returns the OPML document; dates come from the store, so the same store gives the same bytes."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{store.portal.title}: every feed"
    if store.entries:
        ET.SubElement(head, "dateModified").text = format_datetime(store.entries[-1].updated)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    groups = [("All news", [store.selections["all"]])]
    groups.append(("Ministries and agencies", [store.selections[f"ministries/{s}"] for s in store.ministries]))
    groups.append(("Topics", [store.selections[f"topics/{s}"] for s in store.topics]))
    for group_title, selections in groups:
        group = ET.SubElement(body, "outline", text=group_title, title=group_title)
        for sel in selections:
            title = feed_title(store, sel)
            for fmt, label in FORMAT_LABELS:
                ET.SubElement(
                    group,
                    "outline",
                    type="rss",
                    text=f"{title} ({label})",
                    title=title,
                    xmlUrl=site.url(feed_path(sel.key, fmt)),
                    htmlUrl=site.url(html_path(sel.key)),
                )
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
