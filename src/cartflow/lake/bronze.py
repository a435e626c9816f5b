"""Raw → bronze: the only place that parses a source format.

Bronze is one Parquet file per batch, every source column as text under its canonical
name, plus lineage (`_batch_id`, `_source_file`, `_source_row`, `_ingested_at`, `_source`
— the configured source name) and `_error` for rows the parser could not split into
fields. Those rows are kept, not dropped, so silver can quarantine them and every raw row stays accounted for.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cartflow.config import CsvOptions
from cartflow.entities import ORDER_LINES
from cartflow.lake.storage import Storage
from cartflow.runtime.text import printable

ORDER_LINE_COLUMNS = ORDER_LINES.column_names

#: Header spellings per canonical column (Online Retail and Online Retail II), from the contract.
ORDER_LINE_ALIASES: dict[str, tuple[str, ...]] = {c.name: c.spellings() for c in ORDER_LINES.columns}

#: Bronze columns beyond the source's own: the stream's event id (NULL for file drops).
OPTIONAL_COLUMNS = ("event_id",)

LINEAGE = pa.schema([
    ("_batch_id", pa.string()),
    ("_source_file", pa.string()),
    ("_source_row", pa.int64()),
    ("_ingested_at", pa.timestamp("us")),
    ("_error", pa.string()),
    ("_source", pa.string()),
])


class BronzeError(Exception):
    """A raw file cannot be read at all; the message names source, file, row and field.

    The message quotes the file (its name, header, a row, the parser's own words about
    them): control characters in it are escaped, so it never drives a terminal.
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@dataclass
class BronzeResult:
    key: str
    rows: int
    malformed_rows: int
    warnings: list[str] = field(default_factory=list)


def bronze_schema() -> pa.Schema:
    """The order-line bronze schema every converter writes: text columns, then lineage."""
    fields = [pa.field(c, pa.string()) for c in (*ORDER_LINE_COLUMNS, *OPTIONAL_COLUMNS)]
    return pa.schema(fields + list(LINEAGE))


def bronze_key(entity: str, batch_id: str) -> str:
    return f"bronze/{entity}/{batch_id}.parquet"


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_header(header: list[str], source: str, file: str) -> tuple[dict[str, str], list[str]]:
    """Canonical column → header name in the file; raise when a required column is missing."""
    by_norm = {normalise_header(h): h for h in header}
    mapping: dict[str, str] = {}
    for canonical, aliases in ORDER_LINE_ALIASES.items():
        found = next((by_norm[a] for a in aliases if a in by_norm), None)
        if found is None:
            raise BronzeError(
                f"{source}: {file}: row 1 (header): missing column {canonical!r} "
                f"(expected one of {', '.join(aliases)}; found {', '.join(header)}). "
                "Fix the export or map the column in cartflow.toml."
            )
        mapping[canonical] = found
    extra = [h for h in header if h not in mapping.values()]
    return mapping, extra


def csv_to_bronze(storage: Storage, raw_key: str, *, source: str, entity: str, batch_id: str,
                  source_file: str, ingested_at: datetime, options: CsvOptions) -> BronzeResult:
    """Stream one raw CSV into one bronze Parquet file (bounded memory at any size)."""
    key = bronze_key(entity, batch_id)
    with storage.local_copy(raw_key) as raw_path, tempfile.TemporaryDirectory(prefix="cf-bronze-") as tmp:
        out = Path(tmp) / "part.parquet"
        result = _convert(raw_path, out, source=source, source_file=source_file, batch_id=batch_id,
                          ingested_at=ingested_at, options=options)
        storage.write_file(key, out)
    result.key = key
    return result


