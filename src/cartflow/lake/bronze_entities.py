"""Raw → bronze for every entity and every raw format other than order-line CSV.

Formats: CSV, a JSON document (an array, or records at `records_path`, or a Frankfurter
rates page), NDJSON, and Parquet (PostgreSQL extracts). Each becomes one bronze Parquet
file per batch: the entity's canonical columns as text (`cartflow.lake.entities`), plus
lineage `_source, _batch_id, _source_file, _source_row, _ingested_at, _error`.
Order lines arriving as JSON/NDJSON files get the order-line bronze schema instead, so
the existing order-line models read them unchanged.

Nothing is dropped here: a record that is not an object, or a CSV row the parser
cannot split, is kept with `_error` set and empty fields, for silver to quarantine.
JSON numbers keep their text exactly as received (`1241.0099999999998` stays that).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cartflow.lake.bronze import (ORDER_LINE_ALIASES, ORDER_LINE_COLUMNS, BronzeError, BronzeResult,
                                  _arrow_encoding, bronze_key, bronze_schema, normalise_header)
from cartflow.lake.entities import ENTITY_COLUMNS, REQUIRED_COLUMNS, entity_schema
from cartflow.lake.records import dig, frankfurter_rows
from cartflow.lake.storage import Storage

CHUNK_ROWS = 50_000


@dataclass
class Layout:
    """How to read one raw batch: its format and, for JSON, where the records are."""

    format: str  # csv | json | ndjson | parquet
    records_path: str | None = None
    frankfurter: bool = False
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'


def layout_for(source: Any, raw_key: str) -> Layout:
    """The layout of a raw batch, from its source's kind and the raw file's extension."""
    kind = getattr(source, "kind", None)
    if raw_key.endswith(".parquet"):
        return Layout("parquet")
    if kind == "http":
        return Layout("json", source.records_path, source.layout == "frankfurter")
    if kind == "files":
        csv = source.csv
        return Layout(source.format, source.records_path, False, csv.encoding, csv.delimiter, csv.quote)
    raise BronzeError(f"no bronze layout for a {kind or type(source).__name__} source ({raw_key})")


class Columns:
    """Source column name -> canonical column, for one entity; unknown names are reported once."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        aliases = ORDER_LINE_ALIASES if entity == "order_lines" else ENTITY_COLUMNS[entity]
        self.canonical = (*ORDER_LINE_COLUMNS, "event_id") if entity == "order_lines" else tuple(aliases)
        self._by_alias: dict[str, str] = {}
        for canonical, names in aliases.items():
            for alias in names:
                self._by_alias.setdefault(alias, canonical)
        if entity == "order_lines":
            self._by_alias["eventid"] = "event_id"
        self.seen: set[str] = set()
        self.extra: list[str] = []

    def map(self, name: str) -> str | None:
        canonical = self._by_alias.get(normalise_header(name))
        if canonical is None and name not in self.extra:
            self.extra.append(name)
        elif canonical is not None:
            self.seen.add(canonical)
        return canonical

    def required(self) -> tuple[str, ...]:
        return ORDER_LINE_COLUMNS if self.entity == "order_lines" else REQUIRED_COLUMNS[self.entity]

    def check(self, source: str, file: str, names: Iterable[str]) -> None:
        """Raise when a column the entity cannot do without is absent from the file."""
        missing = [c for c in self.required() if c not in self.seen]
        if missing:
            raise BronzeError(
                f"{source}: {file}: missing column {', '.join(missing)} (entity {self.entity}; found "
                f"{', '.join(sorted(set(names))) or 'no columns'}): fix the export, or set the source's entity "
                "in cartflow.toml")


