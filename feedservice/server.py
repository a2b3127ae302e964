"""Runs the app under a production server: feedservice's own by default, granian or gunicorn if asked.

Chosen by measurement (bench/CEILINGS.md, bench/RESULTS.md). Cached feeds are most of the traffic, and for
them the server's own cost per request is what is left: granian's WSGI interface, with a bare callable
returning constant bytes, reached 0.36-0.41x nginx's rate for 304s on the 2-core bench machine, and our app
under it 0.37-0.46x. ``asyncserver`` answers cached documents on an event loop instead (uvloop, httptools), and
everything else through the app in a thread pool, under gunicorn's master. Workers are forked from the process
that checked the store and start from its copy (live.hand_down); each keeps its own cache and reload thread.
``kill -HUP`` on a worker asks it to check the store now.
"""

from __future__ import annotations

from typing import Any

SERVERS = ("feedservice", "granian", "gunicorn")


def run(host: str, port: int, workers: int, threads: int = 8, server: str = "feedservice") -> None:
    """Serves until interrupted."""
    if server == "gunicorn":
        _gunicorn(host, port, workers, threads)
    elif server == "granian":
        _granian(host, port, workers, threads)
    else:
        _gunicorn(host, port, workers, threads, worker_class="feedservice.asyncserver.Worker")


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


def _gunicorn(host: str, port: int, workers: int, threads: int, worker_class: str = "gthread") -> None:
    from gunicorn.app.base import BaseApplication

    settings: dict[str, Any] = {
        "bind": f"{host}:{port}", "workers": workers, "worker_class": worker_class, "threads": max(threads, 4),
        "accesslog": "-", "graceful_timeout": 10,
        # gunicorn 27's runtime control socket is one path per user: a second service would take it over
        "control_socket_disable": True,
    }
    if worker_class != "gthread":  # feedservice's own worker: no access log (a line a poll), idle connections kept 5 s
        settings.update(accesslog=None, keepalive=5, threads=threads)

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings:  # an older gunicorn lacks some
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from . import create_app

            return create_app()

    Gunicorn().run()
