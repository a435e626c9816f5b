"""Readers for every raw format, each yielding column-wise chunks of one entity's bronze columns.

CSV and Parquet are read by Arrow a block at a time: values never pass through Python
one by one. JSON documents and NDJSON are parsed by the `json` module (Arrow's JSON
reader would turn `1241.0099999999998` into a float; bronze keeps the text as received),
then assembled a column at a time.

Row numbers (`_source_row`): the 1-based data row for CSV (the header is not a row; a
row the parser could not split keeps its number), the record's position for a JSON
document and a Parquet extract, the line number for NDJSON (a blank line is no record).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cartflow.lake.bronze_columns import BronzeError, ColumnMap, Resolved
from cartflow.lake.records import dig, frankfurter_rows

CHUNK_ROWS = 50_000
_MISSING = object()


@dataclass
class Chunk:
    """Some rows of one raw batch: bronze column -> text values, their row numbers, parse errors."""

    values: dict[str, pa.Array]
    numbers: pa.Array
    errors: pa.Array | None = None


@dataclass
class ReadOptions:
    format: str
    records_path: str | None = None
    frankfurter: bool = False
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    timezone: str = "UTC"


class Reader:
    """Reads one raw file; `resolved` holds its column resolution once the first chunk came out."""

    def __init__(self, path: Path, options: ReadOptions, columns: ColumnMap, source: str, file: str) -> None:
        self.path, self.options, self.columns, self.source, self.file = path, options, columns, source, file
        self.resolved: Resolved | None = None
        self.extra: list[str] = []

    def chunks(self, probe: bool = False) -> Iterator[Chunk]:
        fmt = self.options.format
        if fmt == "csv":
            return self._csv(probe)
        if fmt == "parquet":
            return self._parquet()
        if fmt == "ndjson":
            return self._ndjson(probe)
        return self._json()

    def _resolve(self, names: Sequence[str], where: str, strict: bool = True, has_path: Any = None) -> Resolved:
        resolved = self.columns.resolve(names, source=self.source, file=self.file, where=where, strict=strict,
                                        has_path=has_path)
        self.resolved = self.resolved or resolved
        self.extra += [n for n in resolved.extra if n not in self.extra]
        return resolved

    # -- CSV --------------------------------------------------------------------------------
    def _csv(self, probe: bool) -> Iterator[Chunk]:
        invalid: list[tuple[int, str]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            line = row.number if row.number is not None else -1
            invalid.append((line, f"expected {row.expected_columns} fields, found {row.actual_columns}: {row.text!r}"))
            return "skip"

        o = self.options
        encoding = arrow_encoding(o.encoding)
        parse = pacsv.ParseOptions(delimiter=o.delimiter, quote_char=o.quote, newlines_in_values=True,
                                   invalid_row_handler=on_invalid)
        try:
            # a first look at the header only: every column must be read as text, never inferred
            head = pacsv.open_csv(self.path, parse_options=parse, read_options=pacsv.ReadOptions(
                encoding=encoding, block_size=1 << 16, use_threads=False))
            names = head.schema.names
            head.close()
        except LookupError:
            raise BronzeError(f"{self.source}: {self.file}: unknown encoding {o.encoding!r} in "
                              f"[sources.{self.source}.csv] (e.g. \"utf-8\", \"latin-1\", \"cp1252\")") from None
        except pa.ArrowInvalid as exc:
            raise self._explain(exc, encoding) from None
        resolved = self._resolve(names, "row 1 (header)")
        if probe:
            return
        wanted = list(dict.fromkeys(resolved.sources.values()))
        invalid.clear()
        try:
            reader = pacsv.open_csv(
                self.path,
                # use_threads=False: the parser then knows the line number of a malformed row
                read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20, use_threads=False),
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in wanted}, include_columns=wanted,
                    strings_can_be_null=True, quoted_strings_can_be_null=True))
        except pa.ArrowInvalid as exc:
            raise self._explain(exc, encoding) from None
        rows = last = 0
        taken: set[int] = set()
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise self._explain(exc, encoding, rows) from None
            # rows the parser could not split were reported before this batch: give them
            # their own row numbers and let the good rows fill the gaps in order.
            taken.update(line - 1 for line, _ in invalid if line > 0)
            numbers = row_numbers(last, batch.num_rows, taken)
            last = numbers[-1].as_py() if len(numbers) else last
            rows += batch.num_rows
            yield Chunk({c: batch.column(s) for c, s in resolved.sources.items()}, numbers)
        if invalid:
            numbers = pa.array([line - 1 if line > 0 else rows + i + 1 for i, (line, _) in enumerate(invalid)],
                               pa.int64())
            yield Chunk({}, numbers, pa.array([f"malformed row: {msg}" for _, msg in invalid], pa.string()))

    def _explain(self, exc: Exception, encoding: str, rows: int = 0) -> BronzeError:
        msg, source, file = str(exc), self.source, self.file
        if "UTF8" in msg.upper() or "utf-8" in msg.lower():
            line, col = first_bad_utf8(self.path)
            return BronzeError(
                f"{source}: {file}: row {max(line - 1, 1)} (line {line}), byte {col}: not valid {self.options.encoding} "
                f"text. Set the file's encoding in [sources.{source}.csv] of cartflow.toml (the Kaggle Online "
                "Retail export is encoding = \"latin-1\").")
        if "Empty CSV file" in msg:
            return BronzeError(f"{source}: {file}: the file is empty (no header row)")
        return BronzeError(f"{source}: {file}: cannot parse the CSV after data row {rows}: {msg}. "
                           f"Check delimiter/quote in [sources.{source}.csv], or whether the file was truncated.")

    # -- Parquet (PostgreSQL extracts) ---------------------------------------------------------
    def _parquet(self) -> Iterator[Chunk]:
        parquet = pq.ParquetFile(self.path)
        resolved = self._resolve(parquet.schema_arrow.names, "the extract's columns")
        wanted = list(dict.fromkeys(resolved.sources.values()))
        start = 0
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=wanted):
            text = {name: as_text(batch.column(name), self.options.timezone) for name in wanted}
            yield Chunk({c: text[s] for c, s in resolved.sources.items()}, sequence(start, batch.num_rows))
            start += batch.num_rows

    # -- JSON documents and NDJSON ------------------------------------------------------------
    def _json(self) -> Iterator[Chunk]:
        document = load_json(self.path, self.source, self.file)
        o = self.options
        records: Any = frankfurter_rows(document) if o.frankfurter else dig(document, o.records_path)
        if not isinstance(records, list):
            raise BronzeError(f"{self.source}: {self.file}: expected a list of records at "
                              f"{o.records_path or 'the top level'}, found {type(records).__name__}: set records_path "
                              f"in [sources.{self.source}] of cartflow.toml")
        if not records:
            return
        resolved = self._records_resolution(records, strict=True)
        for start in range(0, len(records), CHUNK_ROWS):
            part = records[start:start + CHUNK_ROWS]
            yield self._records_chunk(part, list(range(start + 1, start + len(part) + 1)), resolved)

    def _ndjson(self, probe: bool) -> Iterator[Chunk]:
        if probe:
            self._ndjson_probe()
            return
        pending: list[tuple[int, bytes]] = []
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if raw.strip():  # a blank line is no record
                    pending.append((number, raw))
                    if len(pending) >= CHUNK_ROWS:
                        yield self._ndjson_chunk(pending)
                        pending = []
        if pending:
            yield self._ndjson_chunk(pending)

    def _ndjson_probe(self) -> None:
        """The first line must be JSON; the first object decides whether the columns are there."""
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                line = raw.decode("utf-8", errors="replace").strip()
                if not line:
                    continue
                try:
                    record = _DECODER.decode(line)
                except json.JSONDecodeError as exc:
                    raise BronzeError(f"{self.source}: {self.file}: line {number}: not valid JSON ({exc.msg}); "
                                      "each line must hold one JSON object") from None
                except (RecursionError, ValueError) as exc:
                    raise BronzeError(f"{self.source}: {self.file}: line {number}: not valid JSON "
                                      f"({_unreadable(exc)}); each line must hold one JSON object") from None
                if isinstance(record, dict):
                    self._records_resolution([record], strict=True)
                    return

    def _ndjson_chunk(self, lines: list[tuple[int, bytes]]) -> Chunk:
        records, errors = decode_lines([raw for _, raw in lines])
        # the first chunk with objects decides which columns a file must have; later chunks only map
        strict = self.resolved is None and any(isinstance(r, dict) for r in records)
        resolved = self._records_resolution(records, strict=strict)
        return self._records_chunk(records, [number for number, _ in lines], resolved, errors)

    def _records_resolution(self, records: list[Any], strict: bool) -> Resolved:
        names = _union_keys(records)
        return self._resolve(names, "the records", strict=strict,
                             has_path=lambda path: any(_dig(r, path) is not _MISSING for r in records))

    def _records_chunk(self, records: list[Any], numbers: list[int], resolved: Resolved,
                       errors: dict[int, str] | None = None) -> Chunk:
        errors = dict(errors or {})
        for i, record in enumerate(records):
            if not isinstance(record, dict) and i not in errors:
                errors[i] = f"malformed record: not a JSON object: {_shown(record)}"
        columns: dict[str, list[Any]] = {}
        for canonical, name in resolved.sources.items():
            if name in resolved.paths:
                columns[canonical] = [_none(_dig(r, name)) for r in records]
            else:
                try:  # every record an object with this key: the common case, at C speed
                    columns[canonical] = list(map(itemgetter(name), records))
                except (KeyError, TypeError, IndexError):
                    columns[canonical] = [r.get(name) if type(r) is dict else None for r in records]
        try:
            values = {c: text_array(column) for c, column in columns.items()}
        except UnicodeEncodeError:  # a "\ud800" escape decodes to a lone surrogate, which no file can hold
            values = self._without_surrogates(records, columns, errors)
        error_array = pa.array([errors.get(i) for i in range(len(records))], pa.string()) if errors else None
        return Chunk(values, pa.array(numbers, pa.int64()), error_array)

    @staticmethod
    def _without_surrogates(records: list[Any], columns: dict[str, list[Any]],
                            errors: dict[int, str]) -> dict[str, pa.Array]:
        """The records whose values hold a lone surrogate become malformed rows (fields empty)."""
        bad = {i for column in columns.values() for i, v in enumerate(column)
               if isinstance(v, str) and _SURROGATE.search(v)}
        for i in bad:
            errors[i] = f"malformed record: a value holds an unpaired UTF-16 surrogate escape: {_shown(records[i])}"
        return {c: text_array([None if i in bad else v for i, v in enumerate(column)])
                for c, column in columns.items()}


# -- helpers ------------------------------------------------------------------------------
def row_numbers(start: int, count: int, taken: set[int]) -> pa.Array:
    """`count` data-row numbers after `start`, skipping those malformed rows took."""
    if not any(start < t <= start + count + len(taken) for t in taken):
        return sequence(start, count)
    numbers: list[int] = []
    n = start
    while len(numbers) < count:
        n += 1
        if n not in taken:
            numbers.append(n)
    return pa.array(numbers, pa.int64())


def sequence(start: int, count: int) -> pa.Array:
    return pa.array(np.arange(start + 1, start + count + 1, dtype=np.int64))


def text_array(values: list[Any]) -> pa.Array:
    """JSON values as text: strings (and numbers, parsed as their text) as they are, the rest rendered."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([_text(v) for v in values], pa.string())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _int_text(text: str) -> str:
    """An integer's text as received; past Python's digit limit it is no readable number."""
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"an integer of {len(text):,} digits")
    return text


_MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_DECODER = json.JSONDecoder(parse_float=str, parse_int=_int_text)
"""Numbers stay text: bronze keeps what was received, digit for digit."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unreadable(exc: BaseException) -> str:
    return "nested too deep" if isinstance(exc, RecursionError) else str(exc)


def _shown(value: Any) -> str:
    """A record quoted in an error: its JSON, at most 200 characters (escaped by BronzeError/printable)."""
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):
        text = repr(value)
    return text[:200]


def decode_lines(lines: list[bytes]) -> tuple[list[Any], dict[int, str]]:
    """NDJSON lines as records, and why each line that is not JSON is not.

    One object per line, as the stream's raw sink writes them, is decoded as one JSON array
    (one call into the C decoder instead of one per line); anything else line by line.
    """
    stripped = [raw.strip() for raw in lines]
    if all(s[:1] == b"{" and s[-1:] == b"}" for s in stripped):
        try:
            records = _DECODER.decode("[" + b",".join(stripped).decode("utf-8", errors="replace") + "]")
        except (RecursionError, ValueError):
            records = None
        if records is not None and len(records) == len(lines) and all(type(r) is dict for r in records):
            return records, {}
    out: list[Any] = []
    errors: dict[int, str] = {}
    for i, raw in enumerate(lines):
        line = raw.decode("utf-8", errors="replace").strip()
        try:
            out.append(_DECODER.decode(line))
        except json.JSONDecodeError as exc:
            out.append(None)
            errors[i] = f"malformed record: not valid JSON ({exc.msg} at column {exc.colno}): {line[:200]!r}"
        except (RecursionError, ValueError) as exc:  # nested too deep, an integer past the digit limit
            out.append(None)
            errors[i] = f"malformed record: unreadable JSON ({_unreadable(exc)}): {line[:200]!r}"
    return out, errors


def _union_keys(records: list[Any]) -> list[str]:
    """Every key of the records: the first object's in its order, then the others' sorted."""
    objects = [r for r in records if type(r) is dict]
    if not objects:
        return []
    first = list(objects[0])
    return first + sorted(set().union(*objects) - set(first))


def _dig(record: Any, path: str) -> Any:
    """`a.b` inside one record; `_MISSING` when a step is absent (present-but-null is None)."""
    cur = record
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _none(value: Any) -> Any:
    return None if value is _MISSING else value


def load_json(path: Path, source: str, file: str) -> Any:
    try:
        # numbers stay text: bronze keeps what was received, digit for digit
        return _DECODER.decode(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise BronzeError(f"{source}: {file}: byte {exc.start}: not UTF-8 JSON; re-export it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BronzeError(f"{source}: {file}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                          "fix the file, or set format = \"ndjson\" if it holds one object per line") from None
    except (RecursionError, ValueError) as exc:
        raise BronzeError(f"{source}: {file}: not valid JSON ({_unreadable(exc)}): fix the file") from None


def as_text(array: pa.Array, timezone: str = "UTC") -> pa.Array:
    """Typed extract columns as text: timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]` (an aware one in the
    shop's time zone, since naive timestamps are shop-local), dates ISO, booleans true/false."""
    t = array.type
    if pa.types.is_timestamp(t):
        plain = pc.local_timestamp(array.cast(pa.timestamp("us", tz=timezone))) if t.tz else array.cast(
            pa.timestamp("us"))
        return pc.strftime(plain, format="%Y-%m-%d %H:%M:%S")
    if pa.types.is_date(t):
        return pc.strftime(array, format="%Y-%m-%d")
    if pa.types.is_boolean(t):
        return pc.if_else(array, "true", "false")
    return array.cast(pa.string())


def arrow_encoding(name: str) -> str:
    norm = name.lower().replace("_", "-")
    return {"latin-1": "latin1", "iso-8859-1": "latin1", "utf-8": "utf8", "utf8": "utf8"}.get(norm, name)


def first_bad_utf8(path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return number, err.start + 1
    return 0, 0
