"""Macros that keep the models portable between DuckDB and Spark.

SQLMesh renders a model in its own dialect (duckdb) and transpiles the result to the
engine's dialect with sqlglot. A few functions have no DuckDB spelling that sqlglot
maps to Spark, so these macros build the sqlglot *expression* instead of the text:
the generator of each engine then writes its own function.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

from cartflow.transform.macros.dates import strptime_expression


@macro()
def try_strptime(evaluator, value: exp.Expression, fmt: exp.Expression) -> exp.Expression:
    """Parse ``value`` as a timestamp with a strftime ``fmt``; NULL when it does not parse.

    ``TRY_STRPTIME`` is unknown to sqlglot (it would be copied to Spark verbatim); the
    expression is built by ``dates.strptime_expression`` (see there why it survives
    SQLMesh's DuckDB round trip and what Spark gets).
    """
    return strptime_expression(evaluator, value, fmt)


@macro()
def money_div(evaluator, numerator: exp.Expression, denominator: exp.Expression) -> exp.Expression:
    """Divide a DECIMAL amount (up to DECIMAL(38, 3)) by a positive integer count, exactly, half up.

    DuckDB turns DECIMAL / anything into DOUBLE, which would break the "money is DECIMAL,
    never float" rule (a float can round a x.xxx5 the wrong way). So the division is done
    on integer thousandths: ``(2 * milli + n) DIV (2 * n)`` is round-half-up of
    ``milli / n`` for non-negative amounts (half away from zero for negative ones, by
    symmetry), and the result is scaled back with a DECIMAL multiplication. The
    thousandths of a sum of DECIMAL(18, 3) lines do not fit a BIGINT, so they are a
    HUGEINT on DuckDB (``//`` stays exact) and a DECIMAL(38, 0) on Spark, whose exact
    decimal division is floored. Returns DECIMAL(38, 3); NULL when the denominator is 0
    or NULL.
    """
    adapter = evaluator.locals.get("engine_adapter") if evaluator is not None else None
    spark = getattr(adapter, "dialect", None) in ("spark", "databricks")
    whole = "DECIMAL(38, 0)" if spark else "HUGEINT"
    milli = exp.cast(exp.Mul(this=exp.cast(numerator, "DECIMAL(38, 3)"), expression=exp.Literal.number(1000)),
                     whole)
    den = exp.cast(denominator, whole)
    sign = exp.Case(
        ifs=[exp.If(this=exp.LT(this=milli.copy(), expression=exp.Literal.number(0)),
                    true=exp.Literal.number(-1))],
        default=exp.Literal.number(1),
    )
    abs_milli = exp.Abs(this=milli.copy())
    twice = exp.Mul(this=exp.Literal.number(2), expression=exp.paren(abs_milli))
    numerator_half_up = exp.paren(exp.Add(this=twice, expression=den.copy()))
    divisor = exp.paren(exp.Mul(this=exp.Literal.number(2), expression=den.copy()))
    if spark:
        quotient: exp.Expression = exp.Floor(this=exp.Div(this=numerator_half_up, expression=divisor))
    else:
        quotient = exp.IntDiv(this=numerator_half_up, expression=divisor)
    scaled = exp.Mul(
        this=exp.cast(exp.Mul(this=sign, expression=exp.paren(quotient)), "DECIMAL(38, 0)"),
        expression=exp.cast(exp.Literal.string("0.001"), "DECIMAL(4, 3)"),
    )
    return exp.Case(
        ifs=[exp.If(this=exp.or_(exp.Is(this=den.copy(), expression=exp.null()),
                                 exp.EQ(this=den.copy(), expression=exp.Literal.number(0))),
                    true=exp.cast(exp.null(), "DECIMAL(38, 3)"))],
        default=exp.cast(scaled, "DECIMAL(38, 3)"),
    )
