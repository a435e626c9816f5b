"""The dashboard page: one HTML template, served live or written as a self-contained file.

Live, the page links its scripts and styles from `/dashboard/static/` and fetches its
numbers from the JSON endpoints. As a report, the same template gets every asset
inlined and the pre-aggregated data embedded, so the one file works offline.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
STYLES = ("dashboard.css",)
#: load order matters: charts.js defines CF.fmt, CF.dates and CF.charts; render.js CF.render;
#: report.js CF.reportSource; dashboard.js starts the page
LIVE_SCRIPTS = ("charts.js", "render.js", "dashboard.js")
REPORT_SCRIPTS = ("charts.js", "render.js", "report.js", "dashboard.js")
STATIC_FILES = frozenset(STYLES + REPORT_SCRIPTS)


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no `</script>` or `<!--` can end or confuse the element."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")


def _template() -> str:
    return (PACKAGE_DIR / "template.html").read_text(encoding="utf-8")


def _fill(values: dict[str, str]) -> str:
    """Fill `{name}` slots in one pass, so inserted code is never scanned for slots."""
    return re.sub(r"\{(title|subtitle|styles|scripts|config)\}", lambda m: values[m.group(1)], _template())


def render_page(base: str = "/dashboard") -> str:
    """The live page: assets under `{base}/static/`, data from `{base}/api`."""
    config = {"mode": "live", "api": f"{base}/api"}
    return _fill({
        "title": "cartflow dashboard",
        "subtitle": "dashboard",
        "styles": "\n".join(f'<link rel="stylesheet" href="{html.escape(base)}/static/{s}">' for s in STYLES),
        "scripts": "\n".join(f'<script src="{html.escape(base)}/static/{s}"></script>' for s in LIVE_SCRIPTS),
        "config": _json_for_script(config),
    })


def render_report(config: dict[str, Any], payload: str, title: str) -> str:
    """The offline report: every asset inlined, `payload` (base64 gzip JSON) embedded."""
    styles = "\n".join(f"<style>\n{(STATIC_DIR / s).read_text(encoding='utf-8')}\n</style>" for s in STYLES)
    scripts = "\n".join(f"<script>\n{_inline_js(s)}\n</script>" for s in REPORT_SCRIPTS)
    data = f'<script id="cf-data" type="application/octet-stream">{payload}</script>'
    return _fill({
        "title": html.escape(title),
        "subtitle": "report",
        "styles": styles,
        "scripts": data + "\n" + scripts,
        "config": _json_for_script({"mode": "report", **config}),
    })


def _inline_js(name: str) -> str:
    # a literal "</script" inside inlined code would end the element early
    return (STATIC_DIR / name).read_text(encoding="utf-8").replace("</script", "<\\/script")
