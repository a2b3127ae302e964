"""Settings: defaults, then ``FEEDSERVICE_*`` environment variables, then the mapping given to ``create_app``.

Every setting is documented in README.md (a test checks). Environment values are parsed as JSON where they
can be (``FEEDSERVICE_MAX_AGE=600`` is the number 600), else kept as strings, as Flask's
``from_prefixed_env`` does.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from .errors import FeedserviceError

PREFIX = "FEEDSERVICE"

DEFAULTS: dict[str, Any] = {
    "STORE": "data/articles.json",  # path of the article store
    "BASE_URL": None,  # absolute URL the service is reached at; default: the store's portal.base_url
    "TAG_AUTHORITY": None,  # RFC 4151 tagging entity for ids; default: the store's portal.tag_authority
    "PAGE_SIZE": 50,  # entries in a subscription document and in each archive page
    "MAX_AGE": 300,  # seconds: Cache-Control max-age, RSS ttl and sy:updatePeriod of current documents
    "CACHE_BYTES": 64 * 1024 * 1024,  # bound of the rendered-response cache
    "RELOAD_SECONDS": 2.0,  # how often the store file is checked for changes; 0 turns checking off
    "MAX_STORE_BYTES": 150 * 1024 * 1024,  # larger store files are refused
    "TOMBSTONE_DAYS": 30,  # days a withdrawn article's tombstone stays in Atom subscription documents
    "WEBSUB_HUB": None,  # WebSub hub URL to advertise and notify
    "RATE_LIMIT": None,  # per-client budget such as "120/minute"; None: no limit
    "CLIENT_IP_HEADER": None,  # header a trusted proxy sets to the client address, e.g. X-Forwarded-For
}

INTEGERS = ("PAGE_SIZE", "MAX_AGE", "CACHE_BYTES", "MAX_STORE_BYTES", "TOMBSTONE_DAYS")


class ConfigError(FeedserviceError):
    """A setting with a value the service cannot use."""


def configure(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fills ``app.config`` in layers (defaults, environment, overrides) and checks the values."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env(PREFIX)
    if overrides:
        app.config.update(overrides)
    check(app.config)


def check(config: Mapping[str, Any]) -> None:
    """Raises ConfigError naming the first setting whose value cannot be used, and how to fix it."""
    for key in INTEGERS:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{PREFIX}_{key}: {value!r} is not a whole number of at least 1; write e.g. {DEFAULTS[key]}")
    reload = config["RELOAD_SECONDS"]
    if isinstance(reload, bool) or not isinstance(reload, (int, float)) or reload < 0:
        raise ConfigError(f"{PREFIX}_RELOAD_SECONDS: {reload!r} is not a number of seconds >= 0; write e.g. 2")
    if config["PAGE_SIZE"] > 200:
        raise ConfigError(f"{PREFIX}_PAGE_SIZE: {config['PAGE_SIZE']} is over 200; write 50 or less")
    if config["RATE_LIMIT"]:
        from .ratelimit import parse_rate

        parse_rate(str(config["RATE_LIMIT"]))
    for key in ("BASE_URL", "WEBSUB_HUB"):
        value = config[key]
        if value is not None and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
            raise ConfigError(f"{PREFIX}_{key}: {value!r} is not an absolute http(s) URL; write e.g. https://feeds.example.go.kr")
