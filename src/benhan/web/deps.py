"""What a route needs from the app: the repository and the request context (who acts).

``benhan.web.auth`` puts the signed-in user's context on the request; every page and action then goes
through the repository, whose policy decides what that user may see and do (issue 4).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request

from benhan.access.policy import decide
from benhan.admin.scope import AdminDeps
from benhan.fhir.storage.access_types import AuditInfo, Target
from benhan.fhir.storage.protocol import Repository
from benhan.kernel import clock
from benhan.kernel.context import RequestContext


def repo_of(request: Request) -> Repository:
    repo: Repository = request.app.state.repo
    return repo


def ctx_of(request: Request) -> RequestContext:
    """The signed-in caller's context (set by ``benhan.web.auth.AuthMiddleware`` from the session cookie or a
    bearer token).  Anonymous visitors never reach a page: they are sent to the login page (an HTMX request
    is told to navigate there with ``HX-Redirect``)."""
    found = request.scope.get("benhan.ctx")
    if isinstance(found, RequestContext):
        return found
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target)}"
    if request.headers.get("hx-request"):
        raise HTTPException(401, headers={"HX-Redirect": location})
    raise HTTPException(303, headers={"Location": location})


def may_read(request: Request, type_: str) -> bool:
    """Whether the caller's roles (and scopes) allow reading ``type_`` at all: the same type-level decision
    the repository makes before a search, so a page can leave out a section instead of failing on it."""
    cfg = request.app.state.auth.cfg
    return decide(ctx_of(request), cfg, "search", Target(type=type_), clock.now()).allowed


def admin_of(request: Request) -> AdminDeps:
    """The administration and audit-report use-cases' dependencies (``benhan.admin``)."""
    deps: AdminDeps = request.app.state.admin
    return deps


async def audit_print(request: Request, type_: str, id_: str, patient_id: str | None) -> None:
    """Issue 4 audits "print": a printable paper (giấy ra viện, tóm tắt bệnh án, vòng tay, phiếu công khai
    thuốc) is recorded as printed when it is served, besides the reads that filled it."""
    await request.app.state.auth.audit(ctx_of(request), AuditInfo("print", type=type_, id=id_, patient_id=patient_id))
