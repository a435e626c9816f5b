"""SQLMesh on Spark with plain Parquet tables: unique-key merges and self-reads by overwrite.

Why: SQLMesh's Spark adapter merges with `MERGE INTO`, which Spark runs only on Delta or
Iceberg tables, and Spark refuses an `INSERT OVERWRITE` whose query reads the target
(our SCD2 dimensions read their own history). Delta/Iceberg need jars that a plain
`pyspark` install does not have, so on plain Parquet tables this adapter:

* merges by key into a staging table (new rows, one per key, plus the old rows whose key
  is not among them) and then overwrites the target from it;
* snapshots the target into a staging table first whenever an overwrite reads it.

The cost is one extra copy of the merged table per run. With Delta (Databricks) or
Iceberg tables the stock adapter's native MERGE would avoid it; the results are the same.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlmesh.core.config import SparkConnectionConfig
from sqlmesh.core.engine_adapter.shared import InsertOverwriteStrategy, SourceQuery
from sqlmesh.core.engine_adapter.spark import SparkEngineAdapter
from sqlmesh.utils.errors import SQLMeshError

_RANK = "_cartflow_merge_rank"


def _same_table(a: exp.Table, b: exp.Table) -> bool:
    """Same db and name; the catalog is ignored (SQLMesh adds `spark_catalog` on one side only)."""
    return a.name.lower() == b.name.lower() and (a.db or "").lower() == (b.db or "").lower()


class ParquetSparkEngineAdapter(SparkEngineAdapter):
    """`SparkEngineAdapter` that never asks Spark for MERGE or for overwriting a table it reads."""

    def _insert_overwrite_by_condition(
        self,
        table_name: t.Any,
        source_queries: list[SourceQuery],
        target_columns_to_types: dict[str, exp.DataType] | None = None,
        where: exp.Condition | None = None,
        insert_overwrite_strategy_override: InsertOverwriteStrategy | None = None,
        **kwargs: t.Any,
    ) -> None:
        target = exp.to_table(table_name)
        if not any(self._reads(q, target) for q in source_queries) or not self.table_exists(target):
            return super()._insert_overwrite_by_condition(
                target, source_queries, target_columns_to_types, where, insert_overwrite_strategy_override, **kwargs)
        columns = target_columns_to_types or self.columns(target)
        with self.temp_table(exp.select(*columns).from_(target), name=target,
                             target_columns_to_types=columns) as snapshot:
            for q in source_queries:
                q.add_transform(lambda node: _swap(node, target, snapshot))  # type: ignore[arg-type, return-value]
            return super()._insert_overwrite_by_condition(
                target, source_queries, columns, where, insert_overwrite_strategy_override, **kwargs)

    @staticmethod
    def _reads(source_query: SourceQuery, target: exp.Table) -> bool:
        query = source_query.query_factory()
        return any(_same_table(table, target) for table in query.find_all(exp.Table))

    def merge(
        self,
        target_table: t.Any,
        source_table: t.Any,
        target_columns_to_types: dict[str, exp.DataType] | None,
        unique_key: t.Sequence[exp.Expr],
        when_matched: exp.Whens | None = None,
        merge_filter: exp.Expr | None = None,
        source_columns: list[str] | None = None,
        **kwargs: t.Any,
    ) -> None:
        if when_matched or merge_filter:
            raise SQLMeshError("Spark on plain Parquet tables supports unique-key merges without "
                               "`when_matched`/`merge_filter`; use Delta or Iceberg tables for those")
        target = exp.to_table(target_table)
        columns = target_columns_to_types or self.columns(target)
        names = list(columns)
        with self.temp_table(source_table, name=target, target_columns_to_types=columns,
                             source_columns=source_columns) as new:
            keys_new = [_qualify(k, "n") for k in unique_key]
            keys_old = [_qualify(k, "o") for k in unique_key]
            ranked = (exp.select(*names, exp.Window(
                this=exp.RowNumber(), partition_by=[k.copy() for k in unique_key],
                order=exp.Order(expressions=[exp.Ordered(this=k.copy()) for k in unique_key]))
                                 .as_(_RANK)).from_(new))
            fresh = exp.select(*names).from_(ranked.subquery("r")).where(exp.column(_RANK).eq(1))
            match = exp.and_(*[a.eq(b) for a, b in zip(keys_new, keys_old, strict=False)])
            kept = (exp.select(*[exp.column(c, table="o") for c in names]).from_(target.copy().as_("o"))
                    .where(exp.Not(this=exp.Exists(this=exp.select("1").from_(new.copy().as_("n")).where(match)))))
            with self.temp_table(exp.union(fresh, kept, distinct=False), name=target,
                                 target_columns_to_types=columns) as merged:
                super()._insert_overwrite_by_condition(
                    target, [SourceQuery(lambda: exp.select(*names).from_(merged))], columns)


def _swap(node: exp.Expr, target: exp.Table, replacement: exp.Table) -> exp.Expr:
    """`target` (keeping its alias, so `existing.col` still resolves) → `replacement`."""
    if not (isinstance(node, exp.Table) and _same_table(node, target)):
        return node
    swapped = replacement.copy()
    if node.args.get("alias"):
        swapped.set("alias", node.args["alias"].copy())
    return swapped


def _qualify(key: exp.Expr, alias: str) -> exp.Expr:
    return key.copy().transform(
        lambda node: exp.column(node.name, table=alias) if isinstance(node, exp.Column) else node)


class ParquetSparkConnectionConfig(SparkConnectionConfig):
    """`SparkConnectionConfig` that builds `ParquetSparkEngineAdapter`."""

    @property
    def _engine_adapter(self) -> type[SparkEngineAdapter]:
        return ParquetSparkEngineAdapter
