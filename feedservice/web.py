"""Routes, conditional GET, Cache-Control, CORS and error pages. Knows HTTP, not XML.

Every handler reads the live store once (``_store()``), so a reload during a request never mixes versions.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, Response, current_app, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from . import archive, urls
from .cache import Rendered
from .fastpath import respond
from .errors import BadRequest, NotFound
from .service import FeedService
from .store import Store

log = logging.getLogger(__name__)

HTML_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
KIND_NAMES = {"ministries": "ministry or agency", "topics": "topic"}
LISTING_SIZE = 50


class SlugConverter(BaseConverter):
    regex = r"[a-z0-9-]{1,100}"


class FormatConverter(BaseConverter):
    regex = r"atom|rss|json"


class KindConverter(BaseConverter):
    regex = r"ministries|topics"


class PageConverter(BaseConverter):
    regex = r"[1-9][0-9]{0,8}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def service() -> FeedService:
    return current_app.extensions["feedservice"]


def _store() -> Store:
    """Returns the store this request uses, the same one for the whole request."""
    if "_fs_store" not in g:
        g._fs_store = service().store
    return g._fs_store


def send(rendered: Rendered) -> Response:
    """Returns the response for ``rendered``, exactly as the fast path would answer it."""
    status, headers, body = respond(rendered, request.environ)
    return Response(body, status=status, headers=headers)


def _limit() -> int | None:
    values = request.args.getlist("limit")
    if len(values) > 1:
        raise BadRequest("limit is given more than once; give it once, e.g. ?limit=20")
    return archive.parse_limit(values[0] if values else None, service().page_size)


def _current_slug(kind: str, slug: str) -> str | None:
    """Returns the successor of a former slug, or None if ``slug`` is current or unknown."""
    store = _store()
    names = store.ministries if kind == "ministries" else store.topics
    if slug in names:
        return None
    new = store.renamed[kind].get(slug)
    if new is None:
        raise NotFound(f"no {KIND_NAMES[kind]} '{slug}': see /feeds.opml for every feed")
    return new


def _moved(kind: str, old: str, new: str) -> Response:
    """301 to the same URL under the successor's slug, query string kept."""
    path = request.path.replace(f"/{kind}/{old}", f"/{kind}/{new}", 1)
    site = service().site(_store())
    qs = request.query_string.decode("latin-1")
    return redirect(site.url(path) + (f"?{qs}" if qs else ""), code=301)


