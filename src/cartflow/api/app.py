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

from fastapi import Depends, FastAPI

from cartflow.api.auth import env_keys, read_keys, require_read_key
from cartflow.api.docs import mount_docs
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
    mount_dashboard(app, project, dependencies=[Depends(require_read_key)])
    mount_docs(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --workers N`: each worker process builds its own app."""
    project = load_project(Path(os.environ.get(ENV_PROJECT, ".")))
    return create_app(project, consumers=os.environ.get(ENV_CONSUMERS, "1") == "1")
