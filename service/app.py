"""The FastAPI application: `create_app()` wires settings, routes, middleware and the chat page.

Run it with `aihub-qa serve`, or `uvicorn --factory service.app:create_app`. The index and the
model load once per process at start-up (lifespan) and are shared by every request.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from index.search import Searcher
from service import routes
from service.deps import ServiceState
from service.errors_http import install_error_handlers
from service.metrics import Metrics
from service.middleware import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    HeadMiddleware,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
)
from service.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}
# Swagger UI sets inline styles; its scripts are all files served here (no CDN, no inline script).
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>aihub-qa API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs-assets/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """Build the app. With `searcher`, start-up only warms it; otherwise the index at
    `settings.index_dir` loads in the background and /readyz answers 503 until it is ready."""
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title="aihub-qa",
        version=_version(),
        description="Extractive question answering over Korean news about Gwangju's AI-hub initiative. "
        "Every answer is a ranked list of passages quoted from the articles, each with a citation.",
        lifespan=_lifespan,
        docs_url=None,  # served below from bundled assets: the default page loads them from a CDN
        redoc_url=None,
    )
    app.state.service = ServiceState(settings, metrics)
    app.state.preloaded_searcher = searcher
    install_error_handlers(app)

    api = routes.api_router(settings)
    app.include_router(api)
    app.include_router(routes.ops)
    app.add_api_route("/", _page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_offline_docs(app)

    # Last added runs first: metrics see every answer, security and CORS headers go on 401s too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    api_key = settings.api_key.get_secret_value() if settings.api_key else ""
    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)
        _document_api_key(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key"],
        )
    templates = [r for r in (*api.routes, *routes.ops.routes, *app.router.routes) if getattr(r, "path", None)]
    app.add_middleware(HeadMiddleware, routes=templates)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=templates)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.service
    preloaded: Searcher | None = app.state.preloaded_searcher
    if preloaded is not None:
        await anyio.to_thread.run_sync(state.load, preloaded)  # one warm-up query: fast
    else:  # loading takes seconds: serve /healthz (and 503s) meanwhile
        threading.Thread(target=state.load, name="aihub-qa-load", daemon=True).start()
    yield
    await anyio.to_thread.run_sync(state.close)


def _page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _document_api_key(app: FastAPI) -> None:
    """Show the API key schemes in the OpenAPI document (the middleware enforces them)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/api/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}, {"apiKey": []}]
                        operation.setdefault("responses", {})["401"] = {
                            "description": "Missing or wrong API key",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                        }
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _add_offline_docs(app: FastAPI) -> None:
    """OpenAPI docs at /docs with Swagger UI 5 (it reads OpenAPI 3.1) from the installed
    fastapi-offline package: works air-gapped."""
    import fastapi_offline

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
    page = DOCS_PAGE.replace("{openapi_url}", app.openapi_url or "/openapi.json")

    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=DOCS_HEADERS)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


def _version() -> str:
    try:
        return metadata.version("aihub-qa")
    except metadata.PackageNotFoundError:
        return "0+unknown"
