"""The embed widget (``/embed.js``) and the iframe pages (``/embed/<selection>.html``): headlines on other portals.

``/embed.js`` is a static, dependency-free script that fetches a JSON Feed cross-origin and renders it as
text; this module only serves it with an ETag. The iframe page is the same list rendered here, with no
script at all: its one style sheet is inline and allowed by hash, so the page needs nothing but itself.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

from flask import Flask, Response, render_template, request
from markupsafe import Markup

from . import urls
from .cache import Rendered, cache_control
from .errors import BadRequest
from .store import Store
from .urls import html_path
from .web import _current_slug, _moved, _store, send, service

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
STATIC = Path(__file__).resolve().parent / "static"
JS_CONTENT_TYPE = "text/javascript; charset=utf-8"  # RFC 9239


def frame_csp(style_hash: str) -> str:
    """Returns the iframe page's policy: framable anywhere, and nothing loads but its own inline style."""
    return (
        f"default-src 'none'; style-src '{style_hash}'; img-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors *"
    )


def style_hash(css: str) -> str:
    """Returns the CSP source for an inline <style> holding exactly ``css`` (CSP Level 3 section 2.3.1)."""
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")


def parse_limit() -> int:
    """Returns the iframe page's ``?limit`` (default 5); raises BadRequest unless it is one whole number 1..20."""
    values = request.args.getlist("limit")
    if not values:
        return DEFAULT_LIMIT
    if len(values) > 1:
        raise BadRequest("limit is given more than once; give it once, e.g. ?limit=5")
    value = values[0]
    if not value.isascii() or not value.isdigit() or len(value) > 2 or not 1 <= int(value) <= MAX_LIMIT:
        shown = value if len(value) <= 20 else value[:20] + "..."
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {shown!r}; omit it for {DEFAULT_LIMIT}")
    return int(value)


def register(app: Flask) -> None:
    """Adds ``/embed.js``, ``/embed/all.html`` and ``/embed/<kind>/<slug>.html`` to ``app``."""
    js_path = STATIC / "embed.js"
    # Read once at start-up: the ETag hashes the bytes, so every worker and host agrees on it.
    script = Rendered.make(
        js_path.read_bytes(), JS_CONTENT_TYPE, os.stat(js_path).st_mtime, cache_control(app.config["MAX_AGE"])
    )
    # The iframe page inlines the style sheet (comments dropped) and allows exactly it by hash.
    css = re.sub(r"/\*.*?\*/\s*", "", (STATIC / "embed.css").read_text(encoding="utf-8"), flags=re.S)
    csp = frame_csp(style_hash(css))

    @app.get("/embed.js")
    def embed_js() -> Response:
        resp = send(script)
        # Host pages that isolate themselves (COEP: require-corp) may still load the script.
        resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return resp

    @app.get("/embed/all.html")
    def embed_all() -> Response:
        return _frame(_store(), "all", parse_limit(), css, csp)

    @app.get("/embed/<kind:kind>/<slug:slug>.html")
    def embed_selection(kind: str, slug: str) -> Response:
        new = _current_slug(kind, slug)
        if new:
            return _moved(kind, slug, new)
        return _frame(_store(), f"{kind}/{slug}", parse_limit(), css, csp)


def _frame(store: Store, key: str, limit: int, css: str, csp: str) -> Response:
    """Returns the iframe page of selection ``key``: its newest ``limit`` articles that are not withdrawn."""
    fs = service()

    def make() -> Rendered:
        articles = store.newest(store.selections[key], limit)
        kind, _, slug = key.partition("/")
        thing = None if key == "all" else (store.ministries if kind == "ministries" else store.topics)[slug]
        site = fs.site(store)
        html = render_template(
            "embed.html",
            portal=store.portal,
            store=store,
            site=site,
            urls=urls,
            articles=articles,
            title=store.portal.title if thing is None else f"{thing.name} · {store.portal.title}",
            more_url=site.url(html_path(key)),
            css=Markup(css),
        )
        newest = max((a.updated for a in articles), default=None)
        stamp = newest.timestamp() if newest else 0
        return Rendered.make(html.encode("utf-8"), "text/html; charset=utf-8", stamp, cache_control(fs.max_age))

    resp = send(fs.cache.get_or_make((store.version, "embed", key, limit), make))
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return resp
