"""One exception tree for everything feedservice refuses.

Library code raises these; the CLI turns them into exit codes and the web layer into 4xx responses with a
one-line body. ``str(error)`` is always a message a person can act on: where, what, and the fix.
"""

from __future__ import annotations


class FeedserviceError(Exception):
    """Base of every error feedservice raises on purpose."""


class StoreError(FeedserviceError):
    """The article store could not be loaded; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class NotFound(FeedserviceError):
    """A name in a URL that the store does not know."""


class BadRequest(FeedserviceError):
    """A request parameter outside what the service accepts."""


class ValidationFailed(FeedserviceError):
    """The validator could not run (unreadable file, refused connection): not a finding about a feed."""
