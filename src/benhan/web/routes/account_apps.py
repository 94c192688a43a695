""""Apps you allowed" (``/account/apps``, issue 4): the signed-in user's remembered SMART app approvals, each
with the scopes in plain words and when it ends, and a button to revoke it (the consent screen then shows
again, and the tokens the app holds for the user stop working).  See ``benhan.web.oauth_approvals``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.kernel import clock
from benhan.web import oauth_approvals
from benhan.web.deps import ctx_of
from benhan.web.http import route
from benhan.web.scope_text import describe
from benhan.web.session import Authenticator
from benhan.web.templating import language, render


async def _page(request: Request, revoked: str | None = None, status: int = 200) -> Response:
    auth: Authenticator = request.app.state.auth
    ctx, lang = ctx_of(request), language(request)
    rows = await auth.store.approvals(ctx.user_id, clock.now()) if ctx.user_id else []
    apps = [{"client_id": r["client_id"], "name": r["name"], "approved": r["approved"], "expires": r["expires"],
             "scopes": [describe(s, lang) for s in r["scopes"]]} for r in rows]
    return render(request, "pages/account_apps.html", {"apps": apps, "revoked": revoked}, status=status)


async def apps_page(request: Request) -> Response:
    return await _page(request)


async def revoke(request: Request) -> Response:
    client_id = request.path_params["client_id"]
    done = await oauth_approvals.revoke(request.app.state.auth, ctx_of(request), client_id)
    return await _page(request, client_id if done else None, 200 if done else 404)


def routes() -> list[BaseRoute]:
    return [
        route("/account/apps", apps_page),
        route("/account/apps/{client_id}/revoke", revoke, methods=["POST"]),
    ]
