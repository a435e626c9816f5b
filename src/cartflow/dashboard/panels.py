"""Every dashboard panel, computed in SQL, with the pre-aggregates and answers cached.

A snapshot is one publication of the marts: an in-memory DuckDB with a view per
published table (`cartflow.serving.sql.connect`, over the lake's Parquet) and the
pre-aggregates of `cube.py`. It is built on first use and again whenever
`marts/_catalog.json` says a newer run published, so a new `cartflow run` shows up on
the next request while repeated requests cost nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import duckdb

from cartflow.dashboard import queries_customers as customers
from cartflow.dashboard import queries_products as products
from cartflow.dashboard import queries_quality as quality
from cartflow.dashboard import queries_sales as sales
from cartflow.dashboard._sql import plain
from cartflow.dashboard.cube import build_cube
from cartflow.dashboard.filters import Filter
from cartflow.lake.marts import published_tables
from cartflow.lake.storage import Storage
from cartflow.serving.sql import connect

Query = Callable[[duckdb.DuckDBPyConnection, Filter], dict[str, Any]]
_PRODUCTS = ("cf_products_month", "cf_products_day", "cf_product_names")

#: panel name → (query, tables it reads: published marts and cube pre-aggregates)
PANELS: dict[str, tuple[Query, tuple[str, ...]]] = {
    "kpis": (sales.kpis, ("cf_invoices",)),
    "revenue_weekly": (partial(sales.revenue, period="weekly"), ("mart_revenue_weekly", "cf_invoices")),
    "revenue_monthly": (partial(sales.revenue, period="monthly"), ("mart_revenue_monthly", "cf_invoices")),
    "revenue_quarterly": (partial(sales.revenue, period="quarterly"), ("mart_revenue_quarterly", "cf_invoices")),
    "hourly": (sales.hourly, ("cf_invoices",)),
    "weekday": (sales.weekday, ("cf_invoices",)),
    "seasons": (products.seasons, ("mart_top_products_by_season", *_PRODUCTS)),
    "products": (products.top_products, _PRODUCTS),
    "customers": (customers.top_customers, ("cf_invoices",)),
    "invoices": (customers.largest_invoices, ("cf_orders",)),
    "countries": (sales.countries, ("cf_invoices",)),
    "rfm": (customers.rfm, ("mart_customer_rfm", "cf_invoices")),
    "cohorts": (customers.cohorts, ("mart_cohort_retention", "cf_invoices")),
    "quarantine": (quality.quarantine, ("mart_quarantine_summary", "cf_quarantine", "cf_invoices")),
}

#: the table whose absence means "nothing published yet"
CORE_TABLE = "fct_order_line"


@dataclass
class Snapshot:
    """One publication: a DuckDB database with the published views and the cube."""

    version: str | None
    con: duckdb.DuckDBPyConnection | None
    tables: set[str] = field(default_factory=set)
    meta: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0

    def run(self, name: str, f: Filter) -> dict[str, Any]:
        query, needs = PANELS[name]
        missing = [t for t in needs if t not in self.tables]
        if missing:
            return {"missing": missing}
        # one cursor per call: requests run in parallel threads (tables exist: so does the connection)
        cur = self.con.cursor()  # type: ignore[union-attr]
        try:
            return query(cur, f)
        finally:
            cur.close()


def _build(storage: Storage, version: str | None) -> Snapshot:
    started = time.perf_counter()
    published = set(published_tables(storage))
    meta: dict[str, Any] = {"empty": CORE_TABLE not in published, "published_at": version,
                            "tables": sorted(published), "date_min": None, "date_max": None,
                            "countries": [], "order_lines": 0, "currency": None}
    if meta["empty"]:
        return Snapshot(version, None, published, meta)
    con = connect(storage)
    con.execute("SET enable_progress_bar = false")  # a server's and a report's stderr are no terminal
    tables = published | build_cube(con, published)
    lo, hi, n = con.execute("SELECT MIN(invoice_date), MAX(invoice_date), SUM(lines) FROM cf_invoices").fetchone()  # type: ignore[misc]  # an aggregate returns one row
    countries = [r[0] for r in con.execute(
        "SELECT country FROM cf_invoices WHERE country IS NOT NULL "
        "GROUP BY country ORDER BY SUM(lines) DESC, country").fetchall()]
    currency = con.execute("SELECT currency FROM fct_order_line WHERE currency IS NOT NULL LIMIT 1").fetchone()
    meta.update(date_min=plain(lo), date_max=plain(hi), order_lines=int(n or 0), countries=countries,
                currency=currency[0] if currency else None)
    return Snapshot(version, con, tables, meta, round(time.perf_counter() - started, 3))


class Dashboard:
    """The dashboard's data over one lake: metadata and panels for any filter."""

    def __init__(self, storage: Storage, cache_size: int = 64) -> None:
        self.storage = storage
        self._snapshot: Snapshot | None = None
        self._answers: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def publication(self) -> str | None:
        """When the marts were last published (from `marts/_catalog.json`), or None."""
        try:
            return json.loads(self.storage.read_bytes("marts/_catalog.json")).get("published_at")
        except Exception:  # noqa: BLE001 — no catalog (yet), or unreadable: rebuild every time
            return None

    def snapshot(self) -> Snapshot:
        """The current publication's snapshot, built once (concurrent callers wait for it)."""
        version = self.publication()
        with self._lock:
            snap = self._snapshot
            if snap is None or version is None or snap.version != version:
                # the old snapshot is dropped, not closed: requests still using it finish
                snap = self._snapshot = _build(self.storage, version)
                self._answers.clear()
            return snap

    def meta(self) -> dict[str, Any]:
        """Date bounds and countries for the filter, or `empty` when nothing is published."""
        return self.snapshot().meta

    def panels(self, f: Filter, names: list[str] | None = None) -> dict[str, Any]:
        """The named panels (all by default) for one filter."""
        snap = self.snapshot()
        names = list(names or PANELS)
        key = (snap.version, f.key(), tuple(names))
        with self._lock:
            if snap.version is not None and key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        started = time.perf_counter()
        result: dict[str, Any] = {"filter": f.as_dict(), "empty": snap.meta["empty"],
                                  "published_at": snap.version, "panels": {}}
        if not snap.meta["empty"]:
            result["panels"] = {name: snap.run(name, f) for name in names}
        result["seconds"] = round(time.perf_counter() - started, 3)
        with self._lock:
            self._answers[key] = result
            while len(self._answers) > self._cache_size:
                self._answers.popitem(last=False)
        return result

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None and self._snapshot.con is not None:
                self._snapshot.con.close()
            self._snapshot = None