def entity_to_bronze(storage: Storage, raw_key: str, *, source: str, entity: str, batch_id: str,
                     source_file: str, ingested_at: datetime, layout: Layout) -> BronzeResult:
    """Convert one raw batch into one bronze Parquet file of its entity."""
    key = bronze_key(entity, batch_id)
    schema = bronze_schema() if entity == "order_lines" else entity_schema(entity)
    columns = Columns(entity)
    lineage = _Lineage(source, batch_id, source_file, ingested_at, entity)
    rows = malformed = 0
    with storage.local_copy(raw_key) as raw_path, tempfile.TemporaryDirectory(prefix="cf-bronze-e-") as tmp:
        if raw_path.stat().st_size == 0:
            raise BronzeError(f"{source}: {source_file}: the file is empty: re-export it, or remove it")
        out = Path(tmp) / "part.parquet"
        with pq.ParquetWriter(out, schema, compression="zstd", compression_level=1) as writer:
            for chunk in _chunks(raw_path, layout, columns, source, source_file):
                table = _table(chunk, columns, schema, lineage)
                rows += table.num_rows
                malformed += sum(1 for _, _, e in chunk if e)
                writer.write_table(table)
        storage.write_file(key, out)
    warnings = [f"{source}: {source_file}: column {c!r} is not part of entity {entity}; ignored"
                for c in columns.extra]
    return BronzeResult(key=key, rows=rows, malformed_rows=malformed, warnings=warnings)


def probe(path: Path, layout: Layout, entity: str, source: str) -> None:
    """Raise BronzeError when a file cannot become bronze at all (the landing inbox rejects it)."""
    if path.stat().st_size == 0:
        raise BronzeError(f"{source}: {path.name}: the file is empty")
    columns = Columns(entity)
    for _chunk in _chunks(path, layout, columns, source, path.name, probe_only=True):
        break


# -- readers: each yields chunks of (row number, {canonical: text}, error) -------------------
Row = tuple[int, dict[str, str | None], str | None]


def _chunks(path: Path, layout: Layout, columns: Columns, source: str, file: str,
            probe_only: bool = False) -> Iterator[list[Row]]:
    if layout.format == "csv":
        yield from _csv(path, layout, columns, source, file)
    elif layout.format == "parquet":
        yield from _parquet(path, columns, source, file)
    elif layout.format == "ndjson":
        yield from _batched(_ndjson(path, columns, source, file, probe_only))
    else:
        yield from _batched(_json(path, layout, columns, source, file))


def _batched(rows: Iterator[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _values(record: Any, columns: Columns) -> tuple[dict[str, str | None], str | None]:
    if not isinstance(record, dict):
        return {}, f"malformed record: not a JSON object: {json.dumps(record)[:200]}"
    values: dict[str, str | None] = {}
    for name, value in record.items():
        canonical = columns.map(str(name))
        if canonical and canonical not in values:
            values[canonical] = _text(value)
    return values, None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _load_json(path: Path, source: str, file: str) -> Any:
    try:
        # numbers stay text: bronze keeps what was received, digit for digit
        return json.loads(path.read_bytes().decode("utf-8-sig"), parse_float=str, parse_int=str)
    except UnicodeDecodeError as exc:
        raise BronzeError(f"{source}: {file}: byte {exc.start}: not UTF-8 JSON; re-export it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BronzeError(f"{source}: {file}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                          "fix the file, or set format = \"ndjson\" if it holds one object per line") from None


def _json(path: Path, layout: Layout, columns: Columns, source: str, file: str) -> Iterator[Row]:
    document = _load_json(path, source, file)
    if layout.frankfurter:
        records: Any = frankfurter_rows(document)
    else:
        records = dig(document, layout.records_path)
    if not isinstance(records, list):
        raise BronzeError(f"{source}: {file}: expected a list of records at {layout.records_path or 'the top level'}, "
                          f"found {type(records).__name__}: set records_path in cartflow.toml")
    keys: set[str] = set()
    for record in records:
        if isinstance(record, dict):
            keys.update(map(str, record))
            for name in record:
                columns.map(str(name))
    if records:
        columns.check(source, file, keys)
    for number, record in enumerate(records, start=1):
        values, error = _values(record, columns)
        yield number, values, error


def _ndjson(path: Path, columns: Columns, source: str, file: str, probe_only: bool) -> Iterator[Row]:
    checked = False
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                record = json.loads(line, parse_float=str, parse_int=str)
            except json.JSONDecodeError as exc:
                if probe_only and not checked:
                    raise BronzeError(f"{source}: {file}: line {number}: not valid JSON ({exc.msg})") from None
                yield number, {}, f"malformed record: not valid JSON ({exc.msg} at column {exc.colno}): {line[:200]!r}"
                continue
            values, error = _values(record, columns)
            if not checked and isinstance(record, dict):
                columns.check(source, file, record.keys())
                checked = True
            yield number, values, error


def _csv(path: Path, layout: Layout, columns: Columns, source: str, file: str) -> Iterator[list[Row]]:
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number or -1, f"expected {row.expected_columns} fields, found {row.actual_columns}: "
                        f"{row.text!r}"))
        return "skip"

    encoding = _arrow_encoding(layout.encoding)
    parse = pacsv.ParseOptions(delimiter=layout.delimiter, quote_char=layout.quote, newlines_in_values=True,
                               invalid_row_handler=on_invalid)
    try:
        probe_reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 16,
                                                                             use_threads=False), parse_options=parse)
        names = probe_reader.schema.names
        probe_reader.close()
        invalid.clear()
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20,
                                                                       use_threads=False),
                                parse_options=parse,
                                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                                     strings_can_be_null=True,
                                                                     quoted_strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise BronzeError(f"{source}: {file}: cannot read it as CSV ({exc}); check encoding/delimiter/quote "
                          "in [sources.<name>.csv]") from None
    mapped = {n: columns.map(n) for n in names}
    columns.check(source, file, names)
    number = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise BronzeError(f"{source}: {file}: cannot parse the CSV after data row {number}: {exc}") from None
        data = {n: batch.column(n).to_pylist() for n in names if mapped[n]}
        chunk: list[Row] = []
        taken = {line - 1 for line, _ in invalid if line > 0}
        for i in range(batch.num_rows):
            number += 1
            while number in taken:
                number += 1
            chunk.append((number, {mapped[n]: data[n][i] for n in data}, None))  # type: ignore[misc]
        yield chunk
    if invalid:
        yield [(line - 1 if line > 0 else number + i + 1, {}, f"malformed row: {msg}")
               for i, (line, msg) in enumerate(invalid)]


