"""SQLMesh on DuckDB with a cheaper unique-key merge.

Why: SQLMesh merges an INCREMENTAL_BY_UNIQUE_KEY model on DuckDB by copying the new rows
into a temporary table, deleting target rows whose `CONCAT_WS(key columns)` is among
them, and inserting `SELECT DISTINCT ON (key) *` from the copy. On a 5.3 M-line first
load of `gold.fct_order_line` the temporary copy and the `DISTINCT ON` (a hash aggregate
over every column) cost more than writing the table itself. This adapter keeps the
semantics (one row per key, new rows replace old ones, all in one transaction) and:

* into an empty target, inserts the query's rows directly (no temporary copy);
* otherwise deletes the replaced rows with a join on the key columns, not a string
  concatenation;
* removes duplicate keys only when a count says there are any (our models' grains are
  unique by construction, and audited).

Measured on the scale-1 first load of `gold.fct_order_line`: 3.2 s → 1.7 s; the
scale-10 figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlmesh.core.engine_adapter.duckdb import DuckDBEngineAdapter


class MergingDuckDBEngineAdapter(DuckDBEngineAdapter):
    """`DuckDBEngineAdapter` whose `_replace_by_key` skips the copy and the DISTINCT ON when it can."""

    def _replace_by_key(
        self,
        target_table: t.Any,
        source_table: t.Any,
        target_columns_to_types: dict[str, exp.DataType] | None,
        key: t.Sequence[exp.Expr],
        is_unique_key: bool,
        source_columns: list[str] | None = None,
    ) -> None:
        if not all(isinstance(part, exp.Column) for part in key):
            # an expression key (e.g. a partition transform): SQLMesh's own way
            return super()._replace_by_key(target_table, source_table, target_columns_to_types, key,
                                           is_unique_key, source_columns)
        if target_columns_to_types is None:
            target_columns_to_types = self.columns(target_table)
        columns = [part.name for part in key]
        with self.transaction():
            if self._is_empty(target_table):
                self.insert_append(target_table, source_table, target_columns_to_types=target_columns_to_types,
                                   source_columns=source_columns)
                if is_unique_key:
                    self._drop_duplicate_keys(target_table, columns)
                return
            temp_table = self._get_temp_table(target_table)
            self.ctas(temp_table, source_table, target_columns_to_types=target_columns_to_types,
                      exists=False, source_columns=source_columns)
            try:
                if is_unique_key:
                    self._drop_duplicate_keys(temp_table, columns)
                target = exp.to_table(target_table).sql(dialect=self.dialect)
                temp = exp.to_table(temp_table).sql(dialect=self.dialect)
                match = " AND ".join(
                    f"{target}.{_q(c)} IS NOT DISTINCT FROM {temp}.{_q(c)}" for c in columns)
                self.execute(f"DELETE FROM {target} USING {temp} WHERE {match}")
                names = ", ".join(_q(c) for c in target_columns_to_types)
                self.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {temp}", track_rows_processed=True)
            finally:
                self.drop_table(temp_table)

    def _is_empty(self, table: t.Any) -> bool:
        name = exp.to_table(table).sql(dialect=self.dialect)
        return self.fetchone(f"SELECT NOT EXISTS (SELECT 1 FROM {name})")[0]  # type: ignore[index]  # an aggregate returns one row

    def _drop_duplicate_keys(self, table: t.Any, columns: list[str]) -> None:
        """Keep one row per key (the first inserted), as SQLMesh's DISTINCT ON keeps an arbitrary one."""
        name = exp.to_table(table).sql(dialect=self.dialect)
        keys = ", ".join(_q(c) for c in columns)
        rows, distinct = self.fetchone(f"SELECT COUNT(*), COUNT(DISTINCT ({keys})) FROM {name}")  # type: ignore[misc]  # an aggregate returns one row
        if rows == distinct:
            return
        self.execute(f"DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER "
                     f"(PARTITION BY {keys} ORDER BY rowid) AS copy FROM {name}) WHERE copy > 1)")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
