"""The multi-source system's PostgreSQL: `products` and `transactions`, seeded and changed over time.

Tables hold what the original tables held (products: id, name, category, price, stock;
transactions: id, customer, product, quantity, date, total), values exactly as the seed
files have them (`numeric` without a scale keeps `-8.299999999999999` as it is), plus
`currency` (NULL in the seed rows: the source's default applies) and `updated_at`, which
incremental extraction needs. `advance` re-prices products, inserts transactions and
corrects some amounts, all stamped with the time of the change.
Bulk loads use COPY, so a million rows seed in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from cartflow.sandbox.multi_generator import MultiSourceData

DDL = """
CREATE TABLE {products} (
    product_id integer PRIMARY KEY,
    product_name text,
    category text,
    price numeric,
    stock_available integer,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE {transactions} (
    transaction_id integer PRIMARY KEY,
    customer_id integer,
    product_id integer REFERENCES {products} (product_id),
    quantity integer,
    transaction_date date,
    total_amount numeric,
    currency char(3),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON {products} (updated_at);
CREATE INDEX ON {transactions} (updated_at);
COMMENT ON TABLE {products} IS 'cartflow sandbox';
COMMENT ON TABLE {transactions} IS 'cartflow sandbox';
"""
MARKER = "cartflow sandbox"


@dataclass
class Advanced:
    """What one `advance` changed: the ids an incremental extract must find, and nothing else."""

    products: list[int] = field(default_factory=list)
    new_transactions: list[int] = field(default_factory=list)
    corrected_transactions: list[int] = field(default_factory=list)

    @property
    def transactions(self) -> list[int]:
        return sorted(set(self.new_transactions) | set(self.corrected_transactions))


def seed_postgres(dsn: str, data: MultiSourceData, schema: str = "public") -> dict[str, int]:
    """(Re)create the two tables in `schema` and load the rows; returns rows per table.

    Tables of the same name that the sandbox did not create are never dropped: that is
    somebody's data, and the call fails asking for another schema.
    """
    with psycopg.connect(dsn, autocommit=False) as conn:
        names = _names(schema)
        for table in ("products", "transactions"):
            found = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class'), to_regclass(%s) IS NOT NULL",
                                 (f'"{schema}"."{table}"', f'"{schema}"."{table}"')).fetchone()
            if found and found[1] and found[0] != MARKER:
                raise RuntimeError(f"sandbox: {schema}.{table} exists and was not created by the sandbox: "
                                   "it is left alone; seed another schema (cartflow sandbox up --pg-schema NAME)")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {transactions}, {products}").format(**names))
        conn.execute(sql.SQL(DDL).format(**names))
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("COPY {products} (product_id, product_name, category, price, stock_available) "
                                  "FROM STDIN").format(**names)) as copy:
                for p in data.products:
                    copy.write_row((p["Product_ID"], p["Product_Name"], p["Category"], _null(p["Price"]),
                                    _null(p["Stock_Available"])))
            with cur.copy(sql.SQL("COPY {transactions} (transaction_id, customer_id, product_id, quantity, "
                                  "transaction_date, total_amount, currency) FROM STDIN").format(**names)) as copy:
                for t in data.transactions:
                    copy.write_row((t["Transaction_ID"], _null(t["Customer_ID"]), _null(t["Product_ID"]),
                                    _null(t["Quantity"]), _null(t["Transaction_Date"]), _null(t["Total_Amount"]),
                                    _null(t.get("Currency"))))
        conn.execute(sql.SQL("ANALYZE {products}; ANALYZE {transactions}").format(**names))
    return {"products": len(data.products), "transactions": len(data.transactions)}


def advance_postgres(dsn: str, schema: str = "public", *, products: int = 5, new_transactions: int = 5,
                     corrections: int = 3, seed: int | None = None) -> Advanced:
    """Change the source over time: re-price products, add transactions, correct negative amounts."""
    rng = random.Random(seed)
    names = _names(schema)
    out = Advanced()
    with psycopg.connect(dsn) as conn:
        ids = [r[0] for r in conn.execute(sql.SQL("SELECT product_id FROM {products} ORDER BY 1").format(**names))]
        for pid in rng.sample(ids, min(products, len(ids))):
            conn.execute(sql.SQL("UPDATE {products} SET "
                                 "price = round(abs(coalesce(price, 10)) * CAST(%s AS numeric), 2), "
                                 "stock_available = coalesce(stock_available, 0) + %s, updated_at = clock_timestamp() "
                                 "WHERE product_id = %s").format(**names), (rng.choice((0.9, 1.1)), rng.randint(1, 50),
                                                                             pid))
            out.products.append(pid)
        top = conn.execute(sql.SQL("SELECT coalesce(max(transaction_id), 0) FROM {transactions}").format(**names)  # type: ignore[index]  # an aggregate returns one row
                           ).fetchone()[0]
        customers = [r[0] for r in conn.execute(sql.SQL("SELECT DISTINCT customer_id FROM {transactions} "
                                                        "WHERE customer_id IS NOT NULL ORDER BY 1 LIMIT 1000"
                                                        ).format(**names))] or [1]
        for k in range(new_transactions):
            tid = top + 1 + k
            conn.execute(sql.SQL("INSERT INTO {transactions} (transaction_id, customer_id, product_id, quantity, "
                                 "transaction_date, total_amount, currency) VALUES (%s, %s, %s, %s, current_date, "
                                 "%s, %s)").format(**names),
                         (tid, rng.choice(customers), rng.choice(ids), rng.randint(1, 5),
                          round(rng.uniform(10, 500), 2), rng.choice(("USD", "EUR", "GBP"))))
            out.new_transactions.append(tid)
        negative = [r[0] for r in conn.execute(sql.SQL("SELECT transaction_id FROM {transactions} WHERE "
                                                       "total_amount < 0 ORDER BY 1").format(**names))]
        for tid in rng.sample(negative, min(corrections, len(negative))):
            conn.execute(sql.SQL("UPDATE {transactions} SET total_amount = abs(total_amount), "
                                 "updated_at = clock_timestamp() WHERE transaction_id = %s").format(**names), (tid,))
            out.corrected_transactions.append(tid)
    out.products.sort()
    out.corrected_transactions.sort()
    return out


def _names(schema: str) -> dict[str, Any]:
    return {"products": sql.Identifier(schema, "products"), "transactions": sql.Identifier(schema, "transactions")}


def _null(value: Any) -> Any:
    return None if value is None or value == "" else value