def _parquet(path: Path, columns: Columns, source: str, file: str) -> Iterator[list[Row]]:
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    mapped = {n: columns.map(n) for n in names}
    columns.check(source, file, names)
    number = 0
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
        data = {n: _as_text(batch.column(n)).to_pylist() for n in names if mapped[n]}
        chunk: list[Row] = []
        for i in range(batch.num_rows):
            number += 1
            chunk.append((number, {mapped[n]: data[n][i] for n in data}, None))  # type: ignore[misc]
        yield chunk


def _as_text(array: pa.Array) -> pa.Array:
    """Typed extract columns to text: timestamps as ISO `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), the rest by cast."""
    t = array.type
    if pa.types.is_timestamp(t):
        plain = array.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")) if t.tz else array.cast(
            pa.timestamp("us"))
        return pc.strftime(plain, format="%Y-%m-%d %H:%M:%S")
    if pa.types.is_date(t):
        return pc.strftime(array, format="%Y-%m-%d")
    if pa.types.is_boolean(t):
        return pc.if_else(array, "true", "false")
    return array.cast(pa.string())


class _Lineage:
    def __init__(self, source: str, batch_id: str, file: str, ingested_at: datetime, entity: str) -> None:
        self.source, self.batch_id, self.file, self.entity = source, batch_id, file, entity
        self.ingested_at = ingested_at.replace(tzinfo=None)


def _table(chunk: list[Row], columns: Columns, schema: pa.Schema, lineage: _Lineage) -> pa.Table:
    n = len(chunk)
    arrays: dict[str, pa.Array] = {}
    for c in columns.canonical:
        arrays[c] = pa.array([values.get(c) for _, values, _ in chunk], pa.string())
    arrays["_source"] = pa.array([lineage.source] * n, pa.string())
    arrays["_batch_id"] = pa.array([lineage.batch_id] * n, pa.string())
    arrays["_source_file"] = pa.array([lineage.file] * n, pa.string())
    arrays["_source_row"] = pa.array([number for number, _, _ in chunk], pa.int64())
    arrays["_ingested_at"] = pa.array([lineage.ingested_at] * n, pa.timestamp("us"))
    arrays["_error"] = pa.array([error for _, _, error in chunk], pa.string())
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)
