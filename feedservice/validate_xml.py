"""Checks 1 and 2 for XML feeds: the bytes decode as declared, the document is well-formed, feedparser agrees.

Parsing never touches the network and never expands external entities: lxml resolves only entities the document
declares itself. Everything is decoded here first (BOM, HTTP charset, XML declaration, UTF-8 by default, in the
order RFC 7303 §3 gives), so a wrong declaration is reported as such rather than as a parse error far away.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
from typing import Any

import feedparser
from lxml import etree

from .validate_rules import Collector

BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
DECLARATION_RE = re.compile(rb"<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
XML_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ENTITY_ERRORS = {"ERR_UNDECLARED_ENTITY", "WAR_UNDECLARED_ENTITY"}
CHAR_ERRORS = {"ERR_INVALID_CHAR", "ERR_INVALID_CHARREF"}
ENCODING_ERRORS = {"ERR_INVALID_ENCODING", "ERR_UNKNOWN_ENCODING", "ERR_UNSUPPORTED_ENCODING"}


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _same(a: str, b: str) -> bool:
    """Returns True if two encoding names denote the same codec (utf-16 matches a utf-16-le/be BOM)."""
    ca, cb = _codec(a), _codec(b)
    return ca is not None and cb is not None and (ca == cb or ca.startswith(cb) or cb.startswith(ca))


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    nl = "\n" if isinstance(data, str) else b"\n"
    line = data.count(nl, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - (data.rfind(nl, 0, offset) + 1) + 1  # type: ignore[arg-type]


def decode(body: bytes, col: Collector, charset: str | None = None) -> str | None:
    """Returns the document as text, or None after reporting why its bytes cannot be read as declared."""
    bom_encoding, start = None, 0
    for bom, name in BOMS:
        if body.startswith(bom):
            bom_encoding, start = name, len(bom)
            break
    head = body[start:start + 400]
    if bom_encoding is None and head.startswith((b"<\x00?\x00", b"\x00<\x00?")):
        bom_encoding = "utf-16-le" if head[1] == 0 else "utf-16-be"  # UTF-16 without BOM, XML 1.0 Appendix F
        head = head.decode(bom_encoding, "replace").encode("ascii", "replace")
    m = DECLARATION_RE.match(head)
    declared = m.group(1).decode("ascii", "replace") if m else None
    if declared is not None and _codec(declared) is None:
        col.add(
            "xml:encoding",
            f"the XML declaration names encoding {declared!r}, which is unknown; write encoding=\"UTF-8\"",
            line=1,
        )
        return None
    if bom_encoding and declared and not _same(bom_encoding, declared):
        col.add(
            "xml:encoding",
            f"the byte order mark says {bom_encoding} but the XML declaration says {declared}; they must agree",
            line=1,
        )
        return None
    encoding = bom_encoding or declared or "utf-8"
    if charset:
        if _codec(charset) is None:
            col.add("xml:encoding", f"the HTTP charset {charset!r} is unknown")
            return None
        if not _same(charset, encoding):
            col.add(
                "xml:encoding-conflict",
                f"served with charset={charset} but the document says {encoding}; the charset wins (RFC 7303 §3.2), "
                "so make them agree",
                line=1,
            )
        encoding = charset
    try:
        text = body[start:].decode(encoding)
    except UnicodeDecodeError as e:
        line, column = _line_col(body, start + e.start)
        byte = f"byte 0x{body[start + e.start]:02x} at column {column}"
        if charset or declared or bom_encoding:
            source = "HTTP charset" if charset else "XML declaration" if declared else "byte order mark"
            message = f"the {source} says {encoding}, but {byte} is not {encoding}; save it as {encoding} or declare the encoding it is in"
        else:
            message = f"the document declares no encoding, so it must be UTF-8, but {byte} is not UTF-8; save it as UTF-8 or declare its encoding"
        col.add("xml:encoding", message, line=line)
        return None
    return text.lstrip("\ufeff")


def parse(text: str, col: Collector) -> etree._Element | None:
    """Returns the root element of well-formed ``text``, or None after reporting the first well-formedness error."""
    bad = XML_FORBIDDEN_RE.search(text)
    if bad:
        line, column = _line_col(text, bad.start())
        count = len(XML_FORBIDDEN_RE.findall(text))
        col.add(
            "xml:forbidden-character",
            f"U+{ord(bad.group()):04X} at column {column} is not an XML character ({count} in the document); delete it",
            line=line,
        )
        return None
    parser = etree.XMLParser(
        resolve_entities="internal", no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
        encoding="utf-8",
    )
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as e:
        # The parser's own log: the exception's log is thread-global and may hold earlier documents' errors.
        log = parser.error_log
        errors = [x for x in log if x.level >= etree.ErrorLevels.ERROR] or list(log)
        first = errors[0] if errors else None
        kind = first.type_name if first else ""
        message = first.message if first else str(e)
        line = first.line if first else e.lineno
        if kind in ENTITY_ERRORS:
            col.add(
                "xml:undefined-entity",
                f"{message}: XML knows only &amp; &lt; &gt; &quot; &apos;; write the character itself or &#N;",
                line=line,
            )
        elif kind in CHAR_ERRORS:
            col.add("xml:forbidden-character", f"{message}: not an XML character; delete it", line=line)
        elif kind in ENCODING_ERRORS:
            col.add("xml:encoding", message, line=line)
        else:
            col.add("xml:not-well-formed", f"{message} (column {first.column if first else '?'})", line=line)
        return None
    for warning in parser.error_log:
        if warning.type_name in ENTITY_ERRORS:
            # Declared, if at all, only in an external DTD that no reader fetches.
            col.add(
                "xml:undefined-entity",
                f"{warning.message}: readers do not fetch external DTDs; write the character itself or &#N;",
                line=warning.line,
            )
            return None
    return root


def plain(obj: Any) -> Any:
    """Returns feedparser's result as plain dicts and lists (FeedParserDict's key aliases warn on access)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in dict.items(obj)}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def round_trip(body: bytes, col: Collector, expected: str | None, headers: dict[str, str] | None = None) -> dict | None:
    """Returns feedparser's reading of ``body`` (plain dicts) after checking bozo and the detected version."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = feedparser.parse(
            io.BytesIO(body), response_headers=headers or {}, sanitize_html=False, resolve_relative_uris=False
        )
    parsed = plain(result)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        if isinstance(exc, feedparser.CharacterEncodingOverride):
            if not col.has("xml:encoding-conflict", "xml:encoding"):
                col.add("xml:encoding-conflict", f"feedparser: {exc}")
        elif isinstance(exc, feedparser.NonXMLContentType):
            col.add("http:content-type", f"feedparser: {exc}; serve the feed with its own media type")
        else:
            line = getattr(exc, "getLineNumber", lambda: None)()
            hint = "; feedparser rewrites DOCTYPE declarations: drop the DOCTYPE and write characters or &#N;" if b"<!DOCTYPE" in body[:4096] else ""
            col.add("feedparser:bozo", f"feedparser rejects the document: {type(exc).__name__}: {exc}{hint}", line=line)
    version = parsed.get("version") or "unknown"
    if expected and version != expected:
        col.add(
            "feedparser:version",
            f"feedparser reads this as {version!r}, not {expected!r}: readers will treat it as another format",
        )
    return parsed
