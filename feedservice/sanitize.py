"""Cleans article HTML with nh3 (the ammonia sanitizer) down to what a news article needs.

Anything that could run script or restyle the host page goes: no script, style, iframe or form elements,
no event-handler or style attributes, and only http, https and mailto URLs (no javascript: or data:).
"""

from __future__ import annotations

import nh3

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt", "em",
    "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p",
    "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "u", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "time": {"datetime"},
    "ol": {"start"},
}
# No ``cite`` on blockquote or q: nh3 0.3 does not check its scheme (cite="javascript:..." passes through),
# and readers never show it anyway.
URL_SCHEMES = {"http", "https", "mailto"}


def clean_html(html: str) -> str:
    """Returns ``html`` with every element, attribute and URL scheme outside the allow-list removed."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
