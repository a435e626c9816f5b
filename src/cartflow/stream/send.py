"""`cartflow send`: replay an Online Retail CSV into the ingest API, as the storefront did.

Rows become JSON objects under the Online Retail field names (Quantity and UnitPrice as
numbers, a missing CustomerID as null), sent in batches. 5xx answers, 429, timeouts and
connection errors are retried with exponential backoff; since event ids derive from the
content, a retried batch never doubles a line. 4xx answers other than 429 are not
retried: they mean the request itself must change.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from cartflow.entities import ORDER_LINES, normalise_header
from cartflow.stream.records import FIELDS

INGEST_PATH = "/v1/order-lines"
_FIELD_OF = {alias: c.api_name for c in ORDER_LINES.columns if c.api_name for alias in c.spellings()}


class SendAborted(Exception):
    """Every further request would fail the same way (bad key, batch over the limit)."""


@dataclass
class SendSummary:
    rows: int = 0
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    failed_batches: int = 0
    failed_rows: int = 0
    retries: int = 0
    seconds: float = 0.0
    event_ids: list[str] = field(default_factory=list)
    keep_event_ids: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def ingest_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(INGEST_PATH) else url + INGEST_PATH


def csv_records(path: Path, encoding: str = "latin-1", on_bytes: Callable[[int], None] | None = None
                ) -> Iterator[dict[str, Any]]:
    """JSON-ready records from a Kaggle-style CSV (latin-1, CRLF, quoted fields)."""
    with path.open("rb") as f:
        def lines() -> Iterator[str]:
            for raw in f:
                if on_bytes:
                    on_bytes(len(raw))
                yield raw.decode(encoding)

        reader = csv.reader(lines())
        header = next(reader, None)
        if header is None:
            return
        names = [_FIELD_OF.get(normalise_header(h), h) for h in header]
        missing = [f for f in ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice") if f not in names]
        if missing:
            raise ValueError(f"{path}: header {header} lacks {', '.join(missing)}: is this an Online Retail CSV?")
        for row in reader:
            if row:
                yield to_record(dict(zip(names, row, strict=False)))  # short rows: missing fields


def to_record(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = row.get(name)
        if value is None or value == "":
            out[name] = None if name in ("CustomerID", "Description", "Country") else value
        elif name in ("Quantity", "CustomerID"):
            out[name] = _number(value, integer=True)
        elif name == "UnitPrice":
            out[name] = _number(value, integer=False)
        else:
            out[name] = value
    return out


def _number(text: str, integer: bool) -> Any:
    try:
        if integer:
            number = float(text)
            return int(number) if number.is_integer() else text
        return float(text)  # repr() of a float is the shortest text that round-trips: "2.55" stays 2.55
    except ValueError:
        return text  # sent as text: the API rejects it with a clear per-record error


def send_file(path: Path, url: str, api_key: str | None, *, batch: int = 500, rate: float | None = None,
              retries: int = 8, timeout: float = 30.0, encoding: str = "latin-1", limit: int | None = None,
              on_progress: Callable[[int, int], None] | None = None, keep_event_ids: bool = False) -> SendSummary:
    """POST the file's rows in batches; `on_progress(bytes_read, rows_sent)` after each batch.

    `keep_event_ids` collects the acknowledged ids in the summary (for checks and tests).
    """
    summary = SendSummary()
    summary.keep_event_ids = keep_event_ids
    read = 0

    def count(n: int) -> None:
        nonlocal read
        read += n

    started = time.monotonic()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    with httpx.Client(timeout=timeout, headers=headers) as client:
        chunk: list[dict[str, Any]] = []
        for record in csv_records(path, encoding, on_bytes=count):
            chunk.append(record)
            if limit is not None and summary.rows + len(chunk) >= limit:
                break
            if len(chunk) >= batch:
                _post(client, ingest_url(url), chunk, summary, retries)
                chunk = []
                _pace(rate, started, summary.rows)
                if on_progress:
                    on_progress(read, summary.rows)
        if chunk:
            _post(client, ingest_url(url), chunk, summary, retries)
        if on_progress:
            on_progress(read, summary.rows)
    summary.seconds = time.monotonic() - started
    return summary


def _pace(rate: float | None, started: float, sent: int) -> None:
    if rate:
        ahead = started + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def _post(client: httpx.Client, url: str, records: list[dict[str, Any]], summary: SendSummary, retries: int) -> None:
    body = json.dumps(records, ensure_ascii=False).encode("utf-8")
    summary.batches += 1
    summary.rows += len(records)
    delay = 0.5
    for attempt in range(retries + 1):
        problem = None
        try:
            response = client.post(url, content=body)
        except httpx.TimeoutException:
            problem = "timeout"
        except httpx.TransportError as exc:
            problem = f"connection error: {exc}"
        else:
            if response.status_code in (202, 422):
                result = response.json()
                summary.accepted += result["accepted"]
                summary.rejected += result["rejected"]
                if summary.keep_event_ids:
                    summary.event_ids += result["event_ids"]
                return
            if response.status_code in (401, 403):
                raise SendAborted(f"{url}: {_message(response)} (pass --api-key or set the key's env var)")
            if response.status_code == 413:
                raise SendAborted(f"{url}: {_message(response)} (try a smaller --batch)")
            if response.status_code < 500 and response.status_code != 429:
                summary.failed_batches += 1
                summary.failed_rows += len(records)
                summary.errors.append(f"batch {summary.batches}: HTTP {response.status_code}: {_message(response)}")
                return
            problem = f"HTTP {response.status_code}: {_message(response)}"
        if attempt < retries:
            summary.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    summary.failed_batches += 1
    summary.failed_rows += len(records)
    summary.errors.append(f"batch {summary.batches}: gave up after {retries} retries: {problem}")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except (ValueError, AttributeError):
        return response.text[:200]
