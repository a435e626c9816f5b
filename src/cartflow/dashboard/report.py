"""`cartflow report --out report.html`: the dashboard as one self-contained HTML file.

Every script and style is inlined and the data embedded, so the file opens offline or
as an e-mail attachment. The unfiltered view embeds exactly what `/dashboard` shows
(the same panel answers, marts as published); filtering runs in the browser over the
month-grain cells of `report_cells.py`, gzip-compressed and base64-encoded (the
browser inflates them with its built-in DecompressionStream).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cartflow.dashboard.filters import Filter
from cartflow.dashboard.page import render_report
from cartflow.dashboard.panels import Dashboard
from cartflow.dashboard.report_cells import build_cells
from cartflow.lake.storage import Storage


@dataclass
class ReportResult:
    path: Path
    bytes: int
    empty: bool
    seconds: float


def report_html(storage: Storage, title: str = "cartflow report") -> tuple[str, bool]:
    """The report page for a lake, and whether the lake had nothing published yet."""
    dashboard = Dashboard(storage)
    try:
        snap = dashboard.snapshot()
        payload: dict = {"meta": snap.meta}
        if not snap.meta["empty"]:
            payload["all"] = dashboard.panels(Filter())
            cur = snap.con.cursor()  # type: ignore[union-attr]  # not empty: con is open
            try:
                payload["cells"] = build_cells(cur, snap.tables)
            finally:
                cur.close()
    finally:
        dashboard.close()
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    encoded = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render_report({"generated_at": generated}, encoded, title), bool(snap.meta["empty"])


def current_umask() -> int:
    """The process umask (read by setting it and putting it back: the only portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_report(storage: Storage, out: Path, title: str = "cartflow report") -> ReportResult:
    """Write the report atomically (a reader never sees half a file)."""
    import time

    started = time.perf_counter()
    page, empty = report_html(storage, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a report is a file to share, as `>` would
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ReportResult(out, out.stat().st_size, empty, round(time.perf_counter() - started, 2))
