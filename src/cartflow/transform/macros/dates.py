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


ISO_TIMESTAMP = (
    "^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]+)?)?)?)"  # date, time
    "(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$"  # zone: Z, +01, +0100, +01:00
)
"""ISO 8601 as exports write it: `2024-03-05`, `2024-03-05 14:12`, `2024-03-05T14:12:01.5+01:00`, `...Z`."""


def strptime_expression(evaluator, value: exp.Expression, fmt: exp.Expression) -> exp.Expression:
    """``value`` parsed with a strftime ``fmt`` (a literal), NULL when it does not parse.

    ``TRY(STRPTIME(v, fmt))`` survives SQLMesh's DuckDB round trip and is written for Spark
    as ``TO_TIMESTAMP(v, 'M/d/yyyy H:mm')`` (NULL on bad input while ANSI mode is off); on a
    Spark engine ``TRY_TO_TIMESTAMP`` is emitted instead, NULL either way.
    """
    adapter = evaluator.locals.get("engine_adapter") if evaluator is not None else None
    engine = getattr(adapter, "dialect", None)
    if engine in ("spark", "databricks") and isinstance(fmt, exp.Literal):
        from sqlglot.dialects.dialect import Dialect
        from sqlglot.time import format_time

        target = Dialect.get_or_raise(engine)
        java_format = format_time(fmt.this, target.INVERSE_TIME_MAPPING, target.INVERSE_TIME_TRIE)
        return exp.Anonymous(this="TRY_TO_TIMESTAMP", expressions=[value, exp.Literal.string(java_format)])
    return exp.Try(this=exp.StrToTime(this=value, format=fmt))


def _formats(formats: tuple[exp.Expression, ...]) -> list[str]:
    """The distinct format literals among the arguments (arrays flattened), in order."""
    out: list[str] = []
    for arg in formats:
        items = arg.expressions if isinstance(arg, (exp.Array, exp.Tuple)) else [arg]
        out += [item.this for item in items if isinstance(item, exp.Literal) and item.this]
    return list(dict.fromkeys(out))


def iso_timestamp_sql(text: str, timezone: str) -> str:
    """The shop-local TIMESTAMP an ISO 8601 text stands for; NULL when it is not ISO 8601.

    Naive texts are already shop-local. A zone offset (or `Z`, read as +00) is taken off to
    get UTC, then UTC is shown in the project's time zone (`AT TIME ZONE`: DuckDB's ICU,
    Spark's FROM_UTC_TIMESTAMP), daylight saving included. Kept compact on purpose: Spark
    stores a view's text in the Hive metastore, which holds at most 32,700 characters.
    """
    local = f"TRY_CAST(REPLACE(REGEXP_EXTRACT({text}, '{ISO_TIMESTAMP}', 1), 'T', ' ') AS TIMESTAMP)"
    zone = f"REGEXP_EXTRACT({text}, '{ISO_TIMESTAMP}', 2)"
    digits = f"REPLACE(REPLACE({zone}, 'Z', '+00'), ':', '')"  # +0100, +01, +00
    minutes = (f"(CAST(SUBSTRING({digits}, 1, 3) AS INT) * 60"
               f" + CAST(SUBSTRING({digits}, 1, 1) || COALESCE(NULLIF(SUBSTRING({digits}, 4, 2), ''), '00') AS INT))")
    return (f"CASE WHEN {zone} = '' THEN {local}"
            f" ELSE ({local} - {minutes} * INTERVAL '1' MINUTE) AT TIME ZONE 'UTC' AT TIME ZONE {timezone} END")


@macro()
def parse_timestamp(evaluator, text, date_format, timezone, *formats) -> exp.Expression:
    """The shop-local TIMESTAMP of `text`: by the source's `date_format`, else ISO 8601; NULL when neither.

    `date_format` and `timezone` are columns (bronze.source_settings: per source, read
    each run); `formats` lists every strftime format the project's sources use (the
    `date_formats` variable, plus any fallback), because DuckDB's STRPTIME needs a constant
    format: the row's format picks its branch.
    """
    t = f"TRIM(CAST({text.sql(dialect='duckdb')} AS VARCHAR))"
    tz = f"COALESCE({timezone.sql(dialect='duckdb')}, 'UTC')"
    branches = [
        f"WHEN {exp.Literal.string(f).sql(dialect='duckdb')} THEN " + _by_format(evaluator, text, f, tz)
        for f in _formats(formats)
    ]
    by_format = f"CASE {date_format.sql(dialect='duckdb')} {' '.join(branches)} END" if branches else "NULL"
    sql = f"COALESCE({by_format}, {iso_timestamp_sql(t, tz)})"
    return exp.maybe_parse(sql, dialect="duckdb")


def _by_format(evaluator, text: exp.Expression, fmt: str, tz: str) -> str:
    """`text` parsed with one strftime format; a format with a zone (`%z`, `%Z`) gives an
    instant, shown in the shop's time zone like an ISO 8601 offset is."""
    parsed = strptime_expression(evaluator, text.copy(), exp.Literal.string(fmt)).sql(dialect="duckdb")
    if "%z" in fmt or "%Z" in fmt:
        return f"({parsed}) AT TIME ZONE {tz}"
    return parsed


@macro()
def parse_date(evaluator, text, ts, slash, dash, dot, ambiguous) -> exp.Expression:
    """The DATE of `text`: the day of `ts` (its @parse_timestamp: the source's format or ISO 8601,
    zone converted) when it parsed, else the day/month rules (@parse_day)."""
    day = parse_day(evaluator, text, slash, dash, dot, ambiguous).sql(dialect="duckdb")
    return exp.maybe_parse(f"COALESCE(CAST({ts.sql(dialect='duckdb')} AS DATE), {day})", dialect="duckdb")


@macro()
def date_reading(evaluator, text, ts, slash, dash, dot, ambiguous) -> exp.Expression:
    """As @day_reading, but `iso` or `date_format` when `ts` (its @parse_timestamp) parsed."""
    reading = day_reading(evaluator, text, slash, dash, dot, ambiguous).sql(dialect="duckdb")
    iso = f"REGEXP_MATCHES(TRIM(CAST({text.sql(dialect='duckdb')} AS VARCHAR)), '{ISO_TIMESTAMP}')"
    sql = (f"CASE WHEN {ts.sql(dialect='duckdb')} IS NOT NULL"
           f" THEN CASE WHEN {iso} THEN 'iso' ELSE 'date_format' END ELSE {reading} END")
    return exp.maybe_parse(sql, dialect="duckdb")
