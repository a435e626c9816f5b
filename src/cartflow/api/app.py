"""The FastAPI application: ingest, purchase history, health, metrics, OpenAPI at /docs.

The app owns one `StreamServices` (log, store, dead letter) for its lifetime and, by
default, runs the raw and serving sinks in the same process, so `cartflow serve` is a
whole streaming platform on one laptop.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI

from cartflow.api.errors import install_handlers
from cartflow.api.ingest import router as ingest_router
from cartflow.api.reads import router as reads_router
from cartflow.config import Project, load_project
from cartflow.dashboard.routes import mount_dashboard
from cartflow.stream.service import StreamServices, open_services

log = logging.getLogger("cartflow.api")
ENV_PROJECT = "CARTFLOW_SERVE_PROJECT"
ENV_CONSUMERS = "CARTFLOW_SERVE_CONSUMERS"


def api_keys(project: Project) -> list[str]:
    """The accepted keys: the env var may hold several, comma-separated, to rotate keys."""
    raw = os.environ.get(project.config.api.api_key_env, "")
    return [k.strip() for k in raw.split(",") if k.strip()]


def create_app(project: Project, *, consumers: bool = True, services: StreamServices | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or open_services(project)
        app.state.services = svc
        if consumers and not svc.runners:
            svc.start_sinks()
        if not app.state.api_keys:
            log.warning("no API key in %s: POST /v1/order-lines is disabled", project.config.api.api_key_env)
        try:
            yield
        finally:
            svc.shutdown()

    app = FastAPI(
        title="cartflow API",
        version="1",
        summary="Storefront order-line ingest and customer purchase history.",
        description="Writes need the `X-API-Key` header. Money is returned as decimal strings. "
                    "Errors are `{\"error\": code, \"message\": ...}`.",
        lifespan=lifespan,
    )
    app.state.project = project
    app.state.api_keys = api_keys(project)
    install_handlers(app)
    app.include_router(ingest_router)
    app.include_router(reads_router)
    mount_dashboard(app, project)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --workers N`: each worker process builds its own app."""
    project = load_project(Path(os.environ.get(ENV_PROJECT, ".")))
    return create_app(project, consumers=os.environ.get(ENV_CONSUMERS, "1") == "1")
