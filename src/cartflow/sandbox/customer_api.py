"""The internal Customer API of the multi-source system: API key, pagination, `updated_since`.

`GET /customers` serves the seed customers exactly as `customer_data.json` holds them,
then any generated ones, ordered by Customer_ID. Pagination: `page`+`limit`,
`offset`+`limit`, or `cursor`+`limit` (the body's `next_cursor`); every page but the last
also has a `Link: <...>; rel="next"` header. `updated_since` (ISO 8601) keeps customers
changed after that instant. `POST /_sandbox/advance` changes some customers (and adds
new ones) now, so an incremental extract has something to find.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response

from cartflow.sandbox.faults import ADMIN_PREFIX, FaultMiddleware, Faults, add_fault_routes
from cartflow.sandbox.multi_generator import LOCATIONS

MAX_LIMIT = 1000


class CustomerStore:
    """Customers and when each last changed; thread-safe (uvicorn serves from a pool)."""

    def __init__(self, customers: list[dict[str, Any]], seed: int = 1) -> None:
        now = _now()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.records: dict[Any, dict[str, Any]] = {}
        self.updated: dict[Any, datetime] = {}
        for record in customers:
            self.records[record["Customer_ID"]] = record
            self.updated[record["Customer_ID"]] = now
        self._order = sorted(self.records, key=_sort_key)

    def select(self, since: datetime | None, start: int = 0,
               limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of customers (changed after `since`), in id order, and how many there are in all."""
        with self._lock:
            ids = self._order
            if since is not None:
                ids = [i for i in ids if self.updated[i] > since]
            end = len(ids) if limit is None else start + limit
            return [self.records[i] for i in ids[start:end]], len(ids)

    def advance(self, changes: int, new: int = 0) -> dict[str, list[Any]]:
        """Change `changes` customers (location, age or gender) and add `new` ones, all stamped now."""
        with self._lock:
            now = _now()
            ids = sorted(self.records, key=_sort_key)
            changed = self._rng.sample(ids, min(changes, len(ids)))
            for cid in changed:
                record = dict(self.records[cid])
                what = self._rng.choice(("Location", "Age", "Gender"))
                if what == "Location":
                    record["Location"] = self._rng.choice([x for x in LOCATIONS if x.strip() and x != "Unknown"
                                                           and x != record["Location"]])
                elif what == "Age":
                    record["Age"] = (record["Age"] or 30) + 1
                else:
                    record["Gender"] = "Female" if record["Gender"] != "Female" else "Male"
                self.records[cid] = record
                self.updated[cid] = now
            top = max((i for i in ids if isinstance(i, int)), default=0)
            added = []
            for k in range(new):
                cid = top + 1 + k
                self.records[cid] = {"Customer_ID": cid, "Customer_Name": "New Customer", "Age": 30 + k % 40,
                                     "Gender": "Female", "Location": "Texas", "Date_Joined": now.date().isoformat()}
                self.updated[cid] = now
                added.append(cid)
            self._order = sorted(self.records, key=_sort_key)
            return {"changed": sorted(changed, key=_sort_key), "added": added}


def create_customer_api(store: CustomerStore, *, api_key: str | None, faults: Faults | None = None) -> Any:
    """The FastAPI app, wrapped in the fault middleware."""
    faults = faults or Faults()
    app = FastAPI(title="Customer API (cartflow sandbox)", docs_url=None, redoc_url=None)
    add_fault_routes(app, faults)

    @app.get("/customers")
    def customers(request: Request, page: int | None = Query(None, ge=1), offset: int | None = Query(None, ge=0),
                  cursor: str | None = None, limit: int = Query(100, ge=1, le=MAX_LIMIT),
                  updated_since: str | None = None, x_api_key: str | None = Header(None)) -> Response:
        if api_key and x_api_key != api_key:
            raise HTTPException(401, "missing or wrong X-API-Key")
        since = _parse_since(updated_since)
        start = _start(page, offset, cursor, limit)
        chunk, total = store.select(since, start, limit)
        more = start + limit < total
        body: dict[str, Any] = {"data": chunk, "total": total, "limit": limit}
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "offset", "cursor")}
        if offset is not None:
            body["offset"] = start
            nxt = {**params, "offset": start + limit}
        elif cursor is not None or (page is None and offset is None and "cursor" in request.query_params):
            nxt = {**params, "cursor": _encode(start + limit)}
        elif page is not None:
            body["page"] = page
            nxt = {**params, "page": page + 1}
        else:
            nxt = {**params, "cursor": _encode(start + limit)}
        body["next_cursor"] = _encode(start + limit) if more else None
        headers = {}
        if more:
            headers["Link"] = f'<{request.url.replace_query_params(**nxt)}>; rel="next"'
        return Response(json.dumps(body), media_type="application/json", headers=headers)

    @app.post(f"{ADMIN_PREFIX}/advance", include_in_schema=False)
    def advance(changes: int = 10, new: int = 0) -> dict[str, Any]:
        return store.advance(changes, new)

    @app.get(f"{ADMIN_PREFIX}/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"ok": True, "customers": len(store.records)}

    return FaultMiddleware(app, faults)


def _start(page: int | None, offset: int | None, cursor: str | None, limit: int) -> int:
    if cursor:
        try:
            return int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(422, f"invalid cursor {cursor!r}") from None
    if offset is not None:
        return offset
    if page is not None:
        return (page - 1) * limit
    return 0


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        text = value.replace("Z", "+00:00")
        if "T" in text and " " in text:  # an unescaped "+" in the query string arrives as a space
            text = text.replace(" ", "+")
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"updated_since {value!r} is not an ISO 8601 timestamp") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int) else (1, str(value))


def _now() -> datetime:
    return datetime.now(UTC)
