"""feedservice: Atom, RSS and JSON Feed for the Smart City Comprehensive Portal."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

__version__ = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Returns the WSGI app: config in layers, the store loaded (StoreError if broken), routes registered."""
    from . import config, embed, web
    from .fastpath import FastPath
    from .service import FeedService

    app = Flask(__name__)
    config.configure(app, overrides)
    fs = FeedService(app.config)
    app.extensions["feedservice"] = fs
    web.register(app)
    embed.register(app)
    app.wsgi_app = FastPath(app.wsgi_app, fs)  # type: ignore[method-assign]
    if app.config["RATE_LIMIT"]:
        from .ratelimit import RateLimiter, RateLimitMiddleware, parse_rate

        fs.limiter = RateLimiter(parse_rate(str(app.config["RATE_LIMIT"])))
        app.wsgi_app = RateLimitMiddleware(app.wsgi_app, fs.limiter, app.config["CLIENT_IP_HEADER"])  # type: ignore[method-assign]
    if app.config["WEBSUB_HUB"]:
        from .websub import WebSubNotifier

        fs.notifier = WebSubNotifier(app.config["WEBSUB_HUB"], fs.site, fs.page_size, app.config["TOMBSTONE_DAYS"])
        fs.live.listeners.append(fs.notifier.store_changed)
    fs.live.start()
    return app
