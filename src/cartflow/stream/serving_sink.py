"""Serving sink: log → serving store, within a second of the POST.

It polls with a short timeout and writes every batch at once (no buffering), upserting
by event id, then commits. A crash between the write and the commit replays the batch
onto the same rows: nothing is doubled. An event that cannot become a line (written to
the topic by something other than the API) goes to the dead letter, not into a loop.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from cartflow.serving.store import (ServingLine, ServingStore, amounts, line_type_of, normalise_customer)
from cartflow.stream.consumers import commit_offsets
from cartflow.stream.deadletter import DeadLetterLog
from cartflow.stream.log import Event, LogConsumer
from cartflow.stream.metrics import DEAD_LETTERS, VISIBLE_SECONDS
from cartflow.stream.records import DEFAULT_DATE_FORMAT, parse_invoice_date


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
        lines: dict[str, ServingLine] = {}
        bad: list[tuple[str, list[dict], str]] = []
        for e in events:
            try:
                line = line_from_event(e.value, currency=self.currency, source=self.source,
                                       date_format=self.date_format)
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                message = f"event at partition {e.partition} offset {e.offset} is not an order line: {exc}"
                bad.append(("unreadable_event", [{"field": None, "message": message}],
                            e.value.decode("utf-8", "replace")))
                continue
            lines[line.line_id] = line  # the same event twice in one batch: one row
        self.store.upsert(list(lines.values()))
        if bad:
            self.dead_letters.add(bad, origin=self.name)
            DEAD_LETTERS.labels("unreadable_event").inc(len(bad))
        consumer.commit(commit_offsets(events))
        now = time.time()
        for e in events:
            VISIBLE_SECONDS.observe(max(0.0, now - e.timestamp))

    def tick(self, consumer: LogConsumer) -> None:
        pass

    def reset(self) -> None:
        pass

    def close(self, consumer: LogConsumer) -> None:
        pass


def line_from_event(value: bytes, *, currency: str, source: str,
                    date_format: str = DEFAULT_DATE_FORMAT) -> ServingLine:
    """A serving line from an event's canonical JSON; ValueError when it cannot be one."""
    record = json.loads(value)
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
    return ServingLine(
        line_id=record["event_id"], invoice_no=invoice_no, stock_code=stock_code,
        description=description.strip() if description and description.strip() else None,
        quantity=quantity, unit_price=price, invoice_ts=ts,
        customer_id=normalise_customer(record.get("CustomerID")),
        country=(record.get("Country") or "").strip() or None, line_type=line_type,
        gross_amount=gross, return_amount=returns, net_amount=net, currency=currency, source=source,
        event_id=record["event_id"])
