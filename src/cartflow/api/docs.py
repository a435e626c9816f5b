"""`/docs` without the internet: Swagger UI's assets are served from the `swagger-ui-bundle-v2` package.

FastAPI's default page loads Swagger UI from a CDN and its favicon from fastapi's site,
so `/docs` is blank on a machine without internet (or behind a strict proxy). Here the
page references only `/docs/assets/…`, served from the installed package (Swagger UI 5,
which reads OpenAPI 3.1 as FastAPI writes it). ReDoc (`/redoc`) is off: no package ships it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
SERVED = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png")
_CACHE = {"Cache-Control": "public, max-age=86400"}


def mount_docs(app: FastAPI) -> None:
    """`/docs`, `/docs/assets/{file}` and the OAuth2 redirect page; call on an app made with `docs_url=None`."""
    root = Path(str(swagger_ui_path))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — docs",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in SERVED:
            raise HTTPException(404, f"no docs asset {name!r}")
        return FileResponse(root / name, headers=_CACHE)
