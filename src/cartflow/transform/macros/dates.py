"""Dates in the shapes real exports use, read by rules written in cartflow.toml, never guessed.

Accepted shapes: ISO `YYYY-MM-DD` (optionally followed by a time), and `a/b/YYYY`,
`a-b-YYYY`, `a.b.YYYY` with one- or two-digit parts. For the day/month shapes each
separator has a rule from the source's `[sources.<name>.dates]`: `month_first`,
`day_first`, or `infer` — a part above 12 can only be the day; when both parts are 12 or
less and differ (`03/04/2022`) the date is ambiguous, and `ambiguous` says what happens:
`quarantine` (the default: the row goes to quarantine with reason `ambiguous_date`), or
read it `month_first` / `day_first`. A date that reads the same either way (`05/05/2022`)
is not ambiguous.

Built from REGEXP_EXTRACT, LPAD and TRY_CAST(... AS DATE), which DuckDB and Spark share;
the patterns use `[0-9]` rather than `\\d` so no backslash has to survive transpiling.
"""

from __future__ import annotations

from sqlglot import exp

from sqlmesh import macro

ISO = "^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})([ T].*)?$"
DMY = "^([0-9]{1,2})([/.-])([0-9]{1,2})[/.-]([0-9]{4})$"


def _parts(text: exp.Expression, slash: exp.Expression, dash: exp.Expression, dot: exp.Expression) -> dict[str, str]:
    t = f"TRIM(CAST({text.sql(dialect='duckdb')} AS VARCHAR))"

    def group(pattern: str, n: int) -> str:
        return f"REGEXP_EXTRACT({t}, '{pattern}', {n})"

    def day(y: str, m: str, d: str) -> str:
        return f"TRY_CAST({y} || '-' || LPAD({m}, 2, '0') || '-' || LPAD({d}, 2, '0') AS DATE)"

    a, sep, b, y = (group(DMY, i) for i in (1, 2, 3, 4))
    rules = {"slash": slash.sql(dialect="duckdb"), "dash": dash.sql(dialect="duckdb"), "dot": dot.sql(dialect="duckdb")}
    return {
        "blank": f"NULLIF({t}, '') IS NULL",
        "iso": day(group(ISO, 1), group(ISO, 2), group(ISO, 3)),
        "month_first": day(y, a, b),
        "day_first": day(y, b, a),
        "rule": f"CASE {sep} WHEN '/' THEN {rules['slash']} WHEN '-' THEN {rules['dash']} ELSE {rules['dot']} END",
    }


@macro()
def parse_day(evaluator, text, slash, dash, dot, ambiguous) -> exp.Expression:
    """The DATE `text` stands for under the rules; NULL when blank, unparseable or ambiguous-and-quarantined."""
    p = _parts(text, slash, dash, dot)
    amb = ambiguous.sql(dialect="duckdb")
    sql = f"""CASE
      WHEN {p['blank']} THEN NULL
      WHEN {p['iso']} IS NOT NULL THEN {p['iso']}
      WHEN {p['rule']} = 'month_first' THEN {p['month_first']}
      WHEN {p['rule']} = 'day_first' THEN {p['day_first']}
      WHEN {p['month_first']} IS NOT NULL AND {p['day_first']} IS NOT NULL AND {p['month_first']} <> {p['day_first']}
        THEN CASE {amb} WHEN 'month_first' THEN {p['month_first']} WHEN 'day_first' THEN {p['day_first']} END
      ELSE COALESCE({p['month_first']}, {p['day_first']})
    END"""
    return exp.maybe_parse(sql, dialect="duckdb")


@macro()
def day_reading(evaluator, text, slash, dash, dot, ambiguous) -> exp.Expression:
    """How the date was read: missing, iso, month_first|day_first (by rule or the only valid reading),
    same_either_way, ambiguous (to quarantine), ambiguous_read_<rule>, or unparseable."""
    p = _parts(text, slash, dash, dot)
    amb = ambiguous.sql(dialect="duckdb")
    sql = f"""CASE
      WHEN {p['blank']} THEN 'missing'
      WHEN {p['iso']} IS NOT NULL THEN 'iso'
      WHEN {p['rule']} = 'month_first'
        THEN CASE WHEN {p['month_first']} IS NULL THEN 'unparseable' ELSE 'month_first_by_rule' END
      WHEN {p['rule']} = 'day_first'
        THEN CASE WHEN {p['day_first']} IS NULL THEN 'unparseable' ELSE 'day_first_by_rule' END
      WHEN {p['month_first']} IS NOT NULL AND {p['day_first']} IS NOT NULL AND {p['month_first']} <> {p['day_first']}
        THEN CASE {amb} WHEN 'month_first' THEN 'ambiguous_read_month_first'
                        WHEN 'day_first' THEN 'ambiguous_read_day_first' ELSE 'ambiguous' END
      WHEN {p['month_first']} IS NOT NULL AND {p['day_first']} IS NOT NULL THEN 'same_either_way'
      WHEN {p['month_first']} IS NOT NULL THEN 'month_first'
      WHEN {p['day_first']} IS NOT NULL THEN 'day_first'
      ELSE 'unparseable'
    END"""
    return exp.maybe_parse(sql, dialect="duckdb")
