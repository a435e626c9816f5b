"""A public-style products REST API (the orders/customers/products system's product feed).

`GET /products?page=N&limit=K` answers `{"products": [...], "page", "limit", "total"}`:
the seed's products (P001–P003) with their price, then generated ones (P004...). A
bearer token is checked when one is configured. `POST /_sandbox/advance?changes=N`
re-prices N products now, which is what an SCD2 product dimension must keep as history.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Query, Response

from cartflow.sandbox.faults import ADMIN_PREFIX, FaultMiddleware, Faults, add_fault_routes
from cartflow.sandbox.multi_generator import seed_bytes

CATEGORIES = ("Mobile", "Electronics", "Accessories", "Home", "Books")


class ProductStore:
    def __init__(self, generated: int = 0, seed: int = 3) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        rows = list(csv.DictReader(io.StringIO(seed_bytes("products.csv", "orders_customers_products").decode())))
        now = _now()
        self.products: list[dict[str, Any]] = [
            {"product_id": r["product_id"], "product_name": r["product_name"], "category": r["category"],
             "price": float(r["price"]), "updated_at": now} for r in rows]
        for _ in range(generated):
            n = len(self.products) + 1
            self.products.append({"product_id": f"P{n:03d}", "product_name": f"Product {n}",
                                  "category": self._rng.choice(CATEGORIES),
                                  "price": round(self._rng.uniform(10, 2000), 2), "updated_at": now})

    def page(self, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            rows = self.products[(page - 1) * limit:page * limit]
            return [{**r, "updated_at": r["updated_at"].isoformat()} for r in rows], len(self.products)

    def advance(self, changes: int) -> list[str]:
        with self._lock:
            now = _now()
            picked = self._rng.sample(range(len(self.products)), min(changes, len(self.products)))
            for i in picked:
                p = self.products[i]
                p["price"] = round(p["price"] * self._rng.choice((0.9, 0.95, 1.05, 1.1)), 2)
                p["updated_at"] = now
            return sorted(self.products[i]["product_id"] for i in picked)


def create_products_api(store: ProductStore, *, token: str | None = None, faults: Faults | None = None) -> Any:
    faults = faults or Faults()
    app = FastAPI(title="Products API (cartflow sandbox)", docs_url=None, redoc_url=None)
    add_fault_routes(app, faults)

    @app.get("/products")
    def products(page: int = Query(1, ge=1), limit: int = Query(50, ge=1, le=500),
                 authorization: str | None = Header(None)) -> Response:
        if token and authorization != f"Bearer {token}":
            raise HTTPException(401, "missing or wrong bearer token")
        rows, total = store.page(page, limit)
        return Response(json.dumps({"products": rows, "page": page, "limit": limit, "total": total}),
                        media_type="application/json")

    @app.post(f"{ADMIN_PREFIX}/advance", include_in_schema=False)
    def advance(changes: int = 1) -> dict[str, Any]:
        return {"changed": store.advance(changes)}

    return FaultMiddleware(app, faults)


def _now() -> datetime:
    return datetime.now(UTC)
