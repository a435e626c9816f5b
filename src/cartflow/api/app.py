"""The FastAPI application: ingest, purchase history, health, metrics, OpenAPI at /docs.

The app owns one `StreamServices` (log, store, dead letter) for its lifetime and, by
default, runs the raw and serving sinks in the same process, so `cartflow serve` is a
whole streaming platform on one laptop.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from cartflow.api.auth import READ_KEY_RESPONSES, env_keys, read_keys, require_read_key
from cartflow.api.docs import mount_docs
from cartflow.api.errors import install_handlers
from cartflow.api.ingest import router as ingest_router
from cartflow.api.reads import router as reads_router
from cartflow.api.schemas import ErrorBody, order_line_schema
from cartflow.config import Project, load_project
from cartflow.dashboard.routes import mount_dashboard
from cartflow.stream.service import StreamServices, open_services

log = logging.getLogger("cartflow.api")
ENV_PROJECT = "CARTFLOW_SERVE_PROJECT"
ENV_CONSUMERS = "CARTFLOW_SERVE_CONSUMERS"


def api_keys(project: Project) -> list[str]:
    """The accepted write keys: the env var may hold several, comma-separated, to rotate keys."""
    return env_keys(project.config.api.api_key_env)


def create_app(project: Project, *, consumers: bool = True, services: StreamServices | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or open_services(project)
        app.state.services = svc
        if consumers and not svc.runners:
            svc.start_sinks()
        if not app.state.api_keys:
            log.warning("no API key in %s: POST /v1/order-lines is disabled", project.config.api.api_key_env)
        if not app.state.read_keys:
            log.warning("no read key in %s: purchase history and the dashboard are open to anyone who reaches "
                        "this port", project.config.api.read_key_env)
        try:
            yield
        finally:
            svc.shutdown()

    app = FastAPI(
        title="cartflow API",
        version="1",
        summary="Storefront order-line ingest and customer purchase history.",
        description="Writes need the `X-API-Key` header. Purchase-history reads and the dashboard need a read "
                    "key (`X-API-Key` or `Authorization: Bearer`) when the server sets `[api] read_key_env`. "
                    "Money is returned as decimal strings. Errors are `{\"error\": code, \"message\": ...}`.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from local assets, not a CDN
        redoc_url=None,
    )
    app.state.project = project
    app.state.api_keys = api_keys(project)
    app.state.read_keys = read_keys(project)
    install_handlers(app)
    app.include_router(ingest_router)
    app.include_router(reads_router)
    mount_dashboard(app, project, dependencies=[Depends(require_read_key)],
                    responses={**READ_KEY_RESPONSES, **DASHBOARD_RESPONSES})
    mount_docs(app)
    app.openapi = lambda: contract(app)  # type: ignore[method-assign]
    return app


DASHBOARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A filter that does not parse (dates YYYY-MM-DD)"},
    404: {"model": ErrorBody, "description": "No such panel"},
    503: {"model": ErrorBody, "description": "The published marts cannot be read"}}


def contract(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document, corrected to what the server really answers.

    * A 422 from parameter validation has the error shape of every other error
      (`install_handlers`), not FastAPI's `HTTPValidationError`.
    * Without a configured read key, reads need none: their security is optional (`{}`).
    * A query parameter is absent or a value, never null: `anyOf [X, null]` becomes X.
    * `OrderLineIn` is generated from the entity contract and this project's date format and
      window (`order_line_schema`), so the document states what `validate()` accepts.
    """
    project: Project = app.state.project
    window = project.config.contract.window()
    cached = app.openapi_schema
    if cached and cached.get("x-contract-day") == f"{window.latest:%Y-%m-%d}":
        return cached
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                       routes=app.routes)
    spec["x-contract-day"] = f"{window.latest:%Y-%m-%d}"  # the date window moves: rebuilt once a day
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["OrderLineIn"] = order_line_schema(project.config.stream.invoice_date_format, window)
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            invalid = operation.get("responses", {}).get("422", {}).get("content", {}).get("application/json")
            if invalid and invalid.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                invalid["schema"] = error_ref
            for parameter in operation.get("parameters", []):  # a query string cannot say null: absent is None
                schema = parameter.get("schema", {})
                branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
                if parameter.get("in") == "query" and len(branches) == 1 and len(schema["anyOf"]) == 2:
                    schema.pop("anyOf")
                    for key, value in branches[0].items():  # the parameter's own keywords win
                        schema.setdefault(key, value)
            security = operation.get("security")
            if security and not app.state.read_keys and any("ReadKey" in s for s in security):
                operation["security"] = [{}, *security]
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in json.dumps(spec["paths"]):
            schemas.pop(unused, None)
    app.openapi_schema = spec
    return spec


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --workers N`: each worker process builds its own app."""
    project = load_project(Path(os.environ.get(ENV_PROJECT, ".")))
    return create_app(project, consumers=os.environ.get(ENV_CONSUMERS, "1") == "1")
