"""docs/benchmarks.md explains each missed issue-15 target with the run's own figures, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def misses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import benchmarks.misses

    return benchmarks.misses


def _impl(median: float) -> dict[str, Any]:
    return {"ok": True, "median": median}


def _results(marts_at: float, fifty: float, last_day: float, events_per_s: int, paced_p99: float) -> dict[str, Any]:
    def cartflow(median: float, scale: int) -> dict[str, Any]:
        k = 1 if scale == 10 else 7
        return {"ok": True, "median": median, "marts_published_median": marts_at if scale == 10 else median,
                "rss": 2**30, "split": {"SQLMesh load": 4.0, "SQLMesh plan": 5.0, "SQLMesh run": 30.0 * k,
                                        "serving store": 10.0 * k, "bronze": 2.0 * 5},
                "model_seconds": {"silver.order_lines": 6.0 * k, "silver.quarantine_order_lines": 4.0 * k,
                                  "gold.fct_order_line": 5.0 * k, "gold.dim_product": 3.0 * k * k}}
    ten = {"scale": 10, "summary": {"cartflow": cartflow(max(marts_at, 1.0) + 10, 10), "pandas": _impl(40.0),
                                    "pyspark": _impl(90.0), "duckdb_job": _impl(15.0)}}
    big = {"scale": 50, "summary": {"cartflow": cartflow(fifty, 50)}}
    ten["summary"]["cartflow"]["split"]["bronze"] = 2.0
    paced = [{"events_per_s": 20_000, "p99_ms": paced_p99, "achieved_events_per_s": 16_000}]
    return {"batch": [ten, big],
            "incremental": {"ok": True, "scale": 10, "ratio": last_day / 100.0,
                            "full": {"seconds": 100.0, "raw_rows": 1000},
                            "last_day": {"seconds": last_day, "raw_rows": 1010,
                                         "stage_seconds": {"transform": last_day * 0.7, "publish": 1.0}}},
            "streaming": {"ok": True, "setups": [
                {"ok": True, "events_per_s": events_per_s, "visible_p50_ms": 900.0, "paced_events_per_s": 2000,
                 "paced_visible_p99_ms": 50.0, "paced": paced}]}}


def test_every_missed_target_gets_its_figure(misses) -> None:
    text = misses.render_misses(_results(marts_at=60.0, fifty=400.0, last_day=30.0, events_per_s=18_000,
                                         paced_p99=12_000.0))
    for start in ("* **/ pandas ≤ 0.5× (1.50×)", "* **/ PySpark ≤ 0.2× (0.67×)", "* **/ DuckDB same-job ≤ 2.5× (4.00×)",
                  "* **scale 50 / scale 10 ≤ 5.0× (5.71×)", "* **last day ≤ 10% (30%)",
                  "* **stream ≥ 25,000 events/s (18,000)", "* **p99 POST→visible ≤ 1 s at 20,000/s"):
        assert start in text, start
    assert "0.38× pandas" in text  # the DuckDB same-job floor: 15 s / 40 s
    assert "10 new rows" in text and "56 µs per event" in text and "16,000/s while pacing" in text


def test_met_targets_get_no_paragraph(misses) -> None:
    text = misses.render_misses(_results(marts_at=10.0, fifty=90.0, last_day=8.0, events_per_s=30_000,
                                         paced_p99=400.0))
    assert "pandas ≤" not in text and "scale 50" not in text and "last day" not in text
    assert "stream ≥" not in text and "p99 POST" not in text
    assert "/ DuckDB same-job" not in text  # 10 s / 15 s
    assert "/ PySpark ≤ 0.2× (0.11×)" not in text


def test_nothing_measured_renders_nothing(misses) -> None:
    assert misses.render_misses({"batch": []}) == ""
