"""Raw → bronze: one converter for every entity and every raw format; the only parser of sources.

Bronze is one Parquet file per batch: the entity's bronze columns (`Entity.bronze_columns`
from `cartflow.entities`) as text, whatever the source called them, then the lineage
columns `_source, _batch_id, _source_file, _source_row, _ingested_at, _error`. The
formats: CSV, a JSON document (an array, records at `records_path`, or a Frankfurter
rates page), NDJSON (file drops and the stream's batches), and Parquet (PostgreSQL
extracts). Column names resolve through the source's `[sources.<name>.columns]` mapping,
then the contract's accepted spellings (`cartflow.lake.bronze_columns`).

Nothing is dropped here: a CSV row the parser cannot split, or a record that is not a
JSON object, is kept with empty fields and `_error` set, for silver to quarantine as
`malformed_row`/`malformed_record`. Values are never reinterpreted: JSON numbers keep
their text exactly as received (`1241.0099999999998` stays that), blanks stay blank.
The two exceptions are declared per source: `fill_down` (order-level fields a Shopify
export writes on an order's first line only) and, for the stream, ISO dates rendered
in its date format until silver reads ISO 8601 itself.

The same converter serves DuckDB and Spark projects: bronze is Parquet either way.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from cartflow.config import FilesSource, HttpSource, PostgresSource, StreamSection
from cartflow.entities import LINEAGE_COLUMNS, ColumnType, entity
from cartflow.lake.bronze_columns import BronzeError, ColumnMap, FillDown, extra_warning, render_iso_dates
from cartflow.lake.bronze_readers import Reader, ReadOptions
from cartflow.lake.storage import Storage

__all__ = ["BronzeError", "BronzeResult", "Layout", "bronze_key", "bronze_schema", "convert", "layout_for", "probe",
           "to_bronze"]

_ARROW_TYPES: dict[str, pa.DataType] = {"string": pa.string(), "int64": pa.int64(), "timestamp": pa.timestamp("us")}
_TIME_TYPES: tuple[ColumnType, ...] = ("timestamp", "date")


@dataclass
class BronzeResult:
    key: str
    rows: int
    malformed_rows: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """How to read one raw batch: its format, where JSON records are, and the source's column rules."""

    format: Literal["csv", "json", "ndjson", "parquet"]
    records_path: str | None = None
    frankfurter: bool = False
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    columns: Mapping[str, str] = field(default_factory=dict)
    """canonical column -> the source's column or dotted JSON path (`[sources.<name>.columns]`)."""
    fill_down: tuple[str, ...] = ()
    fill_down_by: str | None = None
    render_dates: str | None = None
    """A date format: ISO 8601 values of the entity's timestamp columns are rewritten in it."""
    timezone: str = "UTC"
    """The shop's time zone: offsets are converted to it (rendered dates, timestamptz extracts)."""

    def read_options(self) -> ReadOptions:
        return ReadOptions(self.format, self.records_path, self.frankfurter, self.encoding, self.delimiter,
                           self.quote, self.timezone)


def layout_for(source: Any, raw_key: str, timezone: str = "UTC") -> Layout:
    """The layout of a raw batch, from its source's config and the raw file's extension."""
    if isinstance(source, StreamSection):
        # the stream's NDJSON: API field names (`InvoiceNo`...) match the spellings, plus event_id
        return Layout("ndjson", render_dates=source.invoice_date_format, timezone=timezone)
    if not isinstance(source, (FilesSource, HttpSource, PostgresSource)):
        raise BronzeError(f"no bronze layout for a {type(source).__name__} source ({raw_key})")
    rules: dict[str, Any] = {"columns": dict(source.columns), "fill_down": tuple(source.fill_down),
                             "fill_down_by": source.fill_down_key() if source.fill_down else None,
                             "timezone": timezone}
    if raw_key.endswith(".parquet"):
        return Layout("parquet", **rules)
    if isinstance(source, HttpSource):
        return Layout("json", source.records_path, source.layout == "frankfurter", **rules)
    if isinstance(source, FilesSource):
        csv = source.csv
        return Layout(source.format, source.records_path, False, csv.encoding, csv.delimiter, csv.quote, **rules)
    raise BronzeError(f"{raw_key}: a {source.kind} source lands Parquet extracts only")


def bronze_schema(entity_name: str) -> pa.Schema:
    """Bronze schema of an entity: its bronze columns as text, then the lineage columns."""
    text = [pa.field(c, pa.string()) for c in entity(entity_name).bronze_columns]
    return pa.schema(text + [pa.field(name, _ARROW_TYPES[kind]) for name, kind in LINEAGE_COLUMNS])


