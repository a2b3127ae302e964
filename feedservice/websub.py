"""WebSub publishing: when the store changes, tell the hub which feeds changed, and only those.

The notification (``hub.mode=publish``, ``hub.url=<feed>``) is sent from a background thread, one POST per
changed feed URL, retried with exponential backoff on network errors and 5xx answers; a request or a reload
never waits for it. Every worker sees the same change, so the first to claim it (an exclusive file in the
temporary directory) sends it and the others stay quiet.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

from .archive import recent_tombstones
from .store import Selection, Store
from .urls import FORMATS, Site, feed_path

log = logging.getLogger(__name__)


def _fingerprint(store: Store, selection: Selection, size: int, tombstone_days: int) -> tuple:
    """Returns what a selection's subscription documents say; equal fingerprints mean identical feeds."""
    names = {s: store.ministries[s] for a in store.newest(selection, size) for s in a.ministries}
    return (
        store.portal,
        selection.title,
        tuple(store.newest(selection, size)),
        recent_tombstones(store, selection, tombstone_days),
        tuple(sorted(names.items())),
        tuple(store.topics.items()),
        len(selection) // size,  # a new archive page changes prev-archive
    )


def changed_feeds(old: Store, new: Store, size: int, tombstone_days: int) -> list[str]:
    """Returns the keys of the selections whose subscription documents differ between the two stores."""
    changed = []
    for selection in new.feeds():
        before = old.selection(selection.key)
        if before is None or _fingerprint(old, before, size, tombstone_days) != _fingerprint(
            new, selection, size, tombstone_days
        ):
            changed.append(selection.key)
    return changed


class WebSubNotifier:
    def __init__(
        self,
        hub: str,
        site: Callable[[Store], Site],
        page_size: int,
        tombstone_days: int,
        retries: int = 5,
        backoff: float = 2.0,
        timeout: float = 10.0,
        claim_dir: str | None = None,
    ) -> None:
        self.hub = hub
        self.site = site
        self.page_size = page_size
        self.tombstone_days = tombstone_days
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.claim_dir = claim_dir or os.path.join(tempfile.gettempdir(), "feedservice-websub")
        self.sent: list[str] = []  # feed URLs the hub acknowledged, for /healthz and tests
        self._due: list[tuple[float, int, str, int]] = []  # heap of (when, seq, url, attempt)
        self._seq = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def store_changed(self, old: Store, new: Store) -> None:
        """LiveStore listener: queues a publish notification for each feed URL that changed."""
        keys = changed_feeds(old, new, self.page_size, self.tombstone_days)
        if not keys or not self._claim(old, new):
            return
        site = self.site(new)
        urls = [site.url(feed_path(key, fmt)) for key in keys for fmt in FORMATS]
        log.info("websub: %d feeds changed in store version %s; notifying %s", len(keys), new.version, self.hub)
        for url in urls:
            self._schedule(url, 0, 0.0)

    def _claim(self, old: Store, new: Store) -> bool:
        os.makedirs(self.claim_dir, exist_ok=True)
        stamp = int(time.time() // 600)  # workers see a change within seconds of each other
        name = hashlib.sha256(f"{self.hub} {old.version} {new.version} {stamp}".encode()).hexdigest()[:32]
        try:
            os.close(os.open(os.path.join(self.claim_dir, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            return False

    def _schedule(self, url: str, attempt: int, delay: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._seq, url, attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="feedservice-websub", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._cond.wait(timeout=(self._due[0][0] - time.monotonic()) if self._due else None)
                _, _, url, attempt = heapq.heappop(self._due)
            if self._publish(url):
                self.sent.append(url)
            elif attempt + 1 < self.retries:
                self._schedule(url, attempt + 1, self.backoff * 2**attempt)
            else:
                log.error("websub: gave up notifying %s of %s after %d attempts", self.hub, url, self.retries)

    def _publish(self, url: str) -> bool:
        """POSTs one publish notification; returns True when the hub accepted it or refused it for good."""
        data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode()
        request = urllib.request.Request(self.hub, data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                resp.read()
                return True
        except urllib.error.HTTPError as e:
            e.close()
            if e.code < 500 and e.code != 429:
                log.error("websub: hub %s refused %s: %s", self.hub, url, e.code)
                return True  # retrying will not help
            log.warning("websub: hub %s answered %s for %s; will retry", self.hub, e.code, url)
        except (urllib.error.URLError, OSError) as e:
            log.warning("websub: cannot reach hub %s for %s (%s); will retry", self.hub, url, e)
        return False
