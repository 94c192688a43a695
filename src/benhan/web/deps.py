"""What a route needs from the app: the repository and the request context (who acts).

``benhan.web.auth`` puts the signed-in user's context on the request; every page and action then goes
through the repository, whose policy decides what that user may see and do (issue 4).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request

from benhan.fhir.storage.protocol import Repository
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
