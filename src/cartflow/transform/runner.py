"""Run the SQLMesh project (silver + gold) against the warehouse, and read its results.

The pipeline calls :func:`transform` once per run, after it has written the bronze
Parquet files and the pending-batch list. The SQLMesh config is built here in Python
(no yaml next to the models) so the warehouse and the lake variables come from
``cartflow.toml`` through the caller; the gateway comes from the `Warehouse`
(transform/warehouse.py), so DuckDB commands never load the Spark one. The cartflow
project's own models/, audits/ and tests/ load beside the built-in ones
(transform/project.py).
"""

from __future__ import annotations

import glob
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartflow.transform.entity_defaults import ENTITY_DEFAULTS
from cartflow.transform.fingerprint import deployed_fingerprint, project_fingerprint, record_deployed
from cartflow.transform.ledger import BatchReconciliation, ReconciliationError, assert_reconciled
from cartflow.transform.ledger import reconcile as reconcile_batches
from cartflow.transform.project import (
    ProjectModelError,
    assemble,
    check_project_models,
    fed_models,
    project_files,
    real_paths,
    short,
)
from cartflow.transform.project import published_models as tagged_models
from cartflow.transform.project import select as select_models
from cartflow.transform.warehouse import DuckDBWarehouse, Warehouse

if TYPE_CHECKING:  # SQLMesh loads (~2 s) only where a context opens: deciding "nothing new" needs none of it
    import duckdb
    import pyarrow as pa

    from cartflow.transform._console import CapturingConsole

PROJECT_DIR = Path(__file__).resolve().parent
"""The SQLMesh project: models/, audits/, macros/, tests/."""

DEFAULT_VARIABLES: dict[str, Any] = {
    "order_date_format": "%-m/%-d/%Y %-H:%M",
    "currency": "GBP",
    **ENTITY_DEFAULTS,  # the multi-source entities read empty files unless the pipeline says otherwise
}
REQUIRED_VARIABLES = ("bronze_order_lines", "pending_order_lines")

Progress = Callable[[str], None]


