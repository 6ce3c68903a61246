"""Interactive API docs that work with no internet: Swagger UI and ReDoc served from local files.

The assets come from the PyPI package `fastapi-offline` (MIT; it bundles swagger-ui 5.x, Apache-2.0,
and ReDoc, MIT), which ships them as package data. We only serve its `static/` folder; the pages
are FastAPI's own `get_swagger_ui_html` / `get_redoc_html` pointed at those files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.errors import error_response

STATIC_URL = "/docs-assets"


def assets_path() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).parent / "static"
    return path if (path / "swagger-ui-bundle.js").exists() else None


def install_docs(app: FastAPI) -> None:
    """Add /docs, /docs/oauth2-redirect and /redoc (FastAPI's CDN pages are switched off)."""
    assets = assets_path()
    if assets is not None:
        app.mount(STATIC_URL, StaticFiles(directory=assets), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        if assets is None:
            return error_response(503, "docs_assets_missing",  # type: ignore[return-value]  # the JSON error, not the page, when assets are missing
                                  "install the fastapi-offline package for offline docs; /openapi.json works")
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} — Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png" if (assets / "favicon.png").exists() else "",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        if assets is None:
            return error_response(503, "docs_assets_missing",  # type: ignore[return-value]  # the JSON error, not the page, when assets are missing
                                  "install the fastapi-offline package for offline docs; /openapi.json works")
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{openapi_url}", title=f"{title} — ReDoc",
                              redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url="", with_google_fonts=False)
