"""The store being served, swapped atomically when the file changes, and never for a broken one.

Each worker process holds one ``LiveStore``. A background thread checks the file every
``RELOAD_SECONDS`` (SIGHUP asks for a check at once) and swaps in a new ``Store`` only after it loaded
and validated completely. A request reads ``live.current`` once and uses that store throughout, so no
response mixes two versions. A refused file leaves the last good store serving and ``error`` set.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import signal
import threading
from typing import Callable

from .errors import StoreError
from .loader import collector_paused, load_store
from .store import Store

log = logging.getLogger(__name__)


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _loaded(path: str, max_bytes: int, first: bool = False) -> Store:
    """``load_store``, then ``_kept``, with the collector paused for both (see ``loader.collector_paused``).

    ``first``: the process serves nothing yet, so nothing but the load runs meanwhile, and a load makes no
    reference cycles (tests/test_reload.py holds it to that). The collection then comes before the load, of
    the young generations only, instead of after it: that finds start-up's garbage (46 objects after
    ``create_app``'s imports, all of it, in 1 ms), where the full one after the load walked the new store for
    nothing (30-40 ms at 100,000 articles)."""
    with collector_paused():
        if first:
            gc.collect(1)
        return _kept(load_store(path, max_bytes), collect=not first)


def _kept(store: Store, collect: bool = True) -> Store:
    """Returns ``store`` after moving every object alive now out of the cyclic collector's reach.

    A 100,000-article store is about 140,000 objects the collector would otherwise walk in every full
    collection (130 ms, measured), a pause in the middle of some request. A store holds no reference cycles,
    so reference counting still frees an old one when the last request using it ends (gc.freeze). The one
    collection before freezing (``collect``) walks only what is not frozen yet: the new store, once per reload.
    A process's first load needs none there (see ``_loaded``).
    """
    if collect:  # first, so no garbage of the moment (a request's cycles) is frozen for good with the store
        gc.collect()
    gc.freeze()
    return store


# The store ``serve`` loaded before the server forked its workers: (pid that loaded it, path, max_bytes, the
# file's signature then, the store). See ``hand_down``.
_handed_down: tuple[int, str, int, tuple[int, int, int] | None, Store] | None = None


def hand_down(live: "LiveStore") -> None:
    """Offers ``live``'s store to the worker processes this process forks from now on.

    ``serve`` loads the store once, to refuse a broken one before any worker starts; a worker forked after
    that starts from the same objects (shared, copy-on-write, and frozen out of the collector) instead of
    reading the file again: no second load per worker, and a worker the server restarts while the file is
    broken still has a good store to serve, reporting degraded. Workers that are spawned rather than forked
    (Python 3.14's default) load the file themselves, as before.
    """
    global _handed_down
    _handed_down = (os.getpid(), live.path, live.max_bytes, live._signature, live.current)


def _release_handed_down() -> None:
    """Drops a forked worker's reference to the store it was handed, once it serves one of its own.

    The server keeps its copy for the workers it may still start; this process's reference would only keep
    the old store alive here, so a reload could not reuse its memory (the soak measured 40 MB more growth).
    """
    global _handed_down
    if _handed_down is not None and _handed_down[0] != os.getpid():
        _handed_down = None


class LiveStore:
    def __init__(self, path: str, max_bytes: int, interval: float) -> None:
        """Loads the store at ``path``, or starts from the one handed down by the parent process; raises
        StoreError if there is none and the file is broken (so start-up fails loudly)."""
        self.path = path
        self.max_bytes = max_bytes
        self.interval = interval
        self.error: str | None = None
        self.listeners: list[Callable[[Store, Store], None]] = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        inherited = _handed_down
        if inherited is not None and inherited[0] != os.getpid() and inherited[1:3] == (path, max_bytes):
            self._signature, self.current = inherited[3], inherited[4]
            self.check()  # the file changed since the parent loaded it: load it, or keep this one, degraded
        else:
            self._signature = _signature(path)
            self.current = _loaded(path, max_bytes, first=True)
        self.loaded_at = dt.datetime.now(dt.timezone.utc)
        log.info("loaded store %s: %d articles, version %s", path, len(self.current.articles), self.current.version)

    @property
    def status(self) -> str:
        return "degraded" if self.error else "ok"

    def check(self) -> bool:
        """Reloads the store if its file changed; returns True if a new store was swapped in."""
        with self._lock:
            sig = _signature(self.path)
            if sig == self._signature:
                return False
            self._signature = sig
            try:
                new = _loaded(self.path, self.max_bytes)
            except StoreError as e:
                self.error = str(e)
                log.error("refused store %s, still serving version %s:\n%s", self.path, self.current.version, e)
                return False
            self.error = None
            if new.version == self.current.version:
                return False
            old, self.current = self.current, new
            _release_handed_down()
            self.loaded_at = dt.datetime.now(dt.timezone.utc)
        log.info("reloaded store %s: %d articles, version %s", self.path, len(new.articles), new.version)
        for listener in self.listeners:
            try:
                listener(old, new)
            except Exception:  # a listener must never stop reloading
                log.exception("store change listener failed")
        return True

    def start(self) -> None:
        """Starts the watcher thread in this process (again after a fork); does nothing if checking is off."""
        if not self.interval or (self._thread is not None and self._pid == os.getpid()):
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._watch, name="feedservice-reload", daemon=True)
        self._thread.start()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            try:
                signal.signal(signal.SIGHUP, lambda *_: self._wake.set())
            except ValueError:
                pass

    def wake(self) -> None:
        """Asks the watcher for a check now (what SIGHUP does)."""
        self._wake.set()

    def _watch(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.check()
            except Exception:
                log.exception("store check failed")
