"""Group commit: concurrent callers' small writes as one durable transaction.

An ingest request makes two durable writes (the event-id binding, the log append), each
a transaction that ends in an fsync of a few milliseconds on a busy disk. With several
requests in flight, one thread at a time writes and the others wait for the lock anyway:
here the first waiting caller writes everything queued meanwhile in one transaction, and
every caller returns once the transaction that holds its items has committed, with its
own part of the result. Durability and order are those of the same writes made one
after the other in queue order; only the number of fsyncs changes.

When the combined write fails, each caller's items are written again on their own, so a
caller whose values the store refuses gets its own error and the others are unaffected,
exactly as without grouping.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("items", "result", "error", "done")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[T, R]):
    """`submit(items)` returns `write(items)`'s answer for these items, written together with others'.

    `write` takes every queued caller's items in queue order (one transaction) and returns
    one answer per caller, in the same order.
    """

    def __init__(self, write: Callable[[list[Sequence[T]]], list[R]]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._busy = False

    @property
    def waiting(self) -> int:
        """Callers queued behind the transaction being written now."""
        with self._cond:
            return len(self._queue)

    def submit(self, items: Sequence[T]) -> R:
        slot: _Slot[T, R] = _Slot(items)
        with self._cond:
            self._queue.append(slot)
            while not slot.done and self._busy:
                self._cond.wait()
            if slot.done:
                return self._answer(slot)
            self._busy = True
            batch, self._queue = self._queue, []
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return self._answer(slot)

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self._write([s.items for s in batch])
        except BaseException as exc:  # noqa: BLE001 - each caller learns its own outcome below
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for s in batch:  # one at a time: only the caller whose items fail sees an error
                    try:
                        s.result = self._write([s.items])[0]
                    except BaseException as own:  # noqa: BLE001
                        s.error = own
        else:
            for s, r in zip(batch, results, strict=False):
                s.result = r
        with self._cond:
            for s in batch:
                s.done = True

    @staticmethod
    def _answer(slot: _Slot[T, R]) -> R:
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]
