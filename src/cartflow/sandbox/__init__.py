"""Sample data and stand-ins for the systems cartflow replaces, for the demo, examples and tests.

* `retail_generator`, `retail_catalog` — the UCI Online Retail data set, quirks included.
* `multi_generator` — the multi-source system's seed files, and generated rows at any scale.
* `server` — `cartflow sandbox up|down`: the Customer API (`customer_api`), the exchange-rate
  API in Frankfurter v1 shapes (`fx_api`, rates from `fx_model`), a products REST API
  (`products_api`), all with `faults` on demand, and a PostgreSQL seeded by `pg_seed`.
* `control` — change a running sandbox: faults, and time passing in every source.
* `example_multi_source`, `example_ocp` — the two examples (and the demo's multi-source part).
* `workdir` — the demo and examples replace their directory only when they made it.
"""
