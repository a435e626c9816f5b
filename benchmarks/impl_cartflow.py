"""cartflow end to end: `cartflow init`, drop the CSV(s) into landing, `cartflow run`.

    python -m benchmarks.impl_cartflow full CSV_DIR PROJECT_DIR
    python -m benchmarks.impl_cartflow incremental DAILY_CSV_DIR PROJECT_DIR

`incremental` loads every daily file but the last in one run, then the last day in a
second run, and reports both.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from benchmarks.harness import emit


def _init(project_dir: Path) -> Path:
    from typer.testing import CliRunner

    from cartflow.cli import app

    if project_dir.exists():
        shutil.rmtree(project_dir)
    res = CliRunner().invoke(app, ["init", str(project_dir)])
    if res.exit_code != 0:
        raise SystemExit(f"cartflow init failed: {res.output}")
    landing = project_dir / "landing" / "online_retail"
    landing.mkdir(parents=True, exist_ok=True)
    return landing


def _drop(files: list[Path], landing: Path) -> None:
    for f in files:
        target = landing / f.name
        try:
            os.link(f, target)
        except OSError:
            shutil.copy(f, target)


class _TimedStage:
    def __init__(self, reporter: "TimingReporter", name: str) -> None:
        self.reporter, self.name, self.start = reporter, name, time.perf_counter()

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        if detail and detail.startswith("transform:"):
            self.reporter.marks.append((round(time.perf_counter() - self.start, 2), detail))

    def done(self, detail: str | None = None) -> None:
        self.reporter.seconds[self.name] = round(time.perf_counter() - self.start, 3)


class TimingReporter:
    """A quiet reporter that keeps how long each reported step took: finer than the run's stages
    (publish vs serving store; the transform's own phases as offsets into its step)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.marks: list[tuple[float, str]] = []

    def stage(self, name: str, total: int | None = None) -> _TimedStage:
        return _TimedStage(self, name)

    def message(self, text: str) -> None:
        pass


def _run(project_dir: Path) -> dict:
    from cartflow.config import load_project
    from cartflow.pipeline.run import run_pipeline

    start = time.perf_counter()
    reporter = TimingReporter()
    result = run_pipeline(load_project(project_dir), reporter=reporter)
    seconds = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"cartflow run {result.status}: {result.error}")
    return {
        "seconds": seconds,
        "stage_seconds": result.stage_seconds,
        "step_seconds": reporter.seconds,
        "transform_marks": reporter.marks,
        "silver_rows": result.layer_rows.get("silver"),
        "quarantine_rows": sum(result.quarantine.values()),
        "raw_rows": result.layer_rows.get("raw"),
        "quarantine": result.quarantine,
    }


def main(mode: str, csv_dir: str, project_dir: str) -> None:
    files = sorted(Path(csv_dir).glob("*.csv"))
    landing = _init(Path(project_dir))
    if mode == "full":
        _drop(files, landing)
        emit(_run(Path(project_dir)))
    elif mode == "incremental":
        _drop(files[:-1], landing)
        base = _run(Path(project_dir))
        _drop(files[-1:], landing)
        last = _run(Path(project_dir))
        emit({"full": base, "last_day": last, "days": len(files), "last_file": files[-1].name})
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
