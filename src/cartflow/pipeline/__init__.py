"""The orchestration: one run from extract to publish, and the operations around runs.

* `run`: `run_pipeline(project)`, one whole run under the project lock; `lifecycle`: every way a
  run starts goes through it (`RunResult`); `standardize`: raw to bronze to the transform;
* `backfill`: restating a date range; `quality`: quarantine share, freshness
  and reconciliation checks; `alerts`: alert delivery;
* `schedule` and `watch`: runs by cron and by arriving files; `project_lock`: the run lock of a project;
* `dlq` (with `dlq_providers`): the dead-letter queues (quarantine, stream, files): list and replay.

Nothing below this package imports it. Import modules explicitly
(``from cartflow.pipeline.run import run_pipeline``): a run loads SQLMesh, a light process must not.
"""

__all__ = ["alerts", "backfill", "dlq", "dlq_providers", "lifecycle", "project_lock", "quality", "run",
           "schedule", "standardize", "watch"]
