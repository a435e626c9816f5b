"""The SQLMesh project (bronze views, silver, gold) and what runs it.

* `warehouse`: the `Warehouse` protocol (DuckDB here, Spark in `spark`), `open_warehouse`;
* `runner`: `transform` (plan + run), `TransformSettings`, table names, published models;
* `inputs`: the models' inputs besides bronze (source settings, pending lists, stubs);
* `ledger`: reconciliation and layer counts for every entity;
* `project`: the project's own models/, audits/, tests/, model selection and publish tags;
* `preview`: `cartflow plan` and `cartflow test`.

Import modules explicitly (``from cartflow.transform.runner import transform``):
importing SQLMesh takes a second, and this package must stay cheap to import.
"""

__all__ = ["connection", "duckdb_adapter", "entity_defaults", "fingerprint", "inputs", "ledger", "preview",
           "project", "runner", "spark", "spark_adapter", "warehouse"]
