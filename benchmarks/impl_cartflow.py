"""cartflow end to end: `cartflow init`, drop the CSV(s) into landing, `cartflow run`.

    python -m benchmarks.impl_cartflow full CSV_DIR PROJECT_DIR
    python -m benchmarks.impl_cartflow incremental DAILY_CSV_DIR PROJECT_DIR

`incremental` loads every daily file but the last in one run, then the last day in a
second run, and reports both (in-process; `make bench` measures the incremental day with
the cold CLI instead, benchmarks/batch.py).

Besides the run's own `stage_seconds`, the child reports the transform runner's
`TransformResult` (per-model evaluation seconds, plan and run seconds), caught by wrapping
the `transform` function the pipeline calls, and when the marts were published, counted
from the start of the process.
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
    def __init__(self, reporter: TimingReporter, name: str) -> None:
        self.reporter, self.name, self.start = reporter, name, time.perf_counter()

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        if detail and detail.startswith("transform:"):
            self.reporter.marks.append((round(time.perf_counter() - self.start, 2), detail))

    def done(self, detail: str | None = None) -> None:
        now = time.perf_counter()
        self.reporter.seconds[self.name] = round(now - self.start, 3)
        self.reporter.ended[self.name] = round(now - self.reporter.created, 3)


class TimingReporter:
    """A quiet reporter that keeps how long each reported step took: finer than the run's stages
    (publish vs serving store; the transform's own phases as offsets into its step)."""

    def __init__(self) -> None:
        self.created = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        """When each step ended, in seconds from the reporter's creation (the run's start)."""
        self.marks: list[tuple[float, str]] = []

    def stage(self, name: str, total: int | None = None) -> _TimedStage:
        return _TimedStage(self, name)

    def message(self, text: str) -> None:
        pass


def _process_age() -> float:
    """Seconds since this process started (interpreter start and imports included)."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - psutil is a dev dependency; without it, count from the run
        return 0.0


class _TransformRecorder:
    """Wraps the pipeline's `transform` to keep every `TransformResult` of the run."""

    def __init__(self) -> None:
        self.results: list = []

    def install(self) -> None:
        from cartflow.pipeline import standardize

        original = getattr(standardize, "transform", None)
        if original is None:  # the pipeline no longer calls it from there: no per-model figures
            print("[bench] cartflow.pipeline.standardize.transform not found: no per-model seconds", file=sys.stderr)
            return

        def recorded(*args, **kwargs):
            result = original(*args, **kwargs)
            self.results.append(result)
            return result

        standardize.transform = recorded

    def summary(self) -> dict:
        models: dict[str, float] = {}
        for r in self.results:
            for name, seconds in r.model_seconds.items():
                models[name] = round(models.get(name, 0.0) + seconds, 3)
        return {
            "model_seconds": models,
            "plan_seconds": round(sum(r.plan_seconds for r in self.results), 3),
            "run_seconds": round(sum(r.run_seconds for r in self.results), 3),
            "planned": any(r.planned for r in self.results),
            "transform_calls": len(self.results),
        }


def _run(project_dir: Path) -> dict:
    from cartflow.config import load_project
    from cartflow.pipeline.run import run_pipeline

    recorder = _TransformRecorder()
    recorder.install()
    start = time.perf_counter()
    started_at_age = _process_age()
    reporter = TimingReporter()
    result = run_pipeline(load_project(project_dir), reporter=reporter)
    seconds = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"cartflow run {result.status}: {result.error}")
    return {
        "seconds": seconds,
        "process_seconds_before_run": round(started_at_age, 3),
        "marts_published_at": (round(started_at_age + reporter.ended["publish"], 3)
                               if "publish" in reporter.ended else None),
        "stage_seconds": result.stage_seconds,
        "step_seconds": reporter.seconds,
        "transform_marks": reporter.marks,
        "transform": recorder.summary(),
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
