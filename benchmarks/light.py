"""Light commands: a no-op `cartflow run` and a one-row `cartflow sql`, whole processes, against a bare
`python -c "import duckdb"` measured in the same rounds.

Each round runs the three commands one after the other (the bare import first), so the
ratios are taken within a round, as the batch ratios are; the page reports their medians.
The project is one that has already run and has nothing new in its inbox: by default the
incremental benchmark's (its whole daily-split data landed), else a fresh scale-1 one.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.batch import cartflow_cli, generate, link, log
from benchmarks.harness import run_command

SQL = "SELECT count(*) FROM mart_revenue_monthly"
COMMANDS = ("import duckdb", "cartflow run (nothing new)", "cartflow sql")


def ensure_project(work: Path, project: Path | None) -> Path:
    """A project that has run once: the one given, or `work/light-project` built from scale-1 data."""
    if project and (project / "cartflow.toml").exists():
        return project
    project = work / "light-project"
    if not (project / "cartflow.toml").exists():
        cartflow_cli("cartflow init", "init", str(project))
        link(sorted(generate(work, 1).glob("*.csv")), project / "landing" / "online_retail")
        first = cartflow_cli("cartflow run (first)", "run", "--project", str(project))
        if not first.ok:
            raise RuntimeError(f"the light-command project's first run failed: {first.error}")
    return project


def run(work: Path, project: Path | None, rounds: int = 5) -> dict[str, Any]:
    try:
        project = ensure_project(work, project)
    except Exception as exc:  # noqa: BLE001 - benchmarks report failures instead of raising
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    commands = {
        "import duckdb": [sys.executable, "-c", "import duckdb"],
        "cartflow run (nothing new)": [str(Path(sys.executable).parent / "cartflow"), "run", "--project", str(project)],
        "cartflow sql": [str(Path(sys.executable).parent / "cartflow"), "sql", SQL, "--project", str(project)],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, int] = {name: 0 for name in commands}
    for i in range(rounds):
        for name, cmd in commands.items():
            m = run_command(name, cmd, timeout=600)
            if not m.ok:
                return {"ok": False, "error": f"{name}: {m.error}"}
            seconds[name].append(m.seconds)
            rss[name] = max(rss[name], m.peak_rss_bytes)
        log(f"light commands round {i + 1}/{rounds}: "
            + ", ".join(f"{name} {seconds[name][-1]:.2f}s" for name in commands))
    bare = seconds["import duckdb"]
    profiles = {name: import_profile(["-m", "cartflow.cli", *cmd[1:]]) for name, cmd in commands.items()
                if name.startswith("cartflow")}
    out: dict[str, Any] = {"ok": True, "rounds": rounds, "project": str(project), "sql": SQL, "commands": {}}
    for name in commands:
        ratios = [s / b for s, b in zip(seconds[name], bare, strict=True)]
        out["commands"][name] = {"median": statistics.median(seconds[name]), "min": min(seconds[name]),
                                 "max": max(seconds[name]), "rss": rss[name],
                                 "over_import": statistics.median(ratios), "imports": profiles.get(name)}
    return out


def import_profile(args: list[str], heavy: int = 6) -> dict[str, Any]:
    """`python -X importtime`: the heaviest modules two levels down, and whether SQLMesh or Spark came in."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=600)
    modules: list[tuple[int, str, float]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        try:
            microseconds = int(cumulative.strip())
        except ValueError:  # the header line
            continue
        name = name.rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        modules.append((depth, name.strip(), microseconds / 1e6))
    names = {m[1].split(".")[0] for m in modules}
    top = sorted((m for m in modules if m[0] <= 2), key=lambda m: -m[2])[:heavy]
    return {"total_s": round(sum(m[2] for m in modules if m[0] == 0), 3),
            "sqlmesh": "sqlmesh" in names, "pyspark": "pyspark" in names,
            "heaviest": [[name, round(s, 3)] for _, name, s in top]}