def register(app: Flask) -> None:
    app.url_map.converters.update(slug=SlugConverter, fmt=FormatConverter, kind=KindConverter, page=PageConverter)
    app.url_map.strict_slashes = True

    @app.get("/feeds/all.<fmt:fmt>")
    def feed_all(fmt: str) -> Response:
        return send(service().feed(_store(), "all", fmt, None, _limit()))

    @app.get("/feeds/all/archive/<page:page>.<fmt:fmt>")
    def archive_all(page: int, fmt: str) -> Response:
        _no_limit()
        return send(service().feed(_store(), "all", fmt, page))

    @app.get("/feeds/<kind:kind>/<slug:slug>.<fmt:fmt>")
    def feed_selection(kind: str, slug: str, fmt: str) -> Response:
        new = _current_slug(kind, slug)
        if new:
            return _moved(kind, slug, new)
        return send(service().feed(_store(), f"{kind}/{slug}", fmt, None, _limit()))

    @app.get("/feeds/<kind:kind>/<slug:slug>/archive/<page:page>.<fmt:fmt>")
    def archive_selection(kind: str, slug: str, page: int, fmt: str) -> Response:
        new = _current_slug(kind, slug)
        if new:
            return _moved(kind, slug, new)
        _no_limit()
        return send(service().feed(_store(), f"{kind}/{slug}", fmt, page))

    @app.get("/feeds.opml")
    def feeds_opml() -> Response:
        return send(service().opml(_store()))

    @app.get("/")
    def index() -> str:
        store = _store()
        sel = store.selections["all"]
        return render_template(
            "index.html",
            **_page_context(store, "all"),
            articles=_listing(store, sel),
            ministries=[(m, len(store.selections[f"ministries/{m.slug}"])) for m in store.ministries.values()],
            topics=[(t, len(store.selections[f"topics/{t.slug}"])) for t in store.topics.values()],
        )

    @app.get("/<kind:kind>/<slug:slug>")
    def selection_page(kind: str, slug: str) -> Response | str:
        new = _current_slug(kind, slug)
        if new:
            return _moved(kind, slug, new)
        store = _store()
        key = f"{kind}/{slug}"
        thing = store.ministries[slug] if kind == "ministries" else store.topics[slug]
        return render_template(
            "selection.html",
            **_page_context(store, key),
            kind=kind,
            kind_name=KIND_NAMES[kind],
            thing=thing,
            articles=_listing(store, store.selections[key]),
            total=len(store.selections[key]),
        )

    @app.get("/articles/<slug:article_id>")
    def article_page(article_id: str) -> tuple[str, int] | str:
        store = _store()
        art = store.article(article_id)
        if art is None:
            raise NotFound(f"no article '{article_id}': see / for the latest headlines")
        context = _page_context(store, "all")
        if art.withdrawn is not None:
            return render_template("withdrawn.html", **context, article=art), 410
        return render_template("article.html", **context, article=art)

    @app.get("/healthz")
    def healthz() -> Response:
        fs = service()
        store = _store()
        body = {
            "status": fs.live.status,
            "version": store.version,
            "articles": len(store.articles),
            "loaded_at": fs.live.loaded_at.isoformat(timespec="seconds"),
            "store": fs.live.path,
        }
        if fs.live.error:
            body["error"] = fs.live.error
        resp = jsonify(body)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/healthz/feeds")
    def healthz_feeds() -> Response:
        """Per feed: newest entry, its age, the entry count and the date of the last change, so a consumer
        can tell a quiet ministry from a dead feed."""
        store = _store()
        site = service().site(store)
        now = dt.datetime.now(dt.timezone.utc)
        feeds = []
        for sel in store.feeds():
            newest = store.newest(sel, 1)
            gone = store.withdrawn_in(sel)
            changes = [a.updated for a in store.newest(sel, service().page_size)]
            changes += [a.withdrawn.date for a in gone]  # type: ignore[union-attr]
            feeds.append({
                "feed": sel.key,
                "url": site.url(urls.feed_path(sel.key, "atom")),
                "entries": len(sel) - len(gone),
                "newest_entry": newest[0].published.isoformat() if newest else None,
                "newest_entry_age_seconds": int((now - newest[0].published).total_seconds()) if newest else None,
                "last_change": max(changes).isoformat() if changes else None,
            })
        resp = jsonify({"version": store.version, "status": service().live.status, "feeds": feeds})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    app.register_error_handler(NotFound, lambda e: _error(404, str(e)))
    app.register_error_handler(BadRequest, lambda e: _error(400, str(e)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    app.before_request(_utf8_query)
    app.after_request(_common_headers)
    app.jinja_env.filters["kst"] = _format_date


def _utf8_query() -> None:
    """Refuses a query string with raw bytes that are not UTF-8: werkzeug's ``request.args`` would raise."""
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the query string is not UTF-8; percent-encode it, e.g. ?limit=20") from None


def _no_limit() -> None:
    if "limit" in request.args:
        raise BadRequest("limit applies to subscription documents, not archive pages; remove ?limit")


def _listing(store: Store, selection) -> list:
    return [a for a in store.newest(selection, LISTING_SIZE * 2) if a.withdrawn is None][:LISTING_SIZE]


def _page_context(store: Store, key: str) -> dict:
    fs = service()
    site = fs.site(store)
    return {
        "portal": store.portal,
        "store": store,
        "site": site,
        "urls": urls,
        "feed_key": key,
        "feed_links": [
            (fmt, urls.CONTENT_TYPES[fmt].split(";")[0], site.url(urls.feed_path(key, fmt))) for fmt in urls.FORMATS
        ],
    }


def _format_date(value: dt.datetime) -> str:
    """Formats a store datetime (already in the portal's zone) for a page: the date, and the time if set."""
    text = f"{value.year}-{value.month:02d}-{value.day:02d}"
    if value.hour or value.minute:
        text += f" {value.hour:02d}:{value.minute:02d}"
    return text


def _wants_html() -> bool:
    path = request.path
    return not path.startswith(("/feeds", "/healthz", "/embed.js")) and "." not in path.rsplit("/", 1)[-1]


def _error(status: int, message: str) -> Response:
    if _wants_html() and request.method != "OPTIONS":
        try:
            html = render_template("error.html", status=status, message=message, site=service().site(_store()))
            return Response(html, status=status, content_type="text/html; charset=utf-8")
        except Exception:  # never let an error page raise
            log.exception("error page failed")
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def _http_error(e: HTTPException) -> Response:
    if e.code == 404:
        resp = _error(404, f"no page at {request.path[:200]}: see / for every feed and page")
    elif e.code == 405:
        allowed = ", ".join(sorted(e.valid_methods or ["GET", "HEAD"])) if hasattr(e, "valid_methods") else "GET, HEAD"
        resp = _error(405, f"{request.method} is not allowed here; use {allowed}")
        resp.headers["Allow"] = allowed
    else:
        resp = _error(e.code or 400, f"{e.name}: {e.description}" if e.description else str(e.name))
    return resp


def _server_error(e: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path[:200])
    return Response("internal error; it has been logged\n", status=500, content_type="text/plain; charset=utf-8")


def _common_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if resp.mimetype == "text/html":
        resp.headers.setdefault("Content-Security-Policy", HTML_CSP)
    if request.path.startswith("/feeds") or request.path == "/feeds.opml":
        resp.headers.setdefault("Access-Control-Allow-Origin", "*")
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
            resp.headers["Access-Control-Max-Age"] = "86400"
    return resp