class TransformError(RuntimeError):
    """A SQLMesh plan or run failed; the message names the model(s) and SQLMesh's error."""

    def __init__(self, message: str, failed_models: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.failed_models = failed_models or {}


@dataclass(frozen=True)
class TransformSettings:
    warehouse: Path
    """The DuckDB file SQLMesh's plan marker sits beside: the warehouse itself (DuckDB, which
    also holds SQLMesh's state), or a Spark project's views over what it published."""
    variables: dict[str, Any]  # bronze_order_lines, pending_order_lines, order_date_format, currency
    engine: Warehouse | None = None
    """The warehouse (`transform.warehouse.open_warehouse`); None: DuckDB at `warehouse`."""
    connection_setup: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    """Run on every DuckDB connection that reads the lake: httpfs + the S3 secret for an s3:// lake."""
    duckdb_config: dict[str, str] = field(default_factory=dict)
    """DuckDB settings for the warehouse connection when `engine` is None, e.g. {"memory_limit": "2GB"}."""
    project_dir: Path | None = None
    """The cartflow project: its models/, audits/ and tests/ load beside the built-in ones."""
    entities: tuple[str, ...] | None = None
    """Entities with input in this run; models only other entities feed are not evaluated. None: all."""

    @property
    def db(self) -> Warehouse:
        """The warehouse these settings run on."""
        return self.engine or DuckDBWarehouse(self.warehouse, self.connection_setup, self.duckdb_config)


@dataclass(frozen=True)
class TransformResult:
    status: Any  # sqlmesh.utils.CompletionStatus of the run
    plan_seconds: float
    run_seconds: float
    total_seconds: float
    model_seconds: dict[str, float] = field(default_factory=dict)
    """Evaluation time per model during plan backfill and run (summed)."""
    planned: bool = True
    """False when the project was unchanged since the last applied plan and planning was skipped."""
    rebuilt_models: tuple[str, ...] = ()
    """Incremental models that this plan gave a new physical table (a breaking change).

    Such a table starts empty and only receives the batches pending in this run: the
    caller must replay every bronze batch (pending = all batch ids) to restore history.
    """
    evaluated: tuple[str, ...] | None = None
    """The models this run evaluated ('schema.name'), when not all of them (sources, --select)."""


@dataclass(frozen=True)
class TableName:
    model: str  # e.g. "gold.mart_revenue_daily"
    virtual: str  # the view readers use, e.g. '"warehouse"."gold"."mart_revenue_daily"'
    physical: str  # the versioned table behind it


def variables_for(settings: TransformSettings) -> dict[str, Any]:
    """The SQLMesh variables: defaults overlaid by the settings, required ones checked."""
    variables = {**DEFAULT_VARIABLES, **settings.variables}
    missing = [name for name in REQUIRED_VARIABLES if not variables.get(name)]
    if missing:
        raise TransformError(f"transform variables missing: {', '.join(missing)}")
    return {key: str(value) if isinstance(value, Path) else value for key, value in variables.items()}


def build_config(settings: TransformSettings) -> Any:
    """The SQLMesh Config: the warehouse's gateway, the model defaults, the variables.

    cron '@daily' with allow_partials: every ``run(ignore_cron=True)`` finds a missing
    partial interval (the last one ends at "now", which is later than the end recorded
    by the previous run), so incremental and FULL models are evaluated on every
    pipeline run, which is what reading the pending batches requires; two runs a
    second apart both evaluate everything (tested). interval_unit is 'day', not
    'five_minute': SQLMesh expands every interval since `start` in Python on each plan
    and run, and 16 years of five-minute intervals (1.7 M) cost ~60 s per call against
    ~0.1 s for days. Unique-key models ignore the interval bounds, so the unit changes
    nothing else. On DuckDB, SQLMesh state lives in the warehouse file itself.
    """
    from sqlmesh.core.config import Config, ModelDefaultsConfig

    warehouse = Path(settings.warehouse).resolve()
    name, gateway = settings.db.gateway()
    return Config(
        gateways={name: gateway},
        default_gateway=name,
        model_defaults=ModelDefaultsConfig(
            dialect="duckdb",
            start="2010-01-01",
            cron="@daily",
            interval_unit="day",
            allow_partials=True,
        ),
        variables=variables_for(settings),
        disable_anonymized_analytics=True,
        # Keep SQLMesh's parse cache out of the source tree (it may be read-only).
        cache_dir=str(warehouse.parent / f".{warehouse.name}.sqlmesh-cache"),
    )


def project_root(settings: TransformSettings) -> Path:
    """The SQLMesh project to load: the built-in one, or it assembled with the cartflow project's files."""
    if settings.project_dir is None:
        return PROJECT_DIR
    warehouse = Path(settings.warehouse).resolve()
    return assemble(PROJECT_DIR, settings.project_dir, warehouse.parent / f".{warehouse.name}.sqlmesh-project")


@contextmanager
def open_context(settings: TransformSettings, console: Any | None = None) -> Iterator[Any]:
    """A loaded SQLMesh Context on the warehouse; its connection is closed on exit.

    Raises TransformError naming the file (and line) of a project model that does not
    parse or reads a model that does not exist, before anything is written.
    """
    from sqlmesh import Context
    from sqlmesh.core.console import get_console, set_console
    from sqlmesh.utils.errors import ConfigError

    from cartflow.transform._console import CapturingConsole

    Path(settings.warehouse).parent.mkdir(parents=True, exist_ok=True)
    previous = get_console()
    set_console(console or CapturingConsole())
    try:
        root = project_root(settings)
        try:
            context = Context(paths=root, config=build_config(settings))
            check_project_models(context, settings.project_dir)
        except (ConfigError, ProjectModelError) as error:
            message = real_paths(str(error), root if root != PROJECT_DIR else None)
            raise TransformError(f"the project's models cannot load: {message}") from error
        try:
            yield context
        finally:
            context.close()
    finally:
        set_console(previous)


def transform(settings: TransformSettings, progress: Progress | None = None, *,
              select: Iterable[str] = (), full_refresh: bool = False) -> TransformResult:
    """Deploy model changes (plan, auto-applied) and run the models over the pending batches.

    Only the models an entity of `settings.entities` feeds are evaluated, and of those only
    the `select`ed ones (`model+`: and what is downstream). `full_refresh` rebuilds them
    (a SQLMesh restatement: unique-key tables are cleared and refilled from the pending
    batches, so the caller makes every batch pending).

    Raises TransformError naming the failed model(s) and SQLMesh's error, including a
    failed blocking audit (e.g. reconciliation_holds).
    """
    from cartflow.transform._console import CapturingConsole

    say = progress or (lambda _message: None)
    console = CapturingConsole(progress=say)
    started = time.perf_counter()
    _check_bronze(settings)
    with open_context(settings, console) as context:
        rebuilt, planned = _deploy(settings, context, console, say)
        chosen = _chosen(settings, context, select)
        names = sorted(short(fqn) for fqn in chosen) if chosen is not None else None
        planned_at = time.perf_counter()
        if names is not None:
            say(f"transform: evaluating {len(names)} of {len(context.models)} models")
        try:
            if full_refresh:
                say("transform: full refresh (restating " + (", ".join(names) if names else "every model") + ")")
                context.plan(auto_apply=True, no_prompts=True, skip_tests=True,
                             restate_models=names or [short(fqn) for fqn in context.models])
                from sqlmesh.utils import CompletionStatus

                status = CompletionStatus.SUCCESS
            else:
                say("transform: running")
                status = context.run(ignore_cron=True, select_models=names, no_auto_upstream=names is not None)
        except Exception as error:  # noqa: BLE001
            raise _error("run", console, error) from error
        if status.is_failure:
            raise _error("run", console, None)
        _record_published(settings, tagged_models(context, settings.project_dir))
        finished = time.perf_counter()
    say(f"transform: {status.value} in {finished - started:.1f}s")
    return TransformResult(
        status=status,
        plan_seconds=planned_at - started,
        run_seconds=finished - planned_at,
        total_seconds=finished - started,
        model_seconds=dict(console.model_seconds),
        planned=planned,
        rebuilt_models=rebuilt,
        evaluated=tuple(names) if names is not None else None,
    )


def _fingerprint(settings: TransformSettings) -> tuple[str, Path]:
    fingerprint = project_fingerprint(PROJECT_DIR, variables_for(settings), settings.db.engine,
                                      project_files(settings.project_dir))
    return fingerprint, Path(settings.warehouse).with_name(f".{Path(settings.warehouse).name}.plan-fingerprint")


def models_changed(settings: TransformSettings) -> bool:
    """True when the models (built-in or the project's) changed since the last applied plan.

    Cheap (no SQLMesh load): a run without new batches still deploys and evaluates a new
    or edited project model when this says so.
    """
    fingerprint, marker = _fingerprint(settings)
    try:
        recorded = marker.read_text().split()[1]
    except (OSError, IndexError):
        return True
    return recorded != fingerprint or not published_record(settings).exists()


def _deploy(settings: TransformSettings, context: Any, console: CapturingConsole,
            say: Progress) -> tuple[tuple[str, ...], bool]:
    """Apply a plan when the project changed since the last one; return (rebuilt models, planned)."""
    fingerprint, marker = _fingerprint(settings)
    if deployed_fingerprint(context, marker) == fingerprint:
        say("transform: models unchanged since the last plan, planning skipped")
        return (), False
    say("transform: planning")
    before = _incremental_versions(context)
    try:
        # empty_backfill: the plan creates tables and views and records their
        # intervals without computing them; the run right after evaluates every
        # model once anyway (see build_config), so a deploy costs one evaluation,
        # not two. Unit tests run in `cartflow test`, not on every pipeline run.
        context.plan(auto_apply=True, no_prompts=True, skip_tests=True, empty_backfill=True)
    except Exception as error:  # noqa: BLE001 - re-raised with the model named
        raise _error("plan", console, error) from error
    after = _incremental_versions(context)
    # a changed incremental model gets a new, empty table; so does a new one once others exist
    rebuilt = tuple(sorted(name for name, version in after.items()
                           if before and before.get(name) != version))
    record_deployed(context, marker, fingerprint)
    if rebuilt:
        say(f"transform: new table versions for {', '.join(rebuilt)}: replay all batches to restore history")
    return rebuilt, True


def _chosen(settings: TransformSettings, context: Any, select: Iterable[str]) -> set[str] | None:
    """fqns to evaluate, or None for every model."""
    fed = fed_models(context, settings.entities)
    selections = list(select)
    if selections:
        try:
            picked = select_models(context, selections)
        except ProjectModelError as error:
            raise TransformError(str(error)) from error
        fed = picked if fed is None else picked & fed
    if fed is not None and len(fed) == len(context.models):
        return None
    return fed


def _incremental_versions(context: Any) -> dict[str, str]:
    """Physical version per deployed incremental model (empty before the first plan)."""
    from cartflow.transform._console import model_name

    environment = context.state_reader.get_environment("prod")
    if environment is None:
        return {}
    return {
        model_name(snapshot.name): snapshot.version
        for snapshot in environment.snapshots
        if snapshot.kind_name is not None and snapshot.kind_name.is_incremental
    }


def _check_bronze(settings: TransformSettings) -> None:
    """Fail early and clearly when the inputs the views read are missing.

    Without this, DuckDB reports "No files found that match the pattern" from inside a
    view creation, several frames deep in SQLMesh.
    """
    variables = variables_for(settings)
    for name in REQUIRED_VARIABLES:
        location = str(variables[name])
        if "://" in location:
            continue  # remote lakes are checked by the engine
        if not glob.glob(location):
            raise TransformError(f"transform input {name} matches no file: {location}")


def _error(stage: str, console: CapturingConsole, error: BaseException | None) -> TransformError:
    failed = dict(console.failed_models)
    if failed:
        details = "\n".join(f"model {model}: {message}" for model, message in failed.items())
        return TransformError(f"SQLMesh {stage} failed:\n{details}", failed)
    return TransformError(f"SQLMesh {stage} failed: {error or 'see SQLMesh log'}")


def published_record(settings: TransformSettings) -> Path:
    """Where the last transform wrote the list of models to publish (read by publish)."""
    return Path(settings.warehouse).with_name(f".{Path(settings.warehouse).name}.published.json")


def _record_published(settings: TransformSettings, models: list[str]) -> None:
    path = published_record(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"published": models}, indent=2))
    tmp.replace(path)


