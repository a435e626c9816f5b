"""`/dashboard`: the page, its static assets and its JSON data endpoints (FastAPI).

* `GET /dashboard` — the page (filters in the query string: `from`, `to`, `country`).
* `GET /dashboard/api/meta` — date bounds and countries, or `{"empty": true}`.
* `GET /dashboard/api/data?from=&to=&country=` — every panel for one filter.
* `GET /dashboard/api/panels/{name}?…` — one panel.
* `GET /dashboard/static/{file}` — the scripts and styles, all shipped in the package.

Everything is read from the published marts (never the warehouse), aggregated in SQL.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any, Callable, Sequence

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from cartflow.dashboard.filters import MAX_COUNTRIES, MAX_NAME, Filter, FilterError, parse_filter
from cartflow.dashboard.page import STATIC_DIR, STATIC_FILES, render_page
from cartflow.dashboard.panels import PANELS, Dashboard
from cartflow.stream.patterns import anchored, calendar_date, optional_text

log = logging.getLogger("cartflow.dashboard")
PREFIX = "/dashboard"
_NO_STORE = {"Cache-Control": "no-cache"}

_DAY = {"pattern": anchored(f" *(?:{calendar_date()})? *")}  # documented only: parse_filter answers 400 itself
From = Annotated[str | None, Query(alias="from", description="First invoice date, YYYY-MM-DD (inclusive).",
                                   json_schema_extra=_DAY)]
To = Annotated[str | None, Query(alias="to", description="Last invoice date, YYYY-MM-DD (inclusive); not before "
                                 "`from`.", json_schema_extra=_DAY)]
Country = Annotated[list[str] | None, Query(alias="country", description="A country; repeat for several.",
                                            json_schema_extra={"maxItems": MAX_COUNTRIES, "items": {
                                                "type": "string", "maxLength": MAX_NAME, "pattern": optional_text()}})]


def _filter(date_from: str | None, date_to: str | None, country: list[str] | None) -> Filter:
    try:
        return parse_filter(date_from, date_to, country)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from None


def _answer(compute: Callable[[], dict[str, Any]]) -> JSONResponse:
    """The answer as JSON; a lake that cannot be read is a 503 that says why, not a 500."""
    try:
        return JSONResponse(compute())
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 — S3 down, a Parquet file unreadable, …
        log.exception("dashboard query failed")
        return JSONResponse({"error": "unavailable", "message": f"cannot read the published marts: {exc}"},
                            status_code=503)


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    """The routes, bound to one lake's Dashboard."""
    router = APIRouter(prefix=PREFIX, tags=["dashboard"])

    @router.get("", response_class=HTMLResponse, summary="The dashboard page")
    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        # start building the pre-aggregates while the browser fetches the scripts
        threading.Thread(target=_warm, args=(dashboard,), name="dashboard-warmup", daemon=True).start()
        base = request.scope.get("root_path", "") + PREFIX
        return HTMLResponse(render_page(base=base), headers=_NO_STORE)

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, f"no dashboard asset {name!r}")
        return FileResponse(STATIC_DIR / name, headers=_NO_STORE)

    @router.get("/api/meta", summary="Date bounds and countries to filter by; `empty` before the first run")
    def meta() -> JSONResponse:
        return _answer(dashboard.meta)

    @router.get("/api/data", summary="Every panel, aggregated in SQL for one filter")
    def data(date_from: From = None, date_to: To = None, country: Country = None) -> JSONResponse:
        f = _filter(date_from, date_to, country)
        return _answer(lambda: dashboard.panels(f))

    @router.get("/api/panels/{name}", summary="One panel, aggregated in SQL for one filter")
    def panel(name: str, date_from: From = None, date_to: To = None, country: Country = None) -> JSONResponse:
        if name not in PANELS:
            raise HTTPException(404, f"no panel {name!r}: panels are {', '.join(PANELS)}")
        f = _filter(date_from, date_to, country)

        def one() -> dict[str, Any]:
            answer = dashboard.panels(f, [name])
            return {k: v for k, v in answer.items() if k != "panels"} | {"panel": answer["panels"].get(name)}
        return _answer(one)

    return router


def mount_dashboard(app: FastAPI, storage_or_project: Any, dependencies: Sequence[Any] = (),
                    responses: dict[int | str, dict[str, Any]] | None = None) -> Dashboard:
    """Serve the dashboard of a lake (a Storage, or a Project whose lake is opened) on `app`.

    `dependencies` run before every dashboard route, `responses` document what they add
    (the API passes its read-key check and its 401).

    The pre-aggregates start building in a background thread at once, so the first
    visitor does not wait for them (on an empty lake that is one directory listing).
    """
    storage = storage_or_project
    if hasattr(storage_or_project, "config"):
        from cartflow.lake.storage import open_lake

        storage = open_lake(storage_or_project)
    dashboard = Dashboard(storage)
    app.state.dashboard = dashboard
    app.include_router(dashboard_router(dashboard), dependencies=list(dependencies), responses=responses)
    threading.Thread(target=_warm, args=(dashboard,), name="dashboard-warmup", daemon=True).start()
    return dashboard


def _warm(dashboard: Dashboard) -> None:
    """Build the pre-aggregates and the unfiltered answers: the first page load is then cached."""
    try:
        dashboard.panels(Filter())
    except Exception:  # noqa: BLE001 — a lake that fails now fails visibly on the first request
        pass