def _convert(raw_path: Path, out: Path, *, source: str, source_file: str, batch_id: str,
             ingested_at: datetime, options: CsvOptions) -> BronzeResult:
    if raw_path.stat().st_size == 0:
        raise BronzeError(f"{source}: {source_file}: the file is empty (no header row): "
                          "re-export it, or remove it from the landing directory")
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = row.number if row.number is not None else -1
        invalid.append((line, f"expected {row.expected_columns} fields, found {row.actual_columns}: {row.text!r}"))
        return "skip"

    encoding = _arrow_encoding(options.encoding)
    parse = pacsv.ParseOptions(delimiter=options.delimiter, quote_char=options.quote,
                               newlines_in_values=True, invalid_row_handler=on_invalid)
    try:
        # a first look at the header only: every column must be read as text, never inferred
        probe = pacsv.open_csv(raw_path, read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 16, use_threads=False),
                               parse_options=parse)
        names = probe.schema.names
        probe.close()
        invalid.clear()
        reader = pacsv.open_csv(
            raw_path,
            # use_threads=False: the parser then knows the line number of a malformed row
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20, use_threads=False),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise _explain(exc, raw_path, source, source_file, encoding) from None
    header = reader.schema.names
    mapping, extra = map_header(header, source, source_file)
    warnings = [f"{source}: {source_file}: extra column {c!r} ignored" for c in extra]
    schema = bronze_schema()
    rows = last = 0
    taken: set[int] = set()
    with pq.ParquetWriter(out, schema, compression="zstd", compression_level=1) as writer:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _explain(exc, raw_path, source, source_file, encoding, rows) from None
            # rows the parser could not split were reported before this batch: give them
            # their own row numbers and let the good rows fill the gaps in order.
            taken.update(line - 1 for line, _ in invalid if line > 0)
            numbers = _row_numbers(last, batch.num_rows, taken)
            last = numbers[-1] if numbers else last
            rows += batch.num_rows
            cols = [batch.column(mapping[c]) for c in ORDER_LINE_COLUMNS]
            cols += [pa.nulls(batch.num_rows, pa.string())] * len(OPTIONAL_COLUMNS)
            writer.write_table(pa.Table.from_arrays(
                cols + _lineage(source, batch_id, source_file, numbers, ingested_at, None), schema=schema))
        if invalid:
            numbers = [line - 1 if line > 0 else rows + i + 1 for i, (line, _) in enumerate(invalid)]
            empty = [pa.nulls(len(invalid), pa.string())] * (len(ORDER_LINE_COLUMNS) + len(OPTIONAL_COLUMNS))
            errors = [f"malformed row: {msg}" for _, msg in invalid]
            writer.write_table(pa.Table.from_arrays(
                empty + _lineage(source, batch_id, source_file, numbers, ingested_at, errors), schema=schema))
    return BronzeResult(key="", rows=rows + len(invalid), malformed_rows=len(invalid), warnings=warnings)


def _row_numbers(start: int, count: int, taken: set[int]) -> list[int]:
    numbers, n = [], start
    while len(numbers) < count:
        n += 1
        if n not in taken:
            numbers.append(n)
    return numbers


def _lineage(source: str, batch_id: str, source_file: str, numbers: list[int], ingested_at: datetime,
             errors: list[str] | None) -> list[pa.Array]:
    n = len(numbers)
    return [
        pa.array([batch_id] * n, pa.string()),
        pa.array([source_file] * n, pa.string()),
        pa.array(numbers, pa.int64()),
        pa.array([ingested_at.replace(tzinfo=None)] * n, pa.timestamp("us")),
        pa.array(errors, pa.string()) if errors else pa.nulls(n, pa.string()),
        pa.array([source] * n, pa.string()),
    ]


def _arrow_encoding(name: str) -> str:
    norm = name.lower().replace("_", "-")
    return {"latin-1": "latin1", "iso-8859-1": "latin1", "utf-8": "utf8", "utf8": "utf8"}.get(norm, name)


def _explain(exc: Exception, path: Path, source: str, file: str, encoding: str, rows: int = 0) -> BronzeError:
    msg = str(exc)
    if "UTF8" in msg.upper() or "utf-8" in msg.lower():
        line, col = _first_bad_utf8(path)
        return BronzeError(
            f"{source}: {file}: row {max(line - 1, 1)} (line {line}), byte {col}: not valid {encoding} text. "
            "The Kaggle Online Retail export is latin-1: set encoding = \"latin-1\" in "
            "[sources.<name>.csv] of cartflow.toml."
        )
    if "Empty CSV file" in msg:
        return BronzeError(f"{source}: {file}: the file is empty (no header row)")
    return BronzeError(f"{source}: {file}: cannot parse the CSV after data row {rows}: {msg}. "
                       "Check delimiter/quote in cartflow.toml, or whether the file was truncated.")


def _first_bad_utf8(path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return number, err.start + 1
    return 0, 0
