"""The entity contracts (cartflow.entities) as SQL: silver's range and length checks.

A model names the entity and the column; the bound comes from the contract, so editing
a `Column`'s `minimum`, `maximum` or `max_length` changes silver with no SQL edit, and a
check on a column the contract does not bound fails when the project loads:

    WHEN @too_long(invoice_no, 'order_lines', 'invoice_no') THEN 'too_long:invoice_no'
    WHEN @out_of_range(quantity_text, 'order_lines', 'quantity') THEN 'out_of_range:quantity'
    WHEN @out_of_range(invoice_ts, 'order_lines', 'invoice_date', window_start, window_end) ...

Numbers are checked on their *text*: a value too large for the column's SQL type does
not parse at all, and must still say "out of range", not "unparseable". The date window
([contract] earliest_date, future_days) moves with "now", so its bounds are data (columns
of bronze.source_settings, written by the pipeline each run), never SQLMesh variables: a
changed variable would change every model's fingerprint and re-plan each run.

Built from TRY_CAST, REGEXP_MATCHES, LENGTH and comparisons, which DuckDB and Spark share.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from sqlglot import exp
from sqlmesh import macro

import cartflow.entities as entities

NUMBER_SHAPE = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
"""A decimal number in plain or scientific notation: what is out of range rather than unparseable."""
PLAIN_SHAPE = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$"
"""A decimal number without an exponent: the shape of columns that do not take scientific notation."""
WHOLE_SHAPE = "^[+-]?[0-9]+([.]0*)?$"
"""A whole number as the contract reads it (`3`, `+3`, `3.0`; values.parse_whole)."""


def _name(arg: exp.Expression) -> str:
    """A macro argument given as a string literal ('order_lines') or a bare name (order_lines)."""
    return arg.this if isinstance(arg, exp.Literal) else arg.name


def contract_column(entity_arg: exp.Expression, column_arg: exp.Expression) -> entities.Column:
    """The contract's column; a KeyError naming the known ones when the model names another.

    (Module attributes, not imported names: SQLMesh stores a macro's globals with each
    model, and a module is stored as its import.)"""
    return entities.entity(_name(entity_arg)).column(_name(column_arg))


def _sql(expression: exp.Expression) -> str:
    return expression.sql(dialect="duckdb")


def _number(value: int | Decimal, scale: int = 3) -> str:
    return f"CAST('{value}' AS DECIMAL(38, {scale}))"


def _numeric_out_of_range(text: str, column: entities.Column, whole: bool) -> str:
    low, high = column.minimum, column.maximum
    scale = column.scale if column.scale is not None else 3
    bounds = " OR ".join(
        part for part in (
            f"wide < {_number(low, scale)}" if low is not None else "",
            f"wide > {_number(high, scale)}" if high is not None else "",
        ) if part
    )
    shape = WHOLE_SHAPE if whole else NUMBER_SHAPE if column.scientific else PLAIN_SHAPE
    wide = f"TRY_CAST({text} AS DECIMAL(38, {scale}))"
    in_shape = f"REGEXP_MATCHES({text}, '{shape}')"
    # Texts a DECIMAL(38, scale) cannot hold (1E+400, 4,300 digits) are numbers beyond any bound.
    return (f"CASE WHEN {wide} IS NOT NULL THEN {in_shape} AND ({bounds.replace('wide', wide)})"
            f" ELSE {in_shape} END")


@macro()
def number_text(evaluator, value, entity_name, column_name) -> exp.Expression:
    """`value` (trimmed text) when it has the shape the contract's column accepts, else NULL.

    DuckDB's TRY_CAST reads `1E+2` as 100; a column whose contract refuses scientific
    notation (`Column.scientific`, off for order lines, as at the API) must not."""
    column = contract_column(entity_name, column_name)
    if column.scientific:
        return value
    text = _sql(value)
    return exp.maybe_parse(f"CASE WHEN REGEXP_MATCHES({text}, '{PLAIN_SHAPE}') THEN {text} END", dialect="duckdb")


@macro()
def out_of_range(evaluator, value, entity_name, column_name, earliest=None, latest=None) -> exp.Expression:
    """TRUE when `value` lies outside the contract's range for the column.

    integer/decimal columns: `value` is the trimmed text; TRUE for a number (a whole number
    for integer columns) beyond `minimum`/`maximum`, however many digits it has.
    timestamp/date columns: `value` is the parsed TIMESTAMP (or DATE); TRUE outside
    [earliest, latest], the run's date window passed as columns.
    """
    column = contract_column(entity_name, column_name)
    text = _sql(value)
    if column.type in ("timestamp", "date"):
        if earliest is None or latest is None:
            raise ValueError(f"@out_of_range on {column.name} ({column.type}) needs the window: earliest, latest")
        instant = f"CAST({text} AS TIMESTAMP)"
        sql = f"({instant} < {_sql(earliest)} OR {instant} > {_sql(latest)})"
    elif column.minimum is None and column.maximum is None:
        raise ValueError(f"the contract of {column.name} has no range (minimum/maximum): nothing to check")
    else:
        sql = _numeric_out_of_range(text, column, whole=column.type == "integer")
    return exp.maybe_parse(sql, dialect="duckdb")


@macro()
def too_long(evaluator, value, entity_name, column_name) -> exp.Expression:
    """TRUE when the text is longer than the contract's `max_length` for the column."""
    column = contract_column(entity_name, column_name)
    if column.max_length is None:
        raise ValueError(f"the contract of {column.name} has no max_length: nothing to check")
    return exp.maybe_parse(f"COALESCE(LENGTH({_sql(value)}) > {column.max_length}, FALSE)", dialect="duckdb")


