"""create_app(): wires routes, middleware and the lifespan.  No work happens at import time."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benhan import __version__, migrate
from benhan.fhir.api import fhir_routes
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.db import create_pool, ensure_database, start_embedded
from benhan.kernel.logging import configure_logging
from benhan.settings import Settings, get_settings


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers and the schema is at the newest migration."""
    try:
        async with request.app.state.pool.acquire() as conn:
            current = await migrate.current_revision(conn)
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    head = request.app.state.schema_head
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "schema": current, "expected": head}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "schema": current})


def create_app(settings: Settings | None = None, database_url: str | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = database_url or settings.database_url or os.environ.get("DATABASE_URL")
        embedded = None
        if not url:
            embedded = start_embedded(settings.data_dir)
            url = embedded.url
            await ensure_database(url)
        app.state.pool = await create_pool(url, settings.db_pool_min, settings.db_pool_max)
        app.state.repo = PgRepository(app.state.pool)
        app.state.schema_head = migrate.head_revision()
        try:
            yield
        finally:
            await app.state.pool.close()
            if embedded is not None:
                embedded.stop()

    def get_repo(request: Request) -> Repository:
        repo: Repository = request.app.state.repo
        return repo

    async def get_ctx(request: Request) -> RequestContext:
        # Identity and access control arrive with the access package (issue 4); until then the
        # FHIR API runs with an anonymous context.
        return RequestContext()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *fhir_routes(get_repo, get_ctx, settings.base_url, settings.max_body_bytes),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return app
