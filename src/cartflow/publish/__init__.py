"""Publishing: gold made readable outside the warehouse, and the catalog of what was published.

* `marts`: exporting the published models (tag `publish`) to Parquet in the lake's marts zone;
* `catalog`: `cartflow catalog`, every table in every layer; `ddl`: Athena/Trino DDL for the marts;
* `serving`: upserting the run's new gold lines into the serving store.

Import modules explicitly (``from cartflow.publish.marts import publish``).
"""

__all__ = ["catalog", "ddl", "marts", "serving"]
