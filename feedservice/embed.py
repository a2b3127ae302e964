"""The embed widget (/embed.js) and the iframe pages (/embed/<selection>.html). Placeholder: see issue 6."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Adds the embed routes to ``app``."""
