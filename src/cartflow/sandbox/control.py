"""Talk to a running sandbox: set faults, change data over time, report what runs.

Used by the `cartflow sandbox` commands and by tests; every call has a timeout.
"""

from __future__ import annotations

from typing import Any

import httpx

from cartflow.sandbox.server import SandboxInfo

APIS = ("customers", "fx", "products")


def api_root(info: SandboxInfo, api: str) -> str:
    if api not in APIS:
        raise ValueError(f"unknown API {api!r} (allowed: {', '.join(APIS)})")
    return f"http://127.0.0.1:{info.ports[api]}"


def set_faults(info: SandboxInfo, api: str, values: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Change one API's faults now (error_rate, rate_limit_rate, latency_ms, fail_next, down, ...)."""
    response = httpx.put(f"{api_root(info, api)}/_sandbox/faults", json=values, timeout=timeout)
    if response.status_code == 422:
        raise ValueError(response.json().get("detail", response.text))
    response.raise_for_status()
    return response.json()


def get_faults(info: SandboxInfo, api: str, timeout: float = 5.0) -> dict[str, Any]:
    response = httpx.get(f"{api_root(info, api)}/_sandbox/faults", timeout=timeout)
    response.raise_for_status()
    return response.json()


def advance(info: SandboxInfo, *, customers: int = 10, new_customers: int = 0, products: int = 5,
            new_transactions: int = 5, corrections: int = 3, api_products: int = 1,
            seed: int | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """One round of changes in every source, as time passing would bring them."""
    out: dict[str, Any] = {}
    response = httpx.post(f"{api_root(info, 'customers')}/_sandbox/advance",
                          params={"changes": customers, "new": new_customers}, timeout=timeout)
    response.raise_for_status()
    out["customers"] = response.json()
    out["api_products"] = advance_products(info, changes=api_products, timeout=timeout)
    if info.postgres_dsn:
        from cartflow.sandbox.pg_seed import advance_postgres

        done = advance_postgres(info.postgres_dsn, info.pg_schema, products=products,
                                new_transactions=new_transactions, corrections=corrections, seed=seed)
        out["postgres"] = {"products": done.products, "new_transactions": done.new_transactions,
                           "corrected_transactions": done.corrected_transactions}
    return out


def advance_products(info: SandboxInfo, *, changes: int = 1, timeout: float = 10.0) -> list[str]:
    """Re-price products in the products REST API now; returns their ids."""
    response = httpx.post(f"{api_root(info, 'products')}/_sandbox/advance", params={"changes": changes},
                          timeout=timeout)
    response.raise_for_status()
    return response.json()["changed"]
