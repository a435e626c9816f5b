"""One writer per project: a lock file, held with `flock`, that records who holds it.

Why `flock` and not "create the file exclusively, then write the holder": with the
latter a second process can read the still-empty file in between, take it for a stale
lock, delete it and take it too (29 of 30 trials with two processes). Here the kernel
decides: `flock(LOCK_EX | LOCK_NB)` on the open file succeeds for exactly one process,
and it is released by the kernel when the holder dies, `kill -9` included, so no lock
is ever deleted on a guess. The file's content (pid, host, run id, started_at) is
only information: for the "who holds it" message, and, when a process takes a lock
whose file still names another holder, the record of a run that died holding it (a
clean release removes the file).

Two rules keep that exact:
* only the holder removes the file, and a process that locked a file which was removed
  and re-created meanwhile (another path entry by now) lets go and tries again;
* processes forked while the lock is held (SQLMesh's model-loading pool) close their
  inherited copy at once, so a worker that outlives the run cannot keep the lock.

The lock lives on the local file system (the project's `.cartflow/`), like the SQLite
state it protects; `flock` is not reliable over NFS.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from cartflow.runtime.state import utcnow

ATTEMPTS = 20
"""Tries when the lock file is removed and re-created under us (a holder releasing meanwhile)."""


class LockHeld(Exception):
    """Another process holds the lock; the message names the holder (`holder`, when it is known)."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass
class Holder:
    pid: int
    host: str
    started_at: str
    run_id: str | None = None

    def alive(self) -> bool:
        return process_alive(self.pid, self.host)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, run {self.run_id or '?'}, since {self.started_at}"


def process_alive(pid: int, host: str) -> bool:
    """Whether process `pid` on `host` still runs (another machine's: assumed to)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_holder(text: str) -> Holder | None:
    """The holder a lock file names; None when it is empty or not whole."""
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None


_held: weakref.WeakSet[RunLock] = weakref.WeakSet()


def _forget_in_child() -> None:
    """After fork, in the child: close the inherited lock descriptors (the parent keeps its lock)."""
    for lock in list(_held):
        lock._drop_inherited()


os.register_at_fork(after_in_child=_forget_in_child)


class RunLock:
    """`with RunLock(path, run_id):` exclusive across processes; `recovered` names a holder that died."""

    def __init__(self, path: Path, run_id: str | None = None, *, what: str = "another run holds the project lock",
                 advice: str = "Wait for it to finish (`cartflow runs`)") -> None:
        self.path = path
        self.run_id = run_id
        self.what, self.advice = what, advice
        self.recovered: Holder | None = None
        """The holder named by a lock file left behind (its process died without releasing)."""
        self._fd: int | None = None

    def holder(self) -> Holder | None:
        """Who the lock file names (None: no file, or not written whole yet)."""
        try:
            return parse_holder(self.path.read_text())
        except OSError:
            return None

    def acquire(self) -> None:
        """Take the lock or raise `LockHeld` naming the holder; never waits, never deletes another's file."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(ATTEMPTS):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OSError(exc.errno, f"cannot lock {self.path} ({exc.strerror}): keep the project's "
                                             ".cartflow/ directory on a local file system") from None
                held = self.holder()
                who = held.describe() if held else "its holder is still writing its name"
                raise LockHeld(f"{self.what}: {who}. {self.advice}.", held) from None
            if not self._same_file(fd):
                os.close(fd)  # the holder released (removed it) between our open and our flock: again
                continue
            self._fd = fd
            _held.add(self)
            self._take_over()
            return
        raise LockHeld(f"could not take the lock {self.path}: it was re-created {ATTEMPTS} times meanwhile")

    def _same_file(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def _take_over(self) -> None:
        """We hold it: what the file still says is a holder that died; then write ourselves in."""
        assert self._fd is not None
        left = b""
        while chunk := os.read(self._fd, 65536):
            left += chunk
        self.recovered = parse_holder(left.decode("utf-8", "replace")) if left.strip() else None
        me = Holder(pid=os.getpid(), host=socket.gethostname(),
                    started_at=utcnow(), run_id=self.run_id)
        data = json.dumps(asdict(me)).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        """Remove the file (a clean end, not a crash) and let go; a no-op when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _held.discard(self)
        try:
            if self._same_file(fd):
                self.path.unlink()
        finally:
            os.close(fd)  # unlink first: a waiter that locks the removed file sees it is gone and retries

    def _drop_inherited(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the parent's descriptor keeps the lock; this copy must not outlive it

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
