"""A shell session for `tests/test_docs.py`: commands run one at a time, as a reader types them.

Each command runs in bash in the session's directory with the session's environment, and
what it changes in them (`export`, `source .venv/bin/activate`, `eval "$(...)"`, `cd`)
carries over to the next command, as in one terminal. Output is stdout and stderr
together, as a terminal shows them. Long-running commands (a server, a watcher) run in
the background; `stop_all` ends them with SIGTERM, as Ctrl-C or a service manager would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: shell bookkeeping that is not the reader's environment
_NOT_ENV = {"_", "PWD", "OLDPWD", "SHLVL"}
_WRAPPER = 'cd "$1" || exit 97; source "$2"; __rc=$?; env -0 > "$3"; pwd > "$4"; exit $__rc'
_ASSIGNMENTS = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(.*)$", re.S)


@dataclass
class Result:
    code: int
    output: str


@dataclass
class Background:
    text: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class Shell:
    def __init__(self, cwd: Path, env: dict[str, str], scratch: Path) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.background: list[Background] = []
        self._n = 0

    def _file(self, suffix: str) -> Path:
        self._n += 1
        return self.scratch / f"{self._n:03d}{suffix}"

    def run(self, text: str, timeout: float) -> Result:
        """Run one command to its end; the session keeps its exports and directory."""
        script, env_out, cwd_out = self._file(".sh"), self._file(".env"), self._file(".cwd")
        script.write_text(text + "\n", encoding="utf-8")
        process = subprocess.Popen(["bash", "-c", _WRAPPER, "doc-shell", str(self.cwd), str(script), str(env_out),
                                    str(cwd_out)], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process, signal.SIGKILL)
            out, _ = process.communicate()
            text_out = out.decode("utf-8", "replace")
            return Result(-1, text_out + f"\n[doc-shell: still running after {timeout:.0f}s, killed]")
        script.with_suffix(".out").write_bytes(out)  # kept with the test's tmp_path, for a failure's reader
        if env_out.exists():
            pairs = [item.split("=", 1) for item in env_out.read_bytes().decode("utf-8", "replace").split("\0") if
                     "=" in item]
            self.env = {k: v for k, v in pairs if k not in _NOT_ENV}
        if cwd_out.exists():
            self.cwd = Path(cwd_out.read_text(encoding="utf-8").strip())
        return Result(process.returncode, out.decode("utf-8", "replace"))

    def start(self, text: str, ready: Callable[[Background], bool], timeout: float) -> Background:
        """Start a long-running command and wait (bounded) until `ready` says it serves, or it ended."""
        log, script = self._file(".log"), self._file(".sh")
        assignments, command = _ASSIGNMENTS.match(text).groups()  # type: ignore[union-attr]
        script.write_text(f"{assignments}exec {command}\n", encoding="utf-8")  # exec: the signal reaches it
        with log.open("wb") as sink:
            process = subprocess.Popen(["bash", "-c", 'cd "$1" || exit 97; source "$2"', "doc-shell", str(self.cwd),
                                        str(script)], env=self.env, stdin=subprocess.DEVNULL, stdout=sink,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        job = Background(text, process, log)
        self.background.append(job)
        deadline = time.monotonic() + timeout
        while process.poll() is None and not ready(job):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return job

    def stop(self, job: Background, timeout: float = 60) -> Result:
        """SIGTERM (what a service manager sends), then the exit status it chose."""
        if job.process.poll() is None:
            _kill_group(job.process, signal.SIGTERM)
            try:
                job.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(job.process, signal.SIGKILL)
                job.process.wait()
                return Result(-1, job.output() + f"\n[doc-shell: ignored SIGTERM for {timeout:.0f}s, killed]")
        if job in self.background:
            self.background.remove(job)
        return Result(job.process.returncode, job.output())

    def stop_all(self) -> list[tuple[Background, Result]]:
        return [(job, self.stop(job)) for job in list(self.background)]


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
