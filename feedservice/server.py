"""Runs the app under a production server: granian by default, gunicorn as the documented alternative.

Chosen by measurement (bench/RESULTS.md, --ceilings): a bare WSGI app reaches 0.87x nginx's rate under
granian, whose HTTP handling is native code, and about 0.2x under gunicorn, whose request parsing is Python;
with our app, cached hits reach 0.58-0.87x nginx under granian. Each worker builds its own app from the FEEDSERVICE_* environment: its own store, cache and
reload thread. ``kill -HUP`` on a worker asks it to check the store now.
"""

from __future__ import annotations

from typing import Any

SERVERS = ("granian", "gunicorn")


def run(host: str, port: int, workers: int, threads: int = 32, server: str = "granian") -> None:
    """Serves until interrupted."""
    if server == "gunicorn":
        _gunicorn(host, port, workers, threads)
    else:
        _granian(host, port, workers, threads)


def _granian(host: str, port: int, workers: int, threads: int) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    Granian(
        "feedservice:create_app",
        factory=True,
        interface=Interfaces.WSGI,
        # HTTP/1.1 only: no client sends cleartext HTTP/2 to a feed, and skipping the protocol sniffing on each
        # connection raised 304 throughput by a fifth (bench/RESULTS.md, "server settings").
        http=HTTPModes.http1,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    ).serve()


def _gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": max(threads, 4),
                "accesslog": "-", "graceful_timeout": 10,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from . import create_app

            return create_app()

    Gunicorn().run()
