"""Macros that keep the models portable between DuckDB and Spark.

SQLMesh renders a model in its own dialect (duckdb) and transpiles the result to the
engine's dialect with sqlglot. A few functions have no DuckDB spelling that sqlglot
maps to Spark, so these macros build the sqlglot *expression* instead of the text:
the generator of each engine then writes its own function.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.time import format_time

from sqlmesh import macro


@macro()
def try_strptime(evaluator, value: exp.Expression, fmt: exp.Expression) -> exp.Expression:
    """Parse ``value`` as a timestamp with a strftime ``fmt``; NULL when it does not parse.

    ``TRY_STRPTIME`` is unknown to sqlglot (it would be copied to Spark verbatim), and
    SQLMesh caches rendered queries as DuckDB text, so the expression built here must
    survive a DuckDB round trip: ``TRY(STRPTIME(v, fmt))`` does, and sqlglot writes it
    for Spark as ``TO_TIMESTAMP(v, 'M/d/yyyy H:mm')`` (format translated), which returns
    NULL on bad input only while ``spark.sql.ansi.enabled`` is false. When the macro
    runs against a Spark engine it emits ``TRY_TO_TIMESTAMP`` instead, NULL either way.
    """
    adapter = evaluator.locals.get("engine_adapter")
    engine = getattr(adapter, "dialect", None)
    if engine in ("spark", "databricks") and isinstance(fmt, exp.Literal):
        target = Dialect.get_or_raise(engine)
        java_format = format_time(fmt.this, target.INVERSE_TIME_MAPPING, target.INVERSE_TIME_TRIE)
        return exp.Anonymous(this="TRY_TO_TIMESTAMP", expressions=[value, exp.Literal.string(java_format)])
    return exp.Try(this=exp.StrToTime(this=value, format=fmt))


@macro()
def money_div(evaluator, numerator: exp.Expression, denominator: exp.Expression) -> exp.Expression:
    """Divide a DECIMAL(18,3) amount by a positive integer count, exactly, rounded half up.

    DuckDB turns DECIMAL / anything into DOUBLE, which would break the "money is DECIMAL,
    never float" rule (a float can round a x.xxx5 the wrong way). So the division is done
    on integer thousandths: ``(2 * milli + n) DIV (2 * n)`` is round-half-up of
    ``milli / n`` for non-negative amounts (half away from zero for negative ones, by
    symmetry), and the result is scaled back with a DECIMAL multiplication.
    NULL when the denominator is 0 or NULL.
    """
    milli = exp.cast(exp.Mul(this=numerator, expression=exp.Literal.number(1000)), "BIGINT")
    den = exp.cast(denominator, "BIGINT")
    sign = exp.Case(
        ifs=[exp.If(this=exp.LT(this=milli.copy(), expression=exp.Literal.number(0)),
                    true=exp.Literal.number(-1))],
        default=exp.Literal.number(1),
    )
    abs_milli = exp.Abs(this=milli.copy())
    twice = exp.Mul(this=exp.Literal.number(2), expression=exp.paren(abs_milli))
    numerator_half_up = exp.Add(this=twice, expression=den.copy())
    quotient = exp.IntDiv(
        this=exp.paren(numerator_half_up),
        expression=exp.paren(exp.Mul(this=exp.Literal.number(2), expression=den.copy())),
    )
    scaled = exp.Mul(
        this=exp.cast(exp.Mul(this=sign, expression=exp.paren(quotient)), "DECIMAL(18, 0)"),
        expression=exp.cast(exp.Literal.string("0.001"), "DECIMAL(4, 3)"),
    )
    return exp.Case(
        ifs=[exp.If(this=exp.or_(exp.Is(this=den.copy(), expression=exp.null()),
                                 exp.EQ(this=den.copy(), expression=exp.Literal.number(0))),
                    true=exp.cast(exp.null(), "DECIMAL(18, 3)"))],
        default=exp.cast(scaled, "DECIMAL(18, 3)"),
    )
