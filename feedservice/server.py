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

SERVERS = ("feedservice", "granian", "gunicorn")  # the first is serve's default
# Threads per worker when none are asked for. granian and gunicorn: 8. Every request takes a thread there, and a
# cached answer that finds them all busy waits (granian, wrk -t2 -c16, 2 workers, 304s: 2 threads 19.9-25.3k/s,
# 8 threads 25.6-25.7k/s, 32 threads 25.7-31.5k/s), but cold renders hold the GIL: the soak, a third of its
# requests cold, ran 305 req/s with 32 threads against 398-583 with 2 and 477 with 8 (bench/soak.py).
# feedservice's own server: 2. It answers cached documents on its event loop, which competes for the GIL with
# every thread rendering: with pages rendered alongside, its 304s ran at 18.4-19.0k/s with 2 threads against
# 11.2-13.0k/s with 8, and the index page at 1,060-1,106/s against 768-986/s with nothing else running (wrk,
# 2 rounds each, alternating).
DEFAULT_THREADS = {"feedservice": 2, "granian": 8, "gunicorn": 8}


def run(host: str, port: int, workers: int, threads: int | None = None, server: str = SERVERS[0]) -> None:
    """Serves until interrupted; ``threads`` None is the server's ``DEFAULT_THREADS``."""
    if threads is None:
        threads = DEFAULT_THREADS[server]
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
