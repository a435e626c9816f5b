"""SIGINT and SIGTERM as an exception that unwinds a run, so it can say how it ended.

Python turns Ctrl-C into `KeyboardInterrupt`, but SIGTERM (systemd, Kubernetes, `kill`)
ends the process at once by default: the run's record would say `running` forever and
its lock would be left to the next run's crash recovery. Inside `signals_interrupt()`
both raise `Interrupted` in the main thread; it is a `KeyboardInterrupt`, so no
`except Exception` on the way swallows it, and the run lifecycle records the run as
`interrupted`, releases the lock and re-raises. The shell convention gives the exit
code: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator


class Interrupted(KeyboardInterrupt):
    """A signal asked the process to stop; `exit_code` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        self.run_id: str | None = None
        """Set by the run lifecycle: the run it recorded as interrupted."""
        self.stage: str | None = None
        """Set by the run lifecycle: the stage the run had reached (None: before its first stage)."""
        super().__init__(self.signal_name)


def signal_name(exc: BaseException) -> str:
    """`SIGTERM` for an `Interrupted`; a plain Ctrl-C `KeyboardInterrupt` is SIGINT."""
    return exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"


@contextmanager
def signals_interrupt(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Within the block, the first of `signums` raises `Interrupted`; handlers are restored after.

    A repeated signal while the run is already unwinding is ignored, so the unwinding
    (recording the run, releasing the lock) is not itself cut short. Outside the main
    thread signals cannot be handled: the block then changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:
            return
        fired.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
