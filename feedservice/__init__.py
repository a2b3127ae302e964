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
    fs.live.start()
    return app
