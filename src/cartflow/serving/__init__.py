"""Serving: the store the API reads invoices and customers from, and read-only SQL over the marts.

* `store`: the `ServingStore` protocol and `open_store(project)` (SQLite in `sqlite_store`,
  PostgreSQL in `postgres_store`);
* `refresh`: upserting new gold order lines into a store; `documents`: an invoice's JSON document;
* `sql`: `cartflow sql`'s read-only queries over the published tables.

Import modules explicitly (``from cartflow.serving.store import open_store``): a store's driver
is loaded only when a project uses it.
"""

__all__ = ["documents", "postgres_store", "refresh", "sql", "sqlite_store", "store"]
