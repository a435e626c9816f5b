"""Data-quality panel: quarantined rows by reason, next to the rows accepted.

Unfiltered, it reads `mart_quarantine_summary`. A filter applies to quarantined rows
through their raw text (they were rejected, so nothing typed exists; see
`cube.RAW_DATE_FORMATS`): rows whose date cannot be read match no date range and are
counted apart, so the page can say how many it left out.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cartflow.dashboard._sql import filtered, records
from cartflow.dashboard.filters import Filter


def quarantine(con: duckdb.DuckDBPyConnection, f: Filter) -> dict[str, Any]:
    accepted = con.execute(f"SELECT COALESCE(SUM(lines), 0) FROM {filtered(f, table='cf_invoices')}").fetchone()[0]
    if f.is_all:
        rows = records(con, """
            SELECT reason, SUM(rows) AS rows FROM mart_quarantine_summary
            GROUP BY reason ORDER BY rows DESC, reason""")
        return {"source": "mart_quarantine_summary", "accepted_rows": int(accepted),
                "unattributed_rows": 0, "rows": rows}
    rows = records(con, f"""
        SELECT reason, SUM(rows) AS rows FROM cf_quarantine WHERE {f.where("raw_date", "raw_country")}
        GROUP BY reason ORDER BY rows DESC, reason""")
    unattributed = 0
    if f.date_from or f.date_to:
        unattributed = con.execute("SELECT COALESCE(SUM(rows), 0) FROM cf_quarantine WHERE raw_date IS NULL").fetchone()[0]
    return {"source": "cf_quarantine", "accepted_rows": int(accepted),
            "unattributed_rows": int(unattributed), "rows": rows}
