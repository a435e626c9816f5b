"""Purchase history reads (the two DynamoDB access patterns), health and metrics."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cartflow.api.auth import READ_KEY_RESPONSES, require_read_key
from cartflow.api.errors import ApiError
from cartflow.api.schemas import CustomerInvoicesOut, ErrorBody, InvoiceOut, customer_out, invoice_out
from cartflow.serving.store import CursorError, StoreError

router = APIRouter()
log = logging.getLogger("cartflow.api")
RECENT_ERROR_SECONDS = 60.0


@router.get("/v1/invoices/{invoice_no}", response_model=InvoiceOut, tags=["purchase history"],
            dependencies=[Depends(require_read_key)],
            responses={**READ_KEY_RESPONSES,
                       404: {"model": ErrorBody, "description": "No such invoice in the serving store"},
                       503: {"model": ErrorBody, "description": "The serving store is unreachable"}},
            summary="An invoice and its items")
async def get_invoice(invoice_no: str, request: Request) -> Any:
    """Items sorted by stock code then line id, with the invoice's totals (money as decimal strings)."""
    store = request.app.state.services.store
    if hasattr(store, "invoice_json"):
        # the embedded store renders the document itself in ~0.1 ms: no thread hop, no model round trip
        body = _store_call(request, lambda s: s.invoice_json(invoice_no))
    else:
        body = await run_in_threadpool(_store_call, request, lambda s: _rendered(s.invoice(invoice_no)))
    if body is None:
        raise ApiError(404, "not_found", f"no invoice {invoice_no!r} in the serving store: check the number "
                                         "(cancellations start with 'C'); a line just sent shows up within a second",
                       invoice_no=invoice_no)
    return Response(content=body, media_type="application/json")


def _rendered(invoice: Any) -> bytes | None:
    return None if invoice is None else InvoiceOut.model_validate(invoice_out(invoice)).model_dump_json().encode()


@router.get("/v1/customers/{customer_id}/invoices", response_model=CustomerInvoicesOut, tags=["purchase history"],
            dependencies=[Depends(require_read_key)],
            responses={400: {"model": ErrorBody, "description": "A cursor this API did not hand out"},
                       **READ_KEY_RESPONSES,
                       404: {"model": ErrorBody, "description": "No invoice for this customer"},
                       422: {"model": ErrorBody, "description": "A query parameter out of range (limit 1-200)"},
                       503: {"model": ErrorBody, "description": "The serving store is unreachable"}},
            summary="A customer's invoices, newest first")
def get_customer_invoices(
    customer_id: str,
    request: Request,
    limit: int = Query(20, ge=1, le=200, description="Invoices per page."),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page."),
) -> Any:
    """Paginated newest first, each invoice with its totals, plus the customer's overall totals.

    Guests (order lines without CustomerID) are the customer `unknown`.
    """
    try:
        page = _store_call(request, lambda s: s.customer_invoices(customer_id, limit=limit, cursor=cursor))
    except CursorError as exc:
        raise ApiError(400, "bad_cursor", str(exc)) from None
    if page is None:
        raise ApiError(404, "not_found", f"no invoices for customer {customer_id!r}: customer ids are whole numbers "
                                         "such as 17850, and guests are 'unknown'", customer_id=customer_id)
    next_url = None
    if page.next_cursor:
        next_url = f"{request.url.path}?{urlencode({'limit': limit, 'cursor': page.next_cursor})}"
    return customer_out(page, next_url)


def _store_call(request: Request, fn: Any) -> Any:
    try:
        return fn(request.app.state.services.store)
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", str(exc), headers={"Retry-After": "5"}) from None


@router.get("/v1/health", tags=["operations"], summary="Log, store and consumers",
            responses={503: {"description": "The log or the store is unreachable"}})
async def health(request: Request) -> JSONResponse:
    """200 while the log and the store answer; `degraded` when a consumer failed in the last minute.

    It names backends and says ok or not, never a path, host or error text: anyone who
    reaches the port may call it (load balancers do). Errors are in the server's log.
    """
    services = request.app.state.services
    body: dict[str, Any] = {"status": "ok"}
    body["log"] = await run_in_threadpool(_check, services.log.ping, "log", services.log.backend)
    body["store"] = await run_in_threadpool(_check, services.store.ping, "store", services.store.backend)
    body["consumers"] = {r.sink.name: r.status.as_dict() for r in services.runners}
    body["ingest"] = "enabled" if request.app.state.api_keys else \
        f"disabled: set {request.app.state.project.config.api.api_key_env}"
    body["reads"] = "key required" if request.app.state.read_keys else "open"
    if not (body["log"]["ok"] and body["store"]["ok"]):
        body["status"] = "failing"
    elif any(r.status.last_error_at and time.time() - r.status.last_error_at < RECENT_ERROR_SECONDS
             for r in services.runners):
        body["status"] = "degraded"
    return JSONResponse(body, status_code=503 if body["status"] == "failing" else 200)


def _check(ping: Any, what: str, backend: str) -> dict[str, Any]:
    try:
        ping()
        return {"ok": True, "backend": backend}
    except Exception as exc:  # noqa: BLE001 — health reports every failure, never raises
        log.warning("health: the %s (%s) does not answer: %s", what, backend, exc)
        return {"ok": False, "backend": backend, "error": "unreachable"}


@router.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    """Ingest counters, consumer lag per partition, errors and POST-to-visible latency."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
