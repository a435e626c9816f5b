"""Which source column feeds each bronze column, and the per-column fixes bronze applies.

`ColumnMap` resolves a file's (or page's, or extract's) column names against an entity's
contract: the source's own mapping (`[sources.<name>.columns]`) first, then the accepted
header spellings (`Column.spellings()`, and the API field name). A mapped column the file
lacks, or a required column nothing supplies, is a `BronzeError` naming source, file and
column; columns nothing takes are reported once per file as a warning.

`FillDown` and `render_iso_dates` work on whole Arrow columns, never row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from cartflow.entities import Entity, normalise_header
from cartflow.runtime.text import printable


class BronzeError(Exception):
    """A raw file cannot become bronze at all; the message names source, file, row and field.

    The message quotes the file (its name, header, a row, the parser's own words about
    them): control characters in it are escaped, so it never drives a terminal.
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@dataclass
class Resolved:
    """The outcome of resolving one file's columns."""

    sources: dict[str, str]
    """bronze column -> the source column (or JSON path) that feeds it."""
    paths: set[str] = field(default_factory=set)
    """The values of `sources` that are dotted JSON paths rather than column names."""
    extra: list[str] = field(default_factory=list)
    """Source columns no bronze column takes (ignored, with a warning)."""


class ColumnMap:
    """An entity's bronze columns and how a source names them."""

    def __init__(self, entity: Entity, mapping: Mapping[str, str] | None = None) -> None:
        self.entity = entity
        self.mapping = dict(mapping or {})
        self.columns: tuple[str, ...] = entity.bronze_columns
        self.spellings: dict[str, tuple[str, ...]] = {}
        for c in entity.columns:
            names = (*c.spellings(), *((normalise_header(c.api_name),) if c.api_name else ()))
            self.spellings[c.name] = tuple(dict.fromkeys(names))
        for extra in entity.extra_bronze_columns:
            self.spellings[extra] = (normalise_header(extra),)

    def resolve(self, names: Sequence[str], *, source: str, file: str, where: str, strict: bool = True,
                has_path: Callable[[str], bool] | None = None) -> Resolved:
        """Map `names` (the file's columns) onto bronze columns; raise when `strict` and one is missing."""
        resolved = Resolved(sources={})
        absent: list[tuple[str, str]] = []
        for canonical, wanted in self.mapping.items():
            found = _find(wanted, names)
            if found is None and has_path is not None and "." in wanted and has_path(wanted):
                found = wanted
                resolved.paths.add(wanted)
            if found is None:
                absent.append((canonical, wanted))
            else:
                resolved.sources[canonical] = found
        if absent and strict:
            listed = ", ".join(f"{wanted!r} (mapped to {canonical})" for canonical, wanted in absent)
            raise BronzeError(
                f"{source}: {file}: {where}: missing column {listed} named in [sources.{source}.columns] "
                f"(found: {_names(names)}): fix the mapping in cartflow.toml, or the export")
        used = set(resolved.sources.values())
        by_spelling: dict[str, str] = {}
        for name in names:
            if name not in used:
                by_spelling.setdefault(normalise_header(name), name)
        for canonical in self.columns:
            if canonical in resolved.sources or canonical in self.mapping:
                continue
            found = next((by_spelling[s] for s in self.spellings[canonical] if s in by_spelling), None)
            if found is not None:
                resolved.sources[canonical] = found
                by_spelling = {k: v for k, v in by_spelling.items() if v != found}
        missing = [c for c in self.entity.required_columns if c not in resolved.sources]
        if missing and strict:
            listed = ", ".join(f"{c!r} (accepted: {', '.join(self.spellings[c])})" for c in missing)
            raise BronzeError(
                f"{source}: {file}: {where}: missing column {listed} of entity {self.entity.name} "
                f"(found: {_names(names)}). Fix the export, or map the column in [sources.{source}.columns] "
                "of cartflow.toml")
        taken = set(resolved.sources.values())
        resolved.extra = [n for n in dict.fromkeys(names) if n not in taken]
        return resolved


