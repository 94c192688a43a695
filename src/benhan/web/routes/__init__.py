"""Web routes by area; ``web_routes()`` is what ``create_app`` mounts. To add a screen: a module here with a
``routes()`` list, its templates under ``templates/pages`` (and ``partials`` for HTMX swaps), then add it below.

Every clinical screen requires a signed-in user: :func:`signed_in` wraps each endpoint of the areas below,
so a new screen cannot forget it (``common`` holds the public ones: home, language, static files)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from benhan.web.auth import csrf_ok
from benhan.web.deps import ctx_of
from benhan.web.routes import (
    account_apps,
    admin_org,
    admin_users,
    adt,
    audit,
    board,
    catalogues,
    chart,
    common,
    emar,
    orders,
    papers,
    reception,
    summary,
    typeahead,
)

Endpoint = Callable[[Request], Awaitable[Response]]


SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def signed_in(endpoint: Endpoint) -> Endpoint:
    """Require a signed-in user, and for unsafe methods the session's CSRF token (``X-CSRF-Token`` header
    from HTMX, or the ``csrf_token`` form field): a page from another site cannot act as the user."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        ctx_of(request)  # sends anonymous visitors to /login
        if request.method not in SAFE:
            supplied = request.headers.get("x-csrf-token")
            if not supplied:
                form = await request.form()  # cached on the request: the endpoint reads it again for free
                value = form.get("csrf_token")
                supplied = value if isinstance(value, str) else None
            if not csrf_ok(request, supplied):
                raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
        return await endpoint(request)

    return guarded


def _guard(routes: list[BaseRoute]) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for r in routes:
        if isinstance(r, Route):
            out.append(Route(r.path, signed_in(r.endpoint), methods=list(r.methods or []), name=r.name))
        else:
            out.append(r)
    return out


def web_routes() -> list[BaseRoute]:
    clinical = [
        *reception.routes(), *adt.routes(), *chart.routes(), *board.routes(),
        *typeahead.routes(), *orders.routes(), *summary.routes(), *emar.routes(), *papers.routes(),
        *admin_users.routes(), *admin_org.routes(), *audit.routes(), *catalogues.routes(), *account_apps.routes(),
    ]
    return [*common.routes(), *_guard(clinical)]
