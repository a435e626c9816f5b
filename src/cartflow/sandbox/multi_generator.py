"""The multi-source system's data: its seed files as they are, and generated rows at any scale.

Generated rows have the seed's shapes and its kinds of dirt at similar rates (null ages,
blank genders, negative prices, dates in four shapes, broken product keys), plus what
the seed lacks: a currency on every transaction and sale, amounts that are really
quantity x price in that currency, and ids from 100001 up so they never collide with
the seed's (the seed sales' broken keys 1001-1005 stay broken).
Scale 1 = 1,000 customers, 1,000 products, 1,000 transactions and 1,000 sales.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from cartflow.sandbox.fx_model import RateBook, rebase

FIRST_ID = 100_001
NAMES = ("John Doe", "Jane Smith", "Alice Johnson", "Bob Lee", "Charlie Brown", "Maria Garcia", "Wei Chen",
         "Fatima Khan", "Lukas Novak", "Aiko Tanaka")
GENDERS = ("Male", "Female", "Non-binary", "", "M", "f")
LOCATIONS = ("California", "Texas", "Florida", "New York", "Unknown", "", "Illinois", " Washington ")
CATEGORIES = ("Books", "Toys", "Electronics", "Furniture", "Clothing")
CURRENCIES = (("USD", 0.55), ("EUR", 0.18), ("GBP", 0.12), ("AUD", 0.08), ("JPY", 0.07))
SEED_FILES = ("customer_data.json", "exchange_rates.json", "products.csv", "sales_data.csv", "transactions.csv")


@dataclass
class MultiSourceData:
    """Rows per entity, each a dict with the seed's column names (all values as the system sends them)."""

    customers: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    sales: list[dict] = field(default_factory=list)
    rates: list[dict] = field(default_factory=list)

    def extend(self, other: MultiSourceData) -> MultiSourceData:
        for name in ("customers", "products", "transactions", "sales", "rates"):
            getattr(self, name).extend(getattr(other, name))
        return self


def seed_path(system: str = "multi_source") -> Path:
    """The packaged copy of a seed system's sample files (`multi_source`, `orders_customers_products`)."""
    return Path(str(resources.files("cartflow.sandbox") / "seed_data" / system))


def seed_bytes(name: str, system: str = "multi_source") -> bytes:
    return (seed_path(system) / name).read_bytes()


def seed_multi_source() -> MultiSourceData:
    """The seed files exactly as the original system received them (text values kept as text)."""
    def rows(name: str) -> list[dict]:
        return list(csv.DictReader(io.StringIO(seed_bytes(name).decode("utf-8"))))

    return MultiSourceData(customers=json.loads(seed_bytes("customer_data.json")), products=rows("products.csv"),
                           transactions=rows("transactions.csv"), sales=rows("sales_data.csv"),
                           rates=json.loads(seed_bytes("exchange_rates.json")))


def generate_multi_source(scale: float = 1.0, seed: int = 42, start: date = date(2023, 1, 1), days: int = 365,
                          book: RateBook | None = None) -> MultiSourceData:
    """Generated rows for every entity; same scale and seed, same rows."""
    rng = random.Random(seed)
    n = max(1, round(1000 * scale))
    book = book or RateBook(last=start + timedelta(days=days))
    data = MultiSourceData()
    data.customers = [_customer(rng, FIRST_ID + i, start) for i in range(n)]
    data.products = [_product(rng, FIRST_ID + i) for i in range(n)]
    prices = {p["Product_ID"]: abs(float(p["Price"])) for p in data.products}
    product_ids = list(prices)
    for i in range(n):
        day = start + timedelta(days=rng.randrange(days))
        data.transactions.append(_transaction(rng, FIRST_ID + i, day, n, product_ids, prices, book))
        day = start + timedelta(days=rng.randrange(days))
        data.sales.append(_sale(rng, FIRST_ID + i, day, product_ids, prices, book))
    data.rates = rate_rows(book, start, start + timedelta(days=days), base="USD")
    return data


def rate_rows(book: RateBook, start: date, end: date, base: str = "USD",
              currencies: tuple[str, ...] = ("AUD", "EUR", "GBP", "JPY", "USD")) -> list[dict]:
    """Seed-shaped rate rows (Currency_Code, Exchange_Rate, Date) against `base`, business days only."""
    out = []
    for day, eur in book.between(start, end):
        rates = rebase(eur, base, [c for c in currencies if c != base])
        for cur in currencies:
            out.append({"Currency_Code": cur, "Exchange_Rate": 1.0 if cur == base else rates[cur],
                        "Date": day.isoformat()})
    return out


