"""Sections of docs/benchmarks.md added for issue 15: the output checks of a batch, and the light commands."""

from __future__ import annotations

from typing import Any

MIB = 2**20


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms")


def render_checks(checks: dict[str, Any]) -> str:
    """What each implementation produced (first round), and whether it matches the pandas baseline."""
    digests = checks.get("digests") or {}
    if not digests:
        return ""
    out = []
    label = "pandas" if "pandas" in digests else next(iter(digests))
    reference = digests[label]
    if "error" not in reference:
        figures = [f"{reference['months']} months" if "months" in reference else "",
                   f"net revenue {reference['net_revenue']:,.2f}" if "net_revenue" in reference else "",
                   f"{reference['orders']:,} orders" if "orders" in reference else "",
                   f"{reference['top_products_rows']} top-product rows" if "top_products_rows" in reference else "",
                   f"{reference['rfm_customers']:,} RFM customers" if "rfm_customers" in reference else ""]
        out.append(f"Mart figures of {label}: " + ", ".join(f for f in figures if f) + ".")
    for name, found in (checks.get("differences") or {}).items():
        compared = ", ".join(checks.get("compared", {}).get(name) or []) or "nothing"
        if found:
            out.append(f"**⚠ {name} differs from the pandas baseline** ({compared}): " + "; ".join(found))
        else:
            out.append(f"{name} agrees with the pandas baseline line for line on {compared}.")
    errors = [f"{name}: {d['error']}" for name, d in digests.items() if "error" in d]
    if errors:
        out.append("Could not read the outputs of " + "; ".join(errors) + ".")
    return " ".join(out) + "\n"


def render_light(light: dict[str, Any] | None) -> str:
    out = ["## 6. Light commands\n"]
    if not light:
        out.append("Not measured in this invocation.\n")
        return "\n".join(out) + "\n"
    if not light.get("ok"):
        out.append(f"Failed: {light.get('error')}\n")
        return "\n".join(out) + "\n"
    out.append(f"Whole processes, {light['rounds']} rounds, each round the three commands one after the other "
               f"on a project that has run and has nothing new (`{light['project'].rsplit('/', 1)[-1]}`); the "
               f"ratio is taken within each round, then the median. `cartflow sql` runs `{light['sql']}`."
               + (f" (Measured by the invocation started {light['reused_from']}, kept with `--reuse`.)"
                  if light.get("reused_from") else "") + "\n")
    out.append("| command | wall time, median (min–max) | peak RSS | / bare import | imports SQLMesh? | heaviest imports |")
    out.append("|---|---|---|---|---|---|")
    for name, x in light["commands"].items():
        imports = x.get("imports") or {}
        heavy = ", ".join(f"`{n}` {s:.2f} s" for n, s in (imports.get("heaviest") or [])[:3]) or "–"
        sqlmesh = "–" if not imports else ("**yes**" if imports.get("sqlmesh") else "no") + (
            ", and pyspark" if imports.get("pyspark") else "")
        label = ("`python -c \"import duckdb\"`" if name == "import duckdb"
                 else f"`{name.split(' (')[0]}`" + (" (" + name.split(" (", 1)[1] if " (" in name else ""))
        out.append(f"| {label} | {_s(x['median'])} ({_s(x['min'])}–{_s(x['max'])}) | {x['rss'] / MIB:.0f} MiB | "
                   f"{x['over_import']:.1f}× | {sqlmesh} | {heavy} |")
    out.append("\nThe imports come from one more run of each command under `python -X importtime` (cumulative "
               "seconds, two levels deep, so a package and the module that pulled it in can both appear).\n")
    return "\n".join(out) + "\n"
