"""What a route needs from the app: the repository and the request context (who acts).

The identity helper (``benhan.web.auth``, issue 4) puts the signed-in user's context on the request; until it
does, pages run with an anonymous demo context (the repository's policy decides what that may do).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request

from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext


def repo_of(request: Request) -> Repository:
    repo: Repository = request.app.state.repo
    return repo


def ctx_of(request: Request) -> RequestContext:
    found = request.scope.get("benhan.ctx") or getattr(request.state, "ctx", None)
    if isinstance(found, RequestContext):
        return found
    try:  # the auth helper's session, when it is installed
        from benhan.web import auth  # type: ignore[attr-defined,unused-ignore]

        getter = getattr(auth, "context_of", None) or getattr(auth, "request_context", None)
        if getter is not None:
            ctx = getter(request)
            if isinstance(ctx, RequestContext):
                return ctx
    except ImportError:
        pass
    client = request.client.host if request.client else None
    return RequestContext(username="web", purpose_of_use="TREAT").with_request(
        remote_addr=client, user_agent=request.headers.get("user-agent"), request_id=str(uuid.uuid4())
    )
