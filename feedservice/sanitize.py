"""Cleans article HTML with nh3 (the ammonia sanitizer) down to what a news article needs.

Anything that could run script or restyle the host page goes: no script, style, iframe or form elements,
no event-handler or style attributes, and only http, https and mailto URLs (no javascript: or data:).

Cleaning is the dearest step there is (about 45 us for a 1 KB body) and nh3 holds the GIL, so it is not
done at load: an ``Article`` keeps its body as the store writes it, and its ``content_html`` is the body
cleaned on first use and kept in a bounded memo (``clean_html``). A load of 100,000 articles, 10,000 of them
with a body, is half a second faster for it, and a document only ever cleans the bodies it shows.

Cleaning never refuses a body. Whether what it returns may hold a character XML cannot carry is known without
cleaning: only a numeric character reference (``&#1;``) decodes to one (no named reference does), so the
loader cleans, to check, only the bodies that hold one (``may_decode_forbidden``).
"""

from __future__ import annotations

import functools
from typing import Callable

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
_OPTIONS = dict(
    tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer", strip_comments=True
)

# nh3.Cleaner (in newer nh3 releases, 0.3.8 among them) builds the allow-list once; nh3.clean converts the
# Python sets on every call, a third of the time for a 1 KB body. Same options, same output.
_clean: Callable[[str], str] = (
    nh3.Cleaner(**_OPTIONS).clean if hasattr(nh3, "Cleaner") else functools.partial(nh3.clean, **_OPTIONS)
)

# Cleaned bodies kept: those of the last few hundred documents rendered (50 entries each, a tenth with a body)
# many times over, at most about 8 MB. A body shown by several documents or formats is cleaned once.
MEMO_SIZE = 4096


@functools.lru_cache(maxsize=MEMO_SIZE)  # thread-safe; keyed by the body itself, which its article keeps alive
def clean_html(html: str) -> str:
    """Returns ``html`` with every element, attribute and URL scheme outside the allow-list removed."""
    return _clean(html)


def may_decode_forbidden(html: str) -> bool:
    """True if cleaning ``html`` may return a character it does not hold: a numeric character reference."""
    return "&#" in html
