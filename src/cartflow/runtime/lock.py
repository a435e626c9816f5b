"""One writer per project: a lock file that records who holds it, recovered when stale."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cartflow.runtime.state import utcnow


class LockHeld(Exception):
    """Another run holds the project lock; the message names the holder."""


@dataclass
class Holder:
    pid: int
    host: str
    started_at: str
    run_id: str | None = None

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot check another machine's process: assume it is running
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class RunLock:
    """`with RunLock(path, run_id):` — exclusive, with stale-lock recovery after a crash."""

    def __init__(self, path: Path, run_id: str | None = None) -> None:
        self.path = path
        self.run_id = run_id
        self.recovered: Holder | None = None

    def holder(self) -> Holder | None:
        try:
            return Holder(**json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = Holder(pid=os.getpid(), host=socket.gethostname(), started_at=utcnow(), run_id=self.run_id)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = self.holder()
                if held is not None and held.alive():
                    raise LockHeld(
                        f"another run holds the project lock: pid {held.pid} on {held.host}, "
                        f"run {held.run_id or '?'}, since {held.started_at}. Wait for it to finish "
                        f"(`cartflow runs`), or delete {self.path} if that process is gone."
                    ) from None
                self.recovered = held
                self.path.unlink(missing_ok=True)  # stale: its process died without releasing
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me.__dict__, f)
            return
        raise LockHeld(f"could not take the project lock {self.path}")

    def release(self) -> None:
        held = self.holder()
        if held and held.pid == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
