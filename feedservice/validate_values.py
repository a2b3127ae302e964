"""Checks of single values the feed formats share: RFC 3339 and RFC 822 dates, IRIs and URLs, double-escaped HTML.

Each function returns the parsed value, or None (or a reason) when the value is not what the spec asks for; none
of them reports anything itself.
"""

from __future__ import annotations

import datetime as dt
import html.entities
import re
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

# RFC 3339 §5.6 date-time; RFC 4287 §3.3 further requires an uppercase T and Z.
RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))"
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ZONES = r"[+-]\d{4}|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z"
# RFC 822 §5 with the 4-digit year RSS 2.0 asks for: what every reader parses.
RFC822_RE = re.compile(
    rf"(?:({'|'.join(DAYS)}), )?(\d{{1,2}}) ({'|'.join(MONTHS)}) (\d{{4}}) (\d{{2}}):(\d{{2}})(?::(\d{{2}}))? ({ZONES})"
)
# The same, loosely: RFC 822 allows it, but readers disagree on it (2-digit years, any case, odd spacing).
RFC822_LOOSE_RE = re.compile(
    rf"(?:({'|'.join(DAYS)})\s*,\s*)?(\d{{1,2}})\s+({'|'.join(MONTHS)})\s+(\d{{2}}|\d{{4}})\s+(\d{{2}}):(\d{{2}})(?::(\d{{2}}))?\s+({ZONES}|[A-IK-Y])",
    re.IGNORECASE,
)
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# RFC 3987: no spaces, controls or the characters RFC 3986 §2 excludes outright.
IRI_BAD_RE = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")
# RFC 4151 §2.1: tag:<authority>,<date>:<specific>
TAG_RE = re.compile(r"tag:(?:[^@\s,]+@)?[A-Za-z0-9.-]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:[^\s]*")
HIER_SCHEMES = ("http", "https", "ftp")
# An HTML tag or a character reference that was escaped once more than HTML needs: "&lt;p&gt;" or "&amp;amp;".
ESCAPED_TAG_RE = re.compile(
    r"&lt;(/?)(a|abbr|b|blockquote|br|code|dd|div|dl|dt|em|figure|h[1-6]|hr|i|img|li|ol|p|pre|q|s|span|strong|"
    r"sub|sup|table|tbody|td|th|thead|tr|u|ul)(?:\s[^<>]*?)?/?&gt;",
    re.IGNORECASE,
)
ESCAPED_REF_RE = re.compile(r"&amp;(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
FUTURE_SLACK = dt.timedelta(minutes=10)  # clock skew between publisher and validator


def rfc3339(value: str, strict_case: bool = True) -> dt.datetime | None:
    """Returns the aware datetime ``value`` denotes, or None if it is not an RFC 3339 date-time.

    ``strict_case`` asks for the uppercase T and Z that RFC 4287 §3.3 requires; RFC 3339 itself allows lowercase.
    """
    text = value.strip() if not strict_case else value
    if not strict_case:
        text = text.upper()
    m = RFC3339_RE.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if m.group(9) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return None
    try:
        # A leap second (:60) is valid RFC 3339; datetime cannot hold it.
        base = dt.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    if second > 60:
        return None
    zone = m.group(8)
    if zone == "Z":
        tz = dt.timezone.utc
    else:
        delta = dt.timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
        tz = dt.timezone(-delta if zone[0] == "-" else delta)
    return base.replace(tzinfo=tz)


def rfc822(value: str) -> tuple[dt.datetime | None, str]:
    """Returns (datetime, verdict) for an RSS date: verdict is 'ok', 'loose', 'weekday' or 'invalid'."""
    text = value.strip()
    strict = RFC822_RE.fullmatch(text)
    m = strict or RFC822_LOOSE_RE.fullmatch(" ".join(text.split()))
    if not m:
        return None, "invalid"
    weekday, day, month, year, hour, minute, second, zone = m.groups()
    year_n = int(year)
    if len(year) == 2:
        year_n += 1900 if year_n >= 50 else 2000
    try:
        when = dt.datetime(year_n, MONTHS.index(month.title()) + 1, int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return None, "invalid"
    if weekday and DAYS[when.weekday()] != weekday.title():
        return None, "weekday"
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None, "invalid"
    if parsed.tzinfo is None:  # a military zone letter other than Z: RFC 1123 §5.2.14 says treat as unknown
        return None, "loose"
    return parsed, "ok" if strict else "loose"


def is_absolute_iri(value: str) -> bool:
    """Returns True if ``value`` is an absolute IRI (RFC 3987): a scheme, no spaces, and for tag: RFC 4151 syntax."""
    if not SCHEME_RE.match(value) or IRI_BAD_RE.search(value):
        return False
    scheme = value.split(":", 1)[0].lower()
    if scheme == "tag":
        return TAG_RE.fullmatch(value) is not None
    if scheme in HIER_SCHEMES:
        return bool(urlsplit(value).netloc)
    return len(value) > len(scheme) + 1


def is_full_url(value: str) -> bool:
    """Returns True if ``value`` is a full URL as the RSS profile means it: scheme and host, no spaces."""
    value = value.strip()
    if not SCHEME_RE.match(value) or IRI_BAD_RE.search(value):
        return False
    parts = urlsplit(value)
    return bool(parts.netloc) or parts.scheme.lower() not in HIER_SCHEMES + ("feed",)


def double_escaped(html_text: str) -> str | None:
    """Returns the first fragment of ``html_text`` (HTML source) that was escaped twice, or None.

    ``&lt;p&gt;`` in HTML source shows as a literal "<p>"; ``&amp;amp;`` shows as "&amp;". Plain text that merely
    mentions "<" or "&" (escaped once, as it should be) is not flagged.
    """
    m = ESCAPED_TAG_RE.search(html_text)
    if m:
        return m.group(0)
    for m in ESCAPED_REF_RE.finditer(html_text):
        name = m.group(1)
        if name.startswith("#") or f"{name};" in html.entities.html5:
            return m.group(0)
    return None


def in_future(when: dt.datetime | None, now: dt.datetime) -> bool:
    return when is not None and when > now + FUTURE_SLACK


def short(value: object, limit: int = 80) -> str:
    """Returns ``repr(value)`` cut to about ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