def _find(wanted: str, names: Sequence[str]) -> str | None:
    """The file's column called `wanted`: exactly, or else by its normalised spelling."""
    if wanted in names:
        return wanted
    norm = normalise_header(wanted)
    return next((n for n in names if normalise_header(n) == norm), None)


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) or "no columns"


def extra_warning(source: str, file: str, extra: Sequence[str], limit: int = 12) -> list[str]:
    """One warning per file for the columns bronze ignores (a Shopify export has dozens)."""
    if not extra:
        return []
    file = printable(file)  # a file's name is the sender's: never a raw control character in a warning
    if len(extra) == 1:
        return [f"{source}: {file}: extra column {printable(repr(extra[0]))} ignored"]
    shown = ", ".join(printable(repr(c)) for c in extra[:limit])
    more = f" and {len(extra) - limit} more" if len(extra) > limit else ""
    return [f"{source}: {file}: extra columns {shown}{more} ignored"]


# -- fill-down: order-level fields written on an order's first line only -----------------------
_STOP = "\x00cartflow-fill-down-stop\x00"
"""Marks a blank that starts a new group, so a forward fill does not cross into it."""


class FillDown:
    """Blank cells of `columns` take the value above when the row continues the same `by` group.

    Stateful across chunks: the last row of one chunk is the row above the next chunk's first.
    A blank on the first row of a group stays blank (silver reports it as missing).
    """

    def __init__(self, columns: Sequence[str], by: str) -> None:
        self.columns, self.by = tuple(columns), by
        self._last_key: str | None = None
        self._last: dict[str, str | None] = {}

    def apply(self, values: dict[str, pa.Array]) -> dict[str, pa.Array]:
        key = values[self.by]
        n = len(key)
        if not self.columns or n == 0:
            return values
        previous = pa.concat_arrays([pa.array([self._last_key], pa.string()), key.slice(0, n - 1)])
        same = pc.fill_null(pc.equal(key, previous), False)
        out = dict(values)
        for c in self.columns:
            arr = values[c]
            blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), True)
            take = pc.and_(blank, same)
            keep = pc.and_(blank, pc.invert(same))
            marked = pc.if_else(take, pa.scalar(None, pa.string()), pc.if_else(keep, _STOP, arr))
            carried = self._last.get(c)
            head = pa.array([_STOP if carried is None else carried], pa.string())
            filled = pc.fill_null_forward(pa.concat_arrays([head, marked])).slice(1)
            result = pc.if_else(keep, arr, filled)
            result = pc.if_else(pc.fill_null(pc.equal(result, _STOP), False), pa.scalar(None, pa.string()), result)
            out[c] = result
            self._last[c] = result[n - 1].as_py()
        self._last_key = key[n - 1].as_py()
        return out


# -- ISO timestamps rendered in a source's date format (stream batches, until silver reads ISO) ---
_ISO = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?\s*$"
_ISO_RE = re.compile(_ISO)


def render_iso_dates(arr: pa.Array, date_format: str, timezone: str) -> pa.Array:
    """ISO 8601 values of `arr` written in `date_format`; an offset is converted to `timezone` first.

    Only the values that look like ISO 8601 are touched (found with one vectorised regex);
    everything else, including text that is neither, is left for silver to judge.
    """
    iso = pc.fill_null(pc.match_substring_regex(arr, _ISO), False)
    if not pc.any(iso).as_py():
        return arr
    zone = ZoneInfo(timezone)
    values = arr.to_pylist()
    for i in pc.indices_nonzero(iso).to_pylist():
        try:
            ts = datetime.fromisoformat(values[i].strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if ts.tzinfo is not None:
            ts = ts.astimezone(zone).replace(tzinfo=None)
        values[i] = ts.strftime(date_format)
    return pa.array(values, pa.string())