def _customer(rng: random.Random, cid: int, start: date) -> dict:
    joined = start - timedelta(days=rng.randrange(30, 1500))
    return {
        "Customer_ID": cid,
        "Customer_Name": rng.choice(NAMES),
        "Age": None if rng.random() < 0.046 else rng.randint(15, 99),
        "Gender": rng.choices(GENDERS, (25, 26, 22, 25, 1, 1))[0],
        "Location": rng.choices(LOCATIONS, (20, 20, 19, 19, 17, 3, 1, 1))[0],
        "Date_Joined": "" if rng.random() < 0.017 else joined.isoformat(),
    }


def _product(rng: random.Random, pid: int) -> dict:
    price = round(rng.uniform(5, 150), 2) * (-1 if rng.random() < 0.095 else 1)
    stock = rng.randint(-20, -1) if rng.random() < 0.012 else (0 if rng.random() < 0.003 else rng.randint(1, 999))
    return {"Product_ID": pid, "Product_Name": f"Product_{pid}", "Category": rng.choice(CATEGORIES),
            "Price": f"{price:.2f}", "Stock_Available": stock}


def _currency(rng: random.Random) -> str:
    return rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]


def _in_currency(amount_usd: float, currency: str, day: date, book: RateBook) -> float:
    found = book.on_or_before(day)
    if found is None or currency == "USD":
        return amount_usd
    rate = rebase(found[1], "USD", [currency])[currency]
    return amount_usd * rate


def _transaction(rng: random.Random, tid: int, day: date, customers: int, product_ids: list[int],
                 prices: dict[int, float], book: RateBook) -> dict:
    product = rng.choice(product_ids)
    quantity = rng.randint(1, 10)
    currency = _currency(rng)
    total = round(_in_currency(quantity * prices[product], currency, day, book), 0 if currency == "JPY" else 2)
    roll = rng.random()
    amount = "" if roll < 0.045 else f"{-total if roll < 0.095 else total:.2f}"
    return {"Transaction_ID": tid, "Customer_ID": FIRST_ID + rng.randrange(customers), "Product_ID": product,
            "Quantity": quantity, "Transaction_Date": "" if rng.random() < 0.033 else day.isoformat(),
            "Total_Amount": amount, "Currency": currency}


def _sale(rng: random.Random, tid: int, day: date, product_ids: list[int], prices: dict[int, float],
          book: RateBook) -> dict:
    product = rng.choice(product_ids) if rng.random() > 0.02 else max(product_ids) + rng.randint(1, 5)
    currency = _currency(rng)
    price = round(_in_currency(prices.get(product, 50.0), currency, day, book), 2)
    roll = rng.random()
    shown_price = "" if roll < 0.045 else f"{-price if roll < 0.09 else price}"
    qty_roll = rng.random()
    quantity = -1 if qty_roll < 0.009 else 0 if qty_roll < 0.012 else 1000 if qty_roll < 0.019 else rng.randint(1, 10)
    return {"Transaction_ID": tid, "Product_ID": product, "Quantity": quantity, "Price": shown_price,
            "Transaction_Date": _date_shape(rng, day), "Currency": currency}


def _date_shape(rng: random.Random, day: date) -> str:
    shape = rng.choices(("iso", "mdy", "dmy", "mdy-dash", "empty"), (31, 24, 20, 22, 3))[0]
    if shape == "iso":
        return day.isoformat()
    if shape == "mdy":
        return day.strftime("%m/%d/%Y")
    if shape == "dmy":
        return day.strftime("%d/%m/%Y")
    if shape == "mdy-dash":
        return day.strftime("%m-%d-%Y")
    return ""


def write_multi_source(data: MultiSourceData, out_dir: Path) -> list[Path]:
    """customers.json, products.csv, transactions.csv, sales.csv, exchange_rates.json in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("customers.json", data.customers), ("exchange_rates.json", data.rates)):
        path = out_dir / name
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        written.append(path)
    for name, rows in (("products.csv", data.products), ("transactions.csv", data.transactions),
                       ("sales.csv", data.sales)):
        path = out_dir / name
        with path.open("w", newline="", encoding="utf-8") as f:
            names = list(dict.fromkeys(k for row in rows for k in row)) or ["empty"]  # the seed has no Currency
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written
