"""Runs the app under a production server: granian by default, gunicorn as the documented alternative.

Chosen by measurement (bench/CEILINGS.md): a bare WSGI callable returning constant bytes reaches 0.7-1.0x
nginx's rate for feed-sized answers under granian, whose HTTP handling is native code, and about 0.1-0.2x
under gunicorn, whose request parsing is Python; granian's own RSGI interface measured slower than its WSGI.
With our app, cached hits reach 0.68-0.77x nginx and 304s 0.51-0.52x (bench/RESULTS.md, 100,000 articles).
Workers are forked from the process that checked the store and start from its copy (live.hand_down); each
keeps its own cache and reload thread. ``kill -HUP`` on a worker asks it to check the store now.
"""

from __future__ import annotations

from typing import Any

SERVERS = ("granian", "gunicorn")


def run(host: str, port: int, workers: int, threads: int = 8, server: str = "granian") -> None:
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
        # HTTP/1.1 only: no feed client sends cleartext HTTP/2 (a TLS proxy in front speaks HTTP/2 if wanted), and
        # there is then no protocol sniffing per connection; its effect on throughput was within the noise here.
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
