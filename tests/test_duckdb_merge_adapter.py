"""Our DuckDB adapter's unique-key merge keeps SQLMesh's semantics: one row per key, new rows win."""

import duckdb
import pytest
from sqlglot import exp, parse_one

from cartflow.transform.duckdb_adapter import MergingDuckDBEngineAdapter

COLUMNS = {"k1": exp.DataType.build("varchar"), "k2": exp.DataType.build("int"), "v": exp.DataType.build("varchar")}
KEY = [exp.column("k1"), exp.column("k2")]


@pytest.fixture()
def adapter():
    connection = duckdb.connect()
    adapter = MergingDuckDBEngineAdapter(lambda: connection, dialect="duckdb")
    adapter.execute("CREATE TABLE target (k1 VARCHAR, k2 INT, v VARCHAR)")
    yield adapter
    connection.close()


def rows(adapter) -> list[tuple]:
    return adapter.fetchall("SELECT k1, k2, v FROM target ORDER BY k1, k2, v")


def merge(adapter, values: str, unique: bool = True) -> None:
    query = parse_one(f"SELECT * FROM (VALUES {values}) AS s(k1, k2, v)", dialect="duckdb")
    adapter._replace_by_key("target", query, COLUMNS, KEY, is_unique_key=unique)


def test_first_load_into_an_empty_table_keeps_one_row_per_key(adapter) -> None:
    merge(adapter, "('a', 1, 'x'), ('a', 1, 'x'), ('a', 2, 'y'), ('b', 1, 'z')")
    assert rows(adapter) == [("a", 1, "x"), ("a", 2, "y"), ("b", 1, "z")]


def test_new_rows_replace_old_ones_by_key_and_leave_the_rest(adapter) -> None:
    merge(adapter, "('a', 1, 'old'), ('a', 2, 'keep'), (NULL, 3, 'old-null')")
    merge(adapter, "('a', 1, 'new'), ('c', 1, 'added'), ('c', 1, 'added'), (NULL, 3, 'new-null')")
    assert rows(adapter) == [("a", 1, "new"), ("a", 2, "keep"), ("c", 1, "added"), (None, 3, "new-null")]


def test_replaying_the_same_rows_changes_nothing(adapter) -> None:
    merge(adapter, "('a', 1, 'x'), ('b', 2, 'y')")
    before = rows(adapter)
    merge(adapter, "('a', 1, 'x'), ('b', 2, 'y')")
    assert rows(adapter) == before


def test_a_non_unique_key_replaces_whole_partitions(adapter) -> None:
    merge(adapter, "('a', 1, 'x'), ('a', 1, 'y')", unique=False)
    merge(adapter, "('a', 1, 'z')", unique=False)
    assert rows(adapter) == [("a", 1, "z")]
