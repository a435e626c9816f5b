"""Data-quality panel: quarantined order lines by reason, next to the rows accepted.

The dashboard's filter is about order lines, so the reasons and shares are those of the
order-line quarantine. Unfiltered, they come from `mart_quarantine_summary`. A filter
applies to quarantined rows through their raw text (they were rejected, so nothing typed
exists; see `cube.RAW_DATE_FORMATS`): rows whose date cannot be read match no date range
and are counted apart, so the page can say how many it left out. Other entities' quarantine
(customers, products, … from other sources) has no invoice date or country: it is listed
for the whole lake, whatever the filter.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartflow.dashboard._sql import filtered, records
from cartflow.dashboard.filters import Filter

ENTITY = "order_lines"


def _other_entities(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "mart_quarantine_summary" not in tables:
        return []
    received = ("(SELECT entity, SUM(received) AS received FROM mart_source_rows GROUP BY entity)"
                if "mart_source_rows" in tables else "(SELECT NULL AS entity, NULL AS received)")
    return records(con, f"""
        SELECT q.entity, SUM(q.rows) AS rows, ANY_VALUE(r.received) AS received
        FROM mart_quarantine_summary AS q LEFT JOIN {received} AS r ON q.entity = r.entity
        WHERE q.entity <> '{ENTITY}' GROUP BY q.entity ORDER BY rows DESC, q.entity""")


def quarantine(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    accepted = con.execute(f"SELECT COALESCE(SUM(lines), 0) FROM {filtered(f, table='cf_invoices')}").fetchone()[0]  # type: ignore[index]  # an aggregate returns one row
    others = _other_entities(con)
    if f.is_all:
        rows = records(con, f"""
            SELECT reason, SUM(rows) AS rows FROM mart_quarantine_summary WHERE entity = '{ENTITY}'
            GROUP BY reason ORDER BY rows DESC, reason""")
        return {"source": "mart_quarantine_summary", "accepted_rows": int(accepted),
                "unattributed_rows": 0, "rows": rows, "other_entities": others}
    rows = records(con, f"""
        SELECT reason, SUM(rows) AS rows FROM cf_quarantine WHERE {f.where("raw_date", "raw_country")}
        GROUP BY reason ORDER BY rows DESC, reason""")
    unattributed = 0
    if f.date_from or f.date_to:
        unattributed = con.execute("SELECT COALESCE(SUM(rows), 0) FROM cf_quarantine WHERE raw_date IS NULL").fetchone()[0]  # type: ignore[index]  # an aggregate returns one row
    return {"source": "cf_quarantine", "accepted_rows": int(accepted),
            "unattributed_rows": int(unattributed), "rows": rows, "other_entities": others}