@macro()
def reason_field(evaluator, reason, entity_name) -> exp.Expression:
    """The column a quarantine reason points at, from the entity's contract (`Reason.field`).

    One mapping for silver, the API's dead letters and the docs: a reason the contract gives
    no field (a duplicate row) yields NULL, and a new reason needs no SQL edit here.
    """
    by_field: dict[str, list[str]] = {}
    for r in entities.entity(_name(entity_name)).reasons:
        if r.field is not None:
            by_field.setdefault(r.field, []).append(r.code)
    value = _sql(reason)
    whens = " ".join(f"WHEN {value} IN ({', '.join(_quote(c) for c in codes)}) THEN {_quote(field)}"
                     for field, codes in by_field.items())
    return exp.maybe_parse(f"CASE {whens} END", dialect="duckdb")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@macro()
def in_range(evaluator, value, entity_name, column_name) -> exp.Expression:
    """TRUE when a parsed number lies within the contract's bounds (for keeping it, e.g. an age)."""
    column = contract_column(entity_name, column_name)
    parts = [f"{_sql(value)} >= {_number(column.minimum)}" if column.minimum is not None else "",
             f"{_sql(value)} <= {_number(column.maximum)}" if column.maximum is not None else ""]
    sql = " AND ".join(p for p in parts if p) or "TRUE"
    return exp.maybe_parse(f"({sql})", dialect="duckdb")


@macro()
def exceeds_money(evaluator, amount) -> exp.Expression:
    """TRUE when an amount (computed in DECIMAL(38, x)) does not fit DECIMAL(18, 3)."""
    return exp.maybe_parse(f"ABS({_sql(amount)}) > {_number(entities.MONEY_MAX)}", dialect="duckdb")


@macro()
def product_exceeds_money(evaluator, count, price, entity_name, column_name) -> exp.Expression:
    """TRUE when `count` x `price` does not fit DECIMAL(18, 3), for a count within the contract's
    range of `column_name`. The exact DECIMAL(38, 3) product is only computed for prices above
    MONEY_MAX / the largest count: no other price can overflow, so most rows skip it."""
    column = contract_column(entity_name, column_name)
    largest = Decimal(max(abs(Decimal(column.minimum or 0)), abs(Decimal(column.maximum or 0))) or 1)
    threshold = (entities.MONEY_MAX / largest).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    product = f"CAST({_sql(count)} AS DECIMAL(20, 0)) * {_sql(price)}"
    return exp.maybe_parse(
        f"(ABS({_sql(price)}) > CAST('{threshold}' AS DECIMAL(18, 3)) AND ABS({product}) > {_number(entities.MONEY_MAX)})",
        dialect="duckdb")


@macro()
def window_start(evaluator, configured) -> exp.Expression:
    """The run's earliest accepted instant: the settings' value, else the contract's default."""
    default = f"CAST('{entities.DEFAULT_EARLIEST:%Y-%m-%d} 00:00:00' AS TIMESTAMP)"
    return exp.maybe_parse(f"COALESCE(CAST({_sql(configured)} AS TIMESTAMP), {default})", dialect="duckdb")


@macro()
def window_end(evaluator, configured) -> exp.Expression:
    """The run's latest accepted instant: the settings' value (the pipeline fixes "now" once per
    run), else now + the contract's default future days (rows of a source with no settings)."""
    hours = int(entities.DEFAULT_FUTURE_DAYS * 24)
    default = f"CAST(CURRENT_TIMESTAMP AS TIMESTAMP) + INTERVAL {hours} HOUR"
    return exp.maybe_parse(f"COALESCE(CAST({_sql(configured)} AS TIMESTAMP), {default})", dialect="duckdb")
