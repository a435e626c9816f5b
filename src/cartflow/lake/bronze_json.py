"""Raw NDJSON (the stream's batches) → bronze, with the same schema as CSV bronze.

Each line is one event as the API accepted it. Bronze gets the 8 canonical text columns,
`event_id`, and the lineage columns (`_source_row` = the line number in the raw file):
exactly CSV bronze's schema (`bronze_schema()`; CSV lines have a NULL `event_id`). The id
follows the line to silver and gold, so the batch path upserts the serving row the
stream already wrote. A line that is not a JSON object is kept with `_error` set and
empty fields, as a malformed CSV row is, so silver quarantines it and nothing is lost.

InvoiceDate is the one value rewritten: the API accepts ISO 8601 too, and silver parses a
single format, so ISO dates are rendered in `[stream] invoice_date_format` here.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cartflow.lake.bronze import (
    OPTIONAL_COLUMNS,
    ORDER_LINE_ALIASES,
    ORDER_LINE_COLUMNS,
    BronzeError,
    BronzeResult,
    bronze_key,
    bronze_schema,
    normalise_header,
)
from cartflow.lake.storage import Storage
from cartflow.stream.records import parse_invoice_date, strptime_format

SCHEMA = bronze_schema()  # identical to CSV bronze: one glob reads both
TEXT_COLUMNS = (*ORDER_LINE_COLUMNS, *OPTIONAL_COLUMNS)  # OPTIONAL_COLUMNS = ("event_id",)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CANONICAL = {alias: canonical for canonical, aliases in ORDER_LINE_ALIASES.items() for alias in aliases}


def ndjson_to_bronze(storage: Storage, raw_key: str, *, source: str, entity: str, batch_id: str,
                     source_file: str, ingested_at: datetime, date_format: str) -> BronzeResult:
    """Convert one raw NDJSON batch into one bronze Parquet file."""
    data = storage.read_bytes(raw_key)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BronzeError(f"{source}: {source_file}: byte {exc.start}: not UTF-8; stream batches are written "
                          "by the raw sink as UTF-8, so this file was changed after landing") from None
    columns: dict[str, list[str | None]] = {c: [] for c in TEXT_COLUMNS}
    numbers: list[int] = []
    errors: list[str | None] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        values, error = _row(line, date_format)
        for c in columns:
            columns[c].append(values.get(c))
        numbers.append(number)
        errors.append(error)
    n = len(numbers)
    table = pa.Table.from_arrays(
        [pa.array(columns[c], pa.string()) for c in TEXT_COLUMNS]
        + [pa.array([batch_id] * n, pa.string()), pa.array([source_file] * n, pa.string()),
           pa.array(numbers, pa.int64()), pa.array([ingested_at.replace(tzinfo=None)] * n, pa.timestamp("us")),
           pa.array(errors, pa.string()), pa.array([source] * n, pa.string())],
        schema=SCHEMA)
    key = bronze_key(entity, batch_id)
    with tempfile.TemporaryDirectory(prefix="cf-bronze-json-") as tmp:
        out = Path(tmp) / "part.parquet"
        pq.write_table(table, out, compression="zstd", compression_level=1)
        storage.write_file(key, out)
    malformed = sum(1 for e in errors if e)
    return BronzeResult(key=key, rows=n, malformed_rows=malformed)


def _row(line: str, date_format: str) -> tuple[dict[str, str | None], str | None]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"malformed record: not valid JSON ({exc.msg} at column {exc.colno}): {line[:200]!r}"
    except (RecursionError, ValueError) as exc:  # nested too deep, an integer past Python's digit limit
        return {}, f"malformed record: unreadable JSON ({type(exc).__name__}): {line[:200]!r}"
    if not isinstance(record, dict):
        return {}, f"malformed record: not a JSON object: {line[:200]!r}"
    values: dict[str, str | None] = {}
    for name, value in record.items():
        canonical = "event_id" if name == "event_id" else _CANONICAL.get(normalise_header(name))
        if canonical:
            values[canonical] = None if value is None else str(value)
    if any(v and _SURROGATE.search(v) for v in values.values()):
        return {}, f"malformed record: a value holds an unpaired UTF-16 surrogate escape: {line[:200]!r}"
    if values.get("invoice_date"):
        values["invoice_date"] = _render_date(values["invoice_date"], date_format)
    return values, None


def _render_date(text: str, date_format: str) -> str:
    """Keep text already in the project's format; render ISO 8601 in it; leave the rest to silver."""
    try:
        datetime.strptime(text.strip(), strptime_format(date_format))
        return text
    except ValueError:
        pass
    ts = parse_invoice_date(text, date_format)
    return ts.strftime(date_format) if ts else text
