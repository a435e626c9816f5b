"""DDL for query engines over the published Parquet: Athena (Hive DDL) and Trino (Hive connector).

Types come from the Parquet files themselves (as DuckDB reads them back), so the DDL
matches what Athena/Trino will find in the footer. DECIMAL stays DECIMAL(p,s): money
must never turn into a float on the way to a dashboard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Union

Dialect = Literal["athena", "trino"]
DIALECTS: tuple[str, ...] = ("athena", "trino")


class DdlError(Exception):
    """A table cannot be declared for this engine; the message says what to change."""


# -- DuckDB type strings → a small type tree -------------------------------------
@dataclass(frozen=True)
class Scalar:
    name: str  # DuckDB name, upper case, without parameters
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Array:
    item: Type


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, Type], ...]


@dataclass(frozen=True)
class Map:
    key: Type
    value: Type


Type = Union[Scalar, Array, Struct, Map]


def parse_type(text: str) -> Type:
    """`DECIMAL(18,2)`, `VARCHAR[]`, `STRUCT(a INTEGER, "b c" VARCHAR)`, `MAP(VARCHAR, BIGINT)`."""
    t = text.strip()
    if t.endswith("]"):
        return Array(parse_type(t[: t.rindex("[")]))
    upper = t.upper()
    if upper.startswith("STRUCT(") and t.endswith(")"):
        fields = []
        for part in _split_top(t[7:-1]):
            name, rest = _split_name(part.strip())
            fields.append((name, parse_type(rest)))
        return Struct(tuple(fields))
    if upper.startswith("MAP(") and t.endswith(")"):
        key, value = _split_top(t[4:-1])
        return Map(parse_type(key), parse_type(value))
    m = re.fullmatch(r"(DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", upper)
    if m:
        return Scalar("DECIMAL", int(m.group(2)), int(m.group(3)))
    return Scalar(re.sub(r"\(.*\)$", "", upper).strip())


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _split_name(text: str) -> tuple[str, str]:
    if text.startswith('"'):
        end = text.index('"', 1)
        while end + 1 < len(text) and text[end + 1] == '"':  # "" escapes a quote
            end = text.index('"', end + 2)
        return text[1:end].replace('""', '"'), text[end + 1:]
    name, _, rest = text.partition(" ")
    return name, rest


# -- rendering --------------------------------------------------------------------
_SCALARS: dict[str, tuple[str, str]] = {  # DuckDB → (Athena/Hive, Trino)
    "VARCHAR": ("string", "varchar"), "UUID": ("string", "varchar"), "JSON": ("string", "varchar"),
    "BOOLEAN": ("boolean", "boolean"),
    "TINYINT": ("tinyint", "tinyint"), "SMALLINT": ("smallint", "smallint"),
    "INTEGER": ("int", "integer"), "BIGINT": ("bigint", "bigint"),
    "UTINYINT": ("smallint", "smallint"), "USMALLINT": ("int", "integer"), "UINTEGER": ("bigint", "bigint"),
    "UBIGINT": ("decimal(20,0)", "decimal(20,0)"), "HUGEINT": ("decimal(38,0)", "decimal(38,0)"),
    "FLOAT": ("float", "real"), "DOUBLE": ("double", "double"),
    "DATE": ("date", "date"),
    "TIMESTAMP": ("timestamp", "timestamp"), "TIMESTAMP_MS": ("timestamp", "timestamp"),
    "TIMESTAMP_NS": ("timestamp", "timestamp"), "TIMESTAMP_S": ("timestamp", "timestamp"),
    "TIMESTAMP WITH TIME ZONE": ("timestamp", "timestamp"),
    "BLOB": ("binary", "varbinary"),
}


def render_type(t: Type, dialect: Dialect) -> str:
    hive = dialect == "athena"
    if isinstance(t, Array):
        inner = render_type(t.item, dialect)
        return f"array<{inner}>" if hive else f"array({inner})"
    if isinstance(t, Map):
        k, v = render_type(t.key, dialect), render_type(t.value, dialect)
        return f"map<{k},{v}>" if hive else f"map({k}, {v})"
    if isinstance(t, Struct):
        if hive:
            return "struct<" + ",".join(f"{n}:{render_type(ft, dialect)}" for n, ft in t.fields) + ">"
        return "row(" + ", ".join(f"{_quote(n, dialect)} {render_type(ft, dialect)}" for n, ft in t.fields) + ")"
    if t.name == "DECIMAL":
        return f"decimal({t.precision},{t.scale})"
    try:
        return _SCALARS[t.name][0 if hive else 1]
    except KeyError:
        raise DdlError(f"type {t.name} has no {dialect} equivalent: cast the column in its model "
                       "(for example to VARCHAR or DOUBLE) and publish again") from None


def _quote(name: str, dialect: Dialect) -> str:
    if dialect == "athena":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def create_table(name: str, columns: list[tuple[str, str]], location: str, dialect: Dialect,
                 database: str, catalog: str = "hive") -> str:
    """One `CREATE EXTERNAL TABLE` (Athena) or `CREATE TABLE … WITH (external_location)` (Trino)."""
    location = location.rstrip("/") + "/"
    if dialect == "athena" and not location.startswith("s3://"):
        raise DdlError(f"Athena reads only S3, and {name} is at {location}: set [lake] root to an s3:// URI, "
                       "or pass --location s3://bucket/prefix where this lake is copied")
    cols = ",\n".join(f"  {_quote(c, dialect)} {render_type(parse_type(t), dialect)}" for c, t in columns)
    if dialect == "athena":
        return (f"CREATE EXTERNAL TABLE IF NOT EXISTS {_quote(database, dialect)}.{_quote(name, dialect)} (\n"
                f"{cols}\n)\nSTORED AS PARQUET\nLOCATION '{_sql_str(location)}'\n"
                "TBLPROPERTIES ('parquet.compression' = 'ZSTD');")
    target = ".".join(_quote(p, dialect) for p in (catalog, database, name))
    return (f"CREATE TABLE IF NOT EXISTS {target} (\n{cols}\n)\n"
            f"WITH (\n  format = 'PARQUET',\n  external_location = '{_sql_str(location)}'\n);")


def create_schema(database: str, dialect: Dialect, catalog: str = "hive") -> str:
    if dialect == "athena":
        return f"CREATE DATABASE IF NOT EXISTS {_quote(database, dialect)};"
    return f"CREATE SCHEMA IF NOT EXISTS {_quote(catalog, dialect)}.{_quote(database, dialect)};"


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
