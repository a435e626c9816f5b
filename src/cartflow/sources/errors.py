"""The one error every source raises, so the run can report it and decide whether to retry."""

from __future__ import annotations


class SourceError(Exception):
    """A source cannot be read; the message names the source and says what to do.

    `retryable` tells the run's retry policy whether waiting can help: a refused
    connection or a 503 can get better, a 401 or a missing table cannot.
    """

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
