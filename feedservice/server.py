"""Runs the app under a production WSGI server (gunicorn, threaded workers)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app

        return create_app()  # in each worker: its own store, cache and reload thread


def run(host: str, port: int, workers: int) -> None:
    """Serves until interrupted; each worker builds its app from the FEEDSERVICE_* environment."""
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 8,
            "accesslog": "-",
            "graceful_timeout": 10,
        }
    ).run()