def published_models(settings: TransformSettings) -> list[str]:
    """'schema.table' of the models to publish, as the loaded SQLMesh project tags them.

    Written by every `transform` from its loaded context (so it is the project that was
    just run); read from the project itself when no transform ran here yet.
    """
    try:
        return list(json.loads(published_record(settings).read_text())["published"])
    except (OSError, ValueError, KeyError):
        with open_context(settings) as context:
            return tagged_models(context, settings.project_dir)


def table_names(settings: TransformSettings, models: Iterable[str] | None = None) -> list[TableName]:
    """Fully qualified virtual (view) and physical names of deployed models (default: the published gold ones).

    Read from the prod environment in SQLMesh state, so they are the tables the last
    applied plan built, not what the model files on disk would build.
    """
    with open_context(settings) as context:
        wanted = list(models) if models is not None else [
            m for m in tagged_models(context, settings.project_dir) if m.startswith("gold.")]
        environment = context.state_reader.get_environment("prod")
        if environment is None:
            raise TransformError(f"no deployed SQLMesh environment in {settings.warehouse}: run transform first")
        catalog = context.default_catalog
        by_name = {snapshot.name: snapshot for snapshot in environment.snapshots}
        names = []
        for model in wanted:
            key = _qualify(model, catalog)
            snapshot = by_name.get(key)
            if snapshot is None:
                raise TransformError(f"model {model} is not deployed in {settings.warehouse}")
            names.append(TableName(model=model, virtual=key, physical=_quote(snapshot.table_name())))
        return names


