"""SCD Type 2 in business time, from sightings: the logic gold.dim_customer and gold.dim_product share.

A *sighting* is one row per key and instant: the key, its time (`ts`), `attributes` (the
text that identifies a version: equal attributes = same version; NULL never opens one),
the tracked columns and the `source`. A version is a run of consecutive sightings with
the same attributes, ordered by time; it starts at its first sighting (the first version
at the key's first sighting, even one without attributes) and ends where the next one
starts (`valid_to` NULL while current). A key seen only without attributes gets one
version with NULL tracked columns. Surrogate key: MD5(key|valid_from).

Why not SQLMesh's SCD_TYPE_2_BY_COLUMN: see gold.dim_customer. The dimension models
keep what differs: their sightings, the unknown member and the final columns.

Columns out, in this order: sk, key, version, valid_from, valid_to, source, tracked...
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro


def _names(columns: exp.Expression) -> list[str]:
    items = columns.expressions if isinstance(columns, (exp.Array, exp.Tuple)) else [columns]
    return [item.name for item in items]


def _sql(e: exp.Expression) -> str:
    return e.sql(dialect="duckdb")


@macro()
def scd2_versions(evaluator, sightings, key, ts, sk, tracked) -> exp.Expression:
    """The versions of every key in `sightings`: one row per (key, valid_from)."""
    s, k, t, names = _sql(sightings), key.name, ts.name, _names(tracked)
    maxed = ", ".join(f"MAX({c}) AS {c}" for c in names)
    nulls = ", ".join(f"NULL AS {c}" for c in names)
    picked = ", ".join(f"runs.{c}" for c in names)
    sql = f"""
    SELECT
      MD5(runs.{k} || '|' || CAST(runs.valid_from AS VARCHAR)) AS {sk.name},
      runs.{k},
      runs.version,
      runs.valid_from,
      LEAD(runs.valid_from) OVER (PARTITION BY runs.{k} ORDER BY runs.valid_from) AS valid_to,
      runs.source,
      {picked}
    FROM (
      SELECT
        all_runs.{k},
        all_runs.version,
        CASE WHEN all_runs.version = 1 THEN firsts.first_ts ELSE all_runs.first_ts END AS valid_from,
        all_runs.source,
        {", ".join(f"all_runs.{c}" for c in names)}
      FROM (
        SELECT {k}, version, MIN({t}) AS first_ts, MIN(source) AS source, {maxed}
        FROM (
          SELECT
            changes.*,
            SUM(opens_version) OVER (
              PARTITION BY {k} ORDER BY {t} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS version
          FROM (
            SELECT
              {s}.*,
              CASE WHEN LAG(attributes) OVER (PARTITION BY {k} ORDER BY {t}) = attributes THEN 0 ELSE 1 END
                AS opens_version
            FROM {s}
            WHERE attributes IS NOT NULL
          ) AS changes
        ) AS numbered
        GROUP BY {k}, version
        UNION ALL
        SELECT keys.{k}, 1 AS version, MIN(keys.{t}) AS first_ts, MIN(keys.source) AS source, {nulls}
        FROM {s} AS keys
        GROUP BY keys.{k}
        HAVING COUNT(keys.attributes) = 0
      ) AS all_runs
      INNER JOIN (
        SELECT {k}, MIN({t}) AS first_ts FROM {s} GROUP BY {k}
      ) AS firsts ON all_runs.{k} = firsts.{k}
    ) AS runs
    """
    return exp.maybe_parse(sql, dialect="duckdb")


@macro()
def scd2_superseded(evaluator, this_model, touched, current, key, sk, tracked) -> exp.Expression:
    """Versions stored before whose start has moved (a late, earlier sighting): kept with an
    empty range (valid_to = valid_from), so facts loaded before still resolve to them and no
    as-of lookup can match them any more."""
    k, names = key.name, _names(tracked)
    sql = f"""
    SELECT
      previous.{sk.name}, previous.{k}, previous.version, previous.valid_from,
      previous.valid_from AS valid_to, previous.source,
      {", ".join(f"previous.{c}" for c in names)}
    FROM {_sql(this_model)} AS previous
    INNER JOIN {_sql(touched)} AS touched ON previous.{k} = touched.{k}
    LEFT JOIN {_sql(current)} AS current_versions ON previous.{sk.name} = current_versions.{sk.name}
    WHERE current_versions.{sk.name} IS NULL
    """
    return exp.maybe_parse(sql, dialect="duckdb")