def bronze_key(entity_name: str, batch_id: str) -> str:
    return f"bronze/{entity_name}/{batch_id}.parquet"


def to_bronze(storage: Storage, raw_key: str, *, source: str, entity: str, batch_id: str, source_file: str,
              ingested_at: datetime, layout: Layout) -> BronzeResult:
    """Convert one raw batch into one bronze Parquet file of its entity (bounded memory for CSV,
    Parquet and NDJSON at any size; a JSON document is parsed whole)."""
    key = bronze_key(entity, batch_id)
    with storage.local_copy(raw_key) as raw_path, tempfile.TemporaryDirectory(prefix="cf-bronze-") as tmp:
        out = Path(tmp) / "part.parquet"
        result = convert(raw_path, out, source=source, entity=entity, batch_id=batch_id, source_file=source_file,
                         ingested_at=ingested_at, layout=layout)
        storage.write_file(key, out)
    result.key = key
    return result


def convert(raw_path: Path, out: Path, *, source: str, entity: str, batch_id: str, source_file: str,
            ingested_at: datetime, layout: Layout) -> BronzeResult:
    """Convert a local raw file into a local bronze Parquet file."""
    contract = _contract(entity, source)
    _not_empty(raw_path, source, source_file, layout)
    reader = Reader(raw_path, layout.read_options(), ColumnMap(contract, layout.columns), source, source_file)
    schema = bronze_schema(entity)
    text_columns = contract.bronze_columns
    fill = FillDown(layout.fill_down, layout.fill_down_by or contract.key[0]) if layout.fill_down else None
    dated = [c.name for c in contract.columns if c.type in _TIME_TYPES] if layout.render_dates else []
    lineage = _Lineage(source, batch_id, source_file, ingested_at)
    rows = malformed = 0
    with pq.ParquetWriter(out, schema, compression="zstd", compression_level=1) as writer:
        for chunk in reader.chunks():
            n = len(chunk.numbers)
            values = {c: chunk.values[c] if c in chunk.values else pa.nulls(n, pa.string()) for c in text_columns}
            if fill is not None:
                values = fill.apply(values)
            for c in dated:
                values[c] = render_iso_dates(values[c], layout.render_dates or "", layout.timezone)
            errors = chunk.errors if chunk.errors is not None else pa.nulls(n, pa.string())
            arrays = [values[c] for c in text_columns] + lineage.arrays(chunk.numbers, errors)
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += n
            malformed += n - errors.null_count
    return BronzeResult(key="", rows=rows, malformed_rows=malformed,
                        warnings=extra_warning(source, source_file, reader.extra))


def probe(path: Path, layout: Layout, entity: str, source: str, file: str | None = None) -> None:
    """Raise BronzeError when a file cannot become bronze at all (the landing inbox rejects it):
    empty, not readable in its format, or without a column the entity or the mapping needs.
    `file` is the name messages show (default: the path's name)."""
    shown = file or path.name
    _not_empty(path, source, shown, layout)
    reader = Reader(path, layout.read_options(), ColumnMap(_contract(entity, source), layout.columns), source, shown)
    for _chunk in reader.chunks(probe=True):
        break


def _contract(name: str, source: str) -> Any:
    try:
        return entity(name)
    except KeyError as exc:
        raise BronzeError(f"{source}: {exc.args[0]}") from None


def _not_empty(path: Path, source: str, file: str, layout: Layout) -> None:
    if path.stat().st_size == 0:
        what = " (no header row)" if layout.format == "csv" else ""
        raise BronzeError(f"{source}: {file}: the file is empty{what}: re-export it, or remove it from the "
                          "landing directory")


class _Lineage:
    """The lineage columns of one batch: constant per file, except the row numbers and errors."""

    def __init__(self, source: str, batch_id: str, file: str, ingested_at: datetime) -> None:
        self.constants = (pa.scalar(source, pa.string()), pa.scalar(batch_id, pa.string()),
                          pa.scalar(file, pa.string()))
        self.ingested_at = pa.scalar(ingested_at.replace(tzinfo=None), pa.timestamp("us"))

    def arrays(self, numbers: pa.Array, errors: pa.Array) -> list[pa.Array]:
        n = len(numbers)
        source, batch_id, file = (pa.repeat(c, n) for c in self.constants)
        return [source, batch_id, file, numbers, pa.repeat(self.ingested_at, n), errors]
