"""`POST /v1/order-lines`: validate, append durably to the log, dead-letter the rest, answer 202.

Order of the durable writes: the log first, then the dead letter, then the answer. A
failure at any point returns an error before the 202, and the client's retry carries
the same event ids (derived from the content), so the sinks write each event once.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from cartflow.api.errors import ApiError
from cartflow.api.schemas import ErrorBody, IngestResult
from cartflow.serving.store import ServingStore, StoreError
from cartflow.stream.log import LogUnavailable
from cartflow.stream.metrics import DEAD_LETTERS, INGEST_EVENTS, INGEST_REQUESTS, INGEST_SECONDS, LOG_ERRORS
from cartflow.stream.records import BodyError, Parsed, parse_records, split_body
from cartflow.stream.serving_sink import content_hash, isolate

router = APIRouter()
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="The key in the environment variable named by [api] api_key_env.")

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {  # OrderLineIn is generated from the contract by app.contract(), per project and day
            "application/json": {"schema": {"anyOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/OrderLineIn"}},
                {"$ref": "#/components/schemas/OrderLineIn"}]}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "One OrderLineIn JSON per line."}},
        },
    }
}


@router.post(
    "/v1/order-lines", status_code=202, response_model=IngestResult, tags=["ingest"],
    summary="Send order lines (JSON array or NDJSON)",
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
               413: {"model": ErrorBody}, 422: {"model": IngestResult, "description": "No record was valid"},
               503: {"model": ErrorBody}},
    openapi_extra=_BODY_DOC,
)
async def post_order_lines(request: Request, api_key: str | None = Security(api_key_header)) -> JSONResponse:
    """Accept the valid records of a batch, durably, and dead-letter the invalid ones with their reasons.

    The answer (202) comes only after the accepted events are durable in the event log.
    Records without `event_id` get one derived from their content, so retrying a request
    never doubles a line. Lines of one invoice share a partition (key = InvoiceNo).
    """
    started = time.perf_counter()
    try:
        check_key(request, api_key)
        body = await read_limited(request)
        result = await run_in_threadpool(ingest, request, body)
    except ApiError as exc:
        INGEST_REQUESTS.labels(str(exc.status)).inc()
        raise
    status = 202 if result["accepted"] or not result["rejected"] else 422
    INGEST_REQUESTS.labels(str(status)).inc()
    INGEST_SECONDS.observe(time.perf_counter() - started)
    return JSONResponse(result, status_code=status)


def check_key(request: Request, given: str | None) -> None:
    keys: list[str] = request.app.state.api_keys
    env = request.app.state.project.config.api.api_key_env
    if not keys:
        raise ApiError(503, "ingest_disabled", f"this server has no API key configured, so it accepts no writes: "
                                               f"set {env} and restart `cartflow serve`")
    if not given:
        raise ApiError(401, "unauthorized", "send the API key in the X-API-Key header",
                       headers={"WWW-Authenticate": "X-API-Key"})
    if not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
        raise ApiError(403, "forbidden", f"the X-API-Key is not one of the keys in {env}")


async def read_limited(request: Request) -> bytes:
    """The body, refusing (413) as soon as it is larger than [api] max_body_bytes."""
    limit = request.app.state.project.config.api.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"the body is {'at least ' if size <= limit else ''}{size:,} bytes; the limit is {limit:,} "
                    "([api] max_body_bytes): send fewer records per request", limit_bytes=limit)


def ingest(request: Request, body: bytes) -> dict[str, Any]:
    """Validate, append, dead-letter (runs in a worker thread: the appends block on fsync)."""
    project = request.app.state.project
    services = request.app.state.services
    try:
        items = split_body(body, request.headers.get("content-type", ""))
    except BodyError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    limit = project.config.api.max_batch
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"the request holds {len(items):,} records; the limit is {limit:,} "
                                               "([api] max_batch): split it into smaller requests", limit_records=limit)
    parsed = parse_records(items, project.config.stream.invoice_date_format, project.config.contract.window())
    bind_event_ids(services.store, parsed)
    if parsed.events:
        try:
            services.log.append(parsed.events)
        except LogUnavailable as exc:
            LOG_ERRORS.inc()
            raise ApiError(503, "log_unavailable", f"{exc}; nothing from this request was accepted: retry later",
                           headers={"Retry-After": "1"}) from None
    if parsed.rejected:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            services.dead_letters.add([(r.reason, r.errors, r.raw) for r in parsed.rejected], origin="api",
                                      request_id=request_id)
        except sqlite3.Error as exc:
            raise ApiError(503, "dead_letter_unavailable", f"the dead-letter log cannot be written ({exc}); the "
                           "valid records were accepted: retry the same request later, it is not doubled",
                           headers={"Retry-After": "1"}) from None
        for r in parsed.rejected:
            DEAD_LETTERS.labels(r.reason).inc()
    INGEST_EVENTS.labels("accepted").inc(len(parsed.events))
    INGEST_EVENTS.labels("rejected").inc(len(parsed.rejected))
    return {"accepted": len(parsed.events), "rejected": len(parsed.rejected),
            "event_ids": [e.event_id for e in parsed.events],
            "errors": [r.as_dict() for r in parsed.rejected]}


def bind_event_ids(store: ServingStore, parsed: Parsed) -> None:
    """Bind each event id to its content before the append; a different content under a bound id is rejected.

    The first content accepted under an id keeps it for good (identical content is an
    idempotent retry), so a reused id can never move an acknowledged line to another
    invoice or customer. The binding is durable before the append: an id whose request
    then failed (503) stays bound to that content, and a retry of it is accepted.
    """
    if not parsed.events:
        return
    claims = [(e.event_id, content_hash(e.value)) for e in parsed.events]
    held: dict[str, str] = {}
    try:
        refused = isolate(claims, lambda items: held.update(store.claim_events(items)))
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", f"{exc}; nothing from this request was accepted: retry later",
                       headers={"Retry-After": "1"}) from None
    reasons: dict[int, tuple[str, list[dict[str, Any]]]] = {}
    for (event_id, _), error in refused:
        for i, (other, _) in enumerate(claims):
            if other == event_id:
                reasons[i] = ("invalid:event_id", [{"field": "event_id", "code": "invalid:event_id",
                                                   "value": event_id, "message": f"the store refused it: {error}"}])
    for i, (event_id, digest) in enumerate(claims):
        if i not in reasons and held.get(event_id, digest) != digest:
            reasons[i] = ("event_id_conflict", [{
                "field": "event_id", "code": "event_id_conflict", "value": event_id,
                "message": "this event id was accepted before with other content, which is kept: send a changed "
                           "line under a new event id (or omit event_id to derive one from the content)"}])
    parsed.reject_events(reasons)

