"""Runs a function in a forked child on the other core, and hands its bytes back: how a first load checks two
parts of a store at once.

The child is a fork, so it starts in a moment with everything the parent has read (the file's bytes are
shared, not copied), and it writes its answer into an anonymous in-memory file (``memfd``) instead of a pipe, so
it never waits for the parent to read. ``start`` forks only where that is safe: on Linux, and in a process that
runs no other thread, since a thread holding a lock at the fork would leave it held for good in the child. Where
it cannot fork, or the child fails, the caller does the work itself: the answer is the same, only later.

``Shared`` is a range of work both take from, so that the one that runs faster does more of it.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import sys
import threading
from typing import Callable

log = logging.getLogger(__name__)


def can_fork() -> bool:
    """Returns whether ``start`` may fork here and now."""
    return sys.platform == "linux" and hasattr(os, "memfd_create") and threading.active_count() == 1


def start(work: Callable[[], bytes]) -> Callable[[], bytearray | None] | None:
    """Starts ``work()`` in a forked child; returns ``result()``, which waits for the child's answer and returns
    what ``work`` returned, or None if the child failed (it logs why). Returns None at once if it cannot fork here.

    The child says its answer is complete with one byte on a pipe, before it exits: a child that forked from a
    big load has hundreds of megabytes to unmap on its way out (10-30 ms), and the parent need not wait for
    that to read the answer. ``reap()`` waits for the exit, once the parent has nothing better to do."""
    if not can_fork():
        return None
    try:
        fd = os.memfd_create("feedservice-forked", os.MFD_CLOEXEC)
    except OSError as e:
        log.debug("no memfd, so no child: %s", e)
        return None
    try:
        done_r, done_w = os.pipe2(os.O_CLOEXEC)
    except OSError as e:
        os.close(fd)
        log.debug("no pipe, so no child: %s", e)
        return None
    try:
        pid = os.fork()
    except OSError as e:
        for end in (fd, done_r, done_w):
            os.close(end)
        log.debug("cannot fork: %s", e)
        return None
    if pid == 0:  # the child: nothing of the parent's may run here (no atexit, no buffered output), hence _exit
        code = 1
        try:
            data = memoryview(work())
            while data:
                data = data[os.write(fd, data):]
            os.write(done_w, b"\1")
            code = 0
        except BaseException as e:  # noqa: BLE001  (whatever it was, the parent does the work itself)
            try:
                os.write(2, f"feedservice: a forked child failed: {e!r}\n".encode())
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(done_w)  # so that the read below ends when the child does, if it never says it is done
    _exiting.append(pid)

    def result() -> bytearray | None:
        try:
            with open(done_r, "rb", buffering=0) as done:
                if done.read(1) != b"\1":  # the child ended (or was killed) before its answer was complete
                    code = reap()
                    log.warning("a forked child ended with %s; doing its work here", code)
                    return None
            size = os.fstat(fd).st_size
            out = bytearray(size)
            view, at = memoryview(out), 0
            while at < size:
                n = os.preadv(fd, [view[at:]], at)
                if n == 0:
                    return None
                at += n
            return out
        finally:
            os.close(fd)

    return result


# Children that said they were done and may still be exiting: see ``start`` and ``reap``.
_exiting: list[int] = []


def reap() -> int | str | None:
    """Waits for every child ``start`` forked to end; returns the exit code of the last, "reaped elsewhere" if
    a SIGCHLD handler of the host (a process manager's) collected it first, or None if there was none."""
    code: int | str | None = None
    while _exiting:
        pid = _exiting.pop()
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            code = "reaped elsewhere"
        else:
            code = os.waitstatus_to_exitcode(status)
    return code


class Shared:
    """The range ``start``..``end`` of work that a process and the child it forks next both take from, in pieces of
    ``step``: the parent from the start (``first``), the child from the end (``last``), until they meet (at
    ``met()``). Whichever runs faster takes more, so neither waits long for the other when the host slows one
    of them down. A piece is taken under a lock (``lockf`` on a memfd: a record lock, which a fork does not
    share) and never by both.

    ``kept``: how much of the range ``last`` leaves to ``first`` at the least (all of it, if it is no more), for
    a child that has more to do than its parent once the range is done.

    Only where ``can_fork()``; ``close()`` once both are done."""

    def __init__(self, start: int, end: int, step: int, kept: int = 0) -> None:
        self.step, self.kept = step, kept
        self.fd = os.memfd_create("feedservice-shared", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, 16)
            self._map = mmap.mmap(self.fd, 16)
        except BaseException:
            os.close(self.fd)
            raise
        self._ends = memoryview(self._map).cast("q")
        self._ends[0], self._ends[1] = start, max(start, end)

    def first(self) -> tuple[int, int] | None:
        """Takes the first piece left, (start, end), or None when none is left."""
        return self._take(front=True)

    def last(self) -> tuple[int, int] | None:
        """Takes the last piece left, (start, end), or None when none is left but what is kept for ``first``."""
        return self._take(front=False)

    def _take(self, front: bool) -> tuple[int, int] | None:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            low, high = self._ends[0], self._ends[1]
            if front:
                if low >= high:
                    return None
                self._ends[0] = high = min(high, low + self.step)
            else:
                piece = max(low, high - self.step)
                if piece >= high or piece - low < self.kept:
                    return None
                self._ends[1] = low = piece
            return low, high
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def met(self) -> int:
        """Where the pieces the child took begin: everything before was left to the parent (all of it, if the
        child took none). Final once the parent's ``first()`` returned None."""
        return self._ends[1]

    def close(self) -> None:
        self._ends.release()
        self._map.close()
        os.close(self.fd)
