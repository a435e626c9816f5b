"""Run one command and write its wall time and peak RSS to a file: the harness's small launcher.

    python -S benchmarks/rusage.py RESULT_FILE COMMAND [ARG...]

Why a launcher: on Linux a child's `ru_maxrss` starts at its parent's high-water RSS,
because `exec` records the RSS of the memory it replaces, and a child forked (or vforked)
from the benchmark driver replaces a copy of the driver's. The driver imports pandas,
pyarrow and cartflow and generates the data, so every figure would be floored at the
driver's peak (a bare `python -c "import duckdb"` read 240 MiB instead of ~60 MiB). This
launcher is a fresh interpreter without `site` (about 10 MiB) that forks the command and
waits for it, so the floor is the launcher's own size. It writes JSON: exit code, seconds
from fork to reap, and the command's `ru_maxrss` (its waited-for descendants included).
"""

import json
import os
import sys
import time


def main() -> int:
    result_file, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the command: replace this small process
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result_file, "w") as f:
        json.dump({"exit_code": code, "seconds": seconds, "maxrss_bytes": usage.ru_maxrss * 1024}, f)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
