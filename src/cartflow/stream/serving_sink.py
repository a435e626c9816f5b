"""Serving sink: log → serving store, within a second of the POST.

It polls with a short timeout and writes every batch at once (no buffering), upserting
by event id, then commits. A crash between the write and the commit replays the batch
onto the same rows: nothing is doubled.

No single event can stall it. Each event ends in exactly one of three places before the
offsets move on:

* the store, the normal case;
* the dead letter (origin `serving-sink`) when the event itself is at fault: it is not an
  order line (`unreadable_event`), the store refuses its values on their own, such as a
  quantity beyond a 64-bit integer (`unwritable_event`), or its event id is already bound
  to other content (`event_id_conflict`: the first content keeps the id, a line is never
  moved to another invoice by a reused id);
* nowhere yet, when the store itself fails (unreachable, locked, disk full): the batch
  is retried from the committed offsets and nothing is dead-lettered.

A batch the store refuses is split in halves until the refused lines are alone, so one
bad line costs a few extra writes, not one write per line of the batch.
"""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Callable, TypeVar

from cartflow.serving.store import RejectedLines, ServingLine, ServingStore, amounts, line_type_of, normalise_customer
from cartflow.stream.consumers import commit_offsets
from cartflow.stream.deadletter import DeadLetterLog
from cartflow.stream.log import Event, LogConsumer
from cartflow.stream.metrics import DEAD_LETTERS, VISIBLE_SECONDS
from cartflow.stream.records import DEFAULT_DATE_FORMAT, parse_invoice_date

T = TypeVar("T")
Entry = tuple[str, list[dict], str]
"""A dead-letter entry: (reason, errors, record text)."""


class ServingSink:
    name = "serving-sink"
    max_records = 2_000
    poll_timeout = 0.1

    def __init__(self, store: ServingStore, dead_letters: DeadLetterLog, *, currency: str, source: str,
                 date_format: str) -> None:
        self.store, self.dead_letters = store, dead_letters
        self.currency, self.source, self.date_format = currency, source, date_format

    def assigned(self, consumer: LogConsumer, partitions: list[int]) -> None:
        pass

    def revoked(self, consumer: LogConsumer, partitions: list[int]) -> None:
        pass  # nothing buffered: every batch is committed before the next poll

    def handle(self, consumer: LogConsumer, events: list[Event]) -> None:
        decoded: list[tuple[Event, ServingLine, str]] = []
        bad: list[Entry] = []
        for e in events:
            try:
                line = line_from_event(e.value, currency=self.currency, source=self.source,
                                       date_format=self.date_format)
            except Exception as exc:  # noqa: BLE001 — pure decoding: whatever fails here is the event's fault
                bad.append(_entry("unreadable_event", e, f"not an order line: {_describe(exc)}"))
                continue
            decoded.append((e, line, content_hash(e.value)))
        kept = self._claimed(decoded, bad)
        refused = isolate(kept, lambda items: self.store.upsert([line for _, line in items]))
        if refused:
            self.store.ping()  # a store that stopped answering meanwhile is a retry, not these lines' fault
            bad += [_entry("unwritable_event", e, f"the serving store refused it: {exc}") for (e, _), exc in refused]
        if bad:
            self.dead_letters.add(bad, origin=self.name)  # durable before the offsets move past them
            for reason, _, _ in bad:
                DEAD_LETTERS.labels(reason).inc()
        consumer.commit(commit_offsets(events))
        now = time.time()
        for e in events:
            VISIBLE_SECONDS.observe(max(0.0, now - e.timestamp))

    def _claimed(self, decoded: list[tuple[Event, ServingLine, str]],
                 bad: list[Entry]) -> list[tuple[Event, ServingLine]]:
        """One line per event id, bound to its content; a different content under a bound id is a conflict.

        The API binds ids before it appends, so a conflict reaches the log only from a
        producer that bypasses the API (or two in one batch); a replay gets the same answer.
        """
        held: dict[str, str] = {}
        refused = isolate(decoded, lambda items: held.update(
            self.store.claim_events([(line.line_id, digest) for _, line, digest in items])))
        if refused:
            self.store.ping()
            bad += [_entry("unwritable_event", e, f"the serving store refused its event id: {exc}")
                    for (e, _, _), exc in refused]
        kept: dict[str, tuple[Event, ServingLine]] = {}
        for e, line, digest in decoded:
            if line.line_id not in held:
                continue  # refused above
            if held[line.line_id] != digest:
                bad.append(_entry("event_id_conflict", e, f"event id {line.line_id!r} was first accepted with "
                                  "other content, which is kept: send a changed line under a new event id"))
            else:
                kept.setdefault(line.line_id, (e, line))  # the same event twice in one batch: one row
        return list(kept.values())

    def tick(self, consumer: LogConsumer) -> None:
        pass

    def reset(self) -> None:
        pass

    def close(self, consumer: LogConsumer) -> None:
        pass


def isolate(items: list[T], write: Callable[[list[T]], object]) -> list[tuple[T, RejectedLines]]:
    """Write the items; when the store refuses the values, split in halves until the refused ones are alone.

    Returns each item the store refuses on its own, with the error; a `StoreError` (the
    store, not the values) propagates, so the caller retries instead of dead-lettering.
    """
    if not items:
        return []
    try:
        write(items)
        return []
    except RejectedLines as exc:
        if len(items) == 1:
            return [(items[0], exc)]
    half = len(items) // 2
    return isolate(items[:half], write) + isolate(items[half:], write)


def content_hash(value: bytes) -> str:
    """What binds an event id to its content: the API and the sink hash the same canonical bytes."""
    return hashlib.sha256(value).hexdigest()[:32]


def _entry(reason: str, e: Event, message: str) -> Entry:
    where = f"event at partition {e.partition} offset {e.offset}"
    return reason, [{"field": None, "message": f"{where}: {message}"}], e.value.decode("utf-8", "backslashreplace")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def line_from_event(value: bytes, *, currency: str, source: str,
                    date_format: str = DEFAULT_DATE_FORMAT) -> ServingLine:
    """A serving line from an event's canonical JSON; ValueError when it cannot be one."""
    record = json.loads(value)
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    invoice_no = (record.get("InvoiceNo") or "").strip()
    stock_code = (record.get("StockCode") or "").strip().upper()
    ts = parse_invoice_date(record.get("InvoiceDate") or "", date_format)
    if not invoice_no or not stock_code or ts is None:
        raise ValueError("InvoiceNo, StockCode and a parseable InvoiceDate are required")
    quantity = int(Decimal(str(record.get("Quantity")).strip()))
    price = Decimal(str(record.get("UnitPrice")).strip())
    line_type = line_type_of(invoice_no)
    gross, returns, net = amounts(line_type, quantity, price)
    description = record.get("Description")
    event_id = record.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event_id must be a non-empty string")
    return ServingLine(
        line_id=event_id, invoice_no=invoice_no, stock_code=stock_code,
        description=description.strip() if description and description.strip() else None,
        quantity=quantity, unit_price=price, invoice_ts=ts,
        customer_id=normalise_customer(record.get("CustomerID")),
        country=(record.get("Country") or "").strip() or None, line_type=line_type,
        gross_amount=gross, return_amount=returns, net_amount=net, currency=currency, source=source,
        event_id=event_id)