def _qualify(model: str, catalog: str | None) -> str:
    parts = [catalog, *model.split(".")] if catalog else model.split(".")
    return ".".join(f'"{part}"' for part in parts)


def _quote(name: str) -> str:
    if name.startswith('"'):
        return name
    return ".".join(f'"{part}"' for part in name.split("."))


def read_table(settings: TransformSettings, name: str) -> pa.Table:
    """Read a warehouse table or view (e.g. 'gold.mart_revenue_daily') into Arrow, read-only."""
    return settings.db.read_table(name)


def reconcile(settings: TransformSettings, batch_ids: Iterable[str],
              entity: str = "order_lines") -> list[BatchReconciliation]:
    """Per batch of `entity`: rows in its bronze Parquet vs rows in silver + quarantine."""
    return reconcile_pending(settings, {entity: batch_ids})


def reconcile_pending(settings: TransformSettings, pending: Mapping[str, Iterable[str]]) -> list[BatchReconciliation]:
    """Per entity and batch (`pending`: entity -> batch ids), bronze = silver + quarantine (transform.ledger)."""
    variables = variables_for(settings)
    wanted = {entity: list(ids) for entity, ids in pending.items()}
    bronze = {entity: str(variables[f"bronze_{entity}"]) for entity in wanted}
    return reconcile_batches(settings.db, bronze, wanted, settings.connection_setup)


__all__ = ["BatchReconciliation", "ReconciliationError", "TransformError", "TransformResult", "TransformSettings",
           "TableName", "assert_reconciled", "open_context", "published_models", "read_table", "reconcile", "reconcile_pending",
           "table_names", "transform"]
