"""create_app(): wires routes, middleware and the lifespan.  No work happens at import time."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan, Receive, Scope, Send

from benhan import __version__, migrate
from benhan.access import AccessControl, load_config
from benhan.admin.scope import AdminDeps
from benhan.fhir.api import FhirApi, fhir_path
from benhan.fhir.operations.export_service import ExportService
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.audit_reports import AuditReports
from benhan.fhir.storage.pg.export_jobs import PgExportJobs
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.fhir.storage.protocol import Repository
from benhan.kernel import heap
from benhan.kernel.context import RequestContext
from benhan.kernel.db import create_pool, ensure_database, set_search_timeout, start_embedded
from benhan.kernel.logging import configure_logging
from benhan.settings import Settings, get_settings
from benhan.terminology import icd10, loinc
from benhan.terminology.catalogue import demo_drugs, demo_services
from benhan.web.auth import AuthMiddleware, auth_routes, fhir_caller
from benhan.web.oauth import oauth_routes
from benhan.web.oidc import SigningKeys
from benhan.web.routes import web_routes
from benhan.web.session import Authenticator
from benhan.web.templating import compile_all


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


class BenhanApp(Starlette):
    """Starlette for pages, OAuth, health checks and the lifespan; /fhir goes straight to :class:`FhirApi`
    (``benhan.fhir.api``), past Starlette's middleware, router, Request and Response (issue 2)."""

    def __init__(
        self, fhir: FhirApi, routes: Sequence[BaseRoute], lifespan: Lifespan[Starlette],
        middleware: Sequence[Middleware],
    ) -> None:
        super().__init__(routes=routes, lifespan=lifespan, middleware=middleware)
        self.fhir = fhir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = fhir_path(scope)
            if path is not None:
                await self.fhir.serve(path, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, database_url: str | None = None) -> BenhanApp:
    settings = settings or get_settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    set_search_timeout(settings.search_timeout)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = database_url or settings.database_url or os.environ.get("DATABASE_URL")
        embedded = None
        if not url:
            embedded = start_embedded(settings.data_dir)
            url = embedded.url
            await ensure_database(url)
        app.state.pool = await create_pool(url, settings.db_pool_min, settings.db_pool_max)
        # Issue 4: one policy point in the repository; read audits go through their own small pool so a
        # saturated request pool can never block the audit writer.
        # "commit": the audit's sessions commit without waiting for the WAL flush (PostgreSQL's asynchronous
        # commit, wal-async-commit.html: "the maximum delay is three times wal_writer_delay").
        lazy = {"synchronous_commit": "off"} if settings.audit_reads == "commit" else None
        audit_pool = await create_pool(url, 1, 2, name="benhan-audit", settings=lazy)
        access = AccessControl(load_config(settings.access_policy_file))
        audit_log = AuditLog(audit_pool, wait=settings.audit_reads != "batch")
        read_audit = audit_log if settings.audit_enabled else None  # off: benchmarks only (settings)
        app.state.repo = PgRepository(app.state.pool, access=access, audit=read_audit)
        app.state.auth = Authenticator(
            IdentityStore(app.state.pool), access.config, audit_log, demo_logins=settings.mode == "demo"
        )
        app.state.admin = AdminDeps(app.state.repo, app.state.auth.store, AuditReports(app.state.pool),
                                    app.state.auth.audit, access.config)
        # $export jobs run in this process; their state and files are in PostgreSQL for every worker
        app.state.exports = ExportService(app.state.repo, PgExportJobs(app.state.pool),
                                          settings.pseudonym_key.encode())
        app.state.schema_head = migrate.head_revision()
        if settings.freeze_heap:
            heap.freeze(warm=(icd10.default, loinc.default, demo_drugs, demo_services, compile_all))
        try:
            yield
        finally:
            if settings.freeze_heap:
                heap.unfreeze()
            await app.state.exports.close()
            await audit_log.close()
            await audit_pool.close()
            await app.state.pool.close()
            if embedded is not None:
                embedded.stop()

    def get_repo() -> Repository:
        repo: Repository = app.state.repo
        return repo

    def get_exports() -> ExportService:
        exports: ExportService = app.state.exports
        return exports

    async def get_ctx(
        headers: dict[str, str], client: tuple[str, int] | None, method: str, path: str
    ) -> RequestContext:
        # Bearer token or session cookie, as AuthMiddleware resolves them for pages; neither → 401 (BH-4001).
        return await fhir_caller(getattr(app.state, "auth", None), headers, client, method, path)

    fhir = FhirApi(get_repo, get_exports, get_ctx, settings.base_url, settings.max_body_bytes)
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *auth_routes(),
        *oauth_routes(),
        *web_routes(),
    ]
    app = BenhanApp(fhir, routes=routes, lifespan=lifespan, middleware=[Middleware(AuthMiddleware)])
    app.state.settings = settings
    app.state.oidc_keys = SigningKeys()  # id_token keys, loaded from the database on first use
    return app
