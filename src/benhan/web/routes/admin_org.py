"""Administration of the organisation tree and of the OAuth2 clients (issue 4): facilities, departments,
wards, rooms and beds (``benhan.admin.orgs``), API clients (``benhan.admin.clients``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.admin import clients, orgs
from benhan.clinical.records import ClinicalError
from benhan.web.deps import admin_of, ctx_of
from benhan.web.forms import errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import render


async def _org_page(request: Request, *, status: int = 200, **extra: object) -> Response:
    tree = await orgs.org_tree(admin_of(request), ctx_of(request))
    context: dict[str, object] = {"tree": tree, "errors": {}, "values": {}, "form": "", **extra}
    return render(request, "pages/admin_org.html", context, status=status)


async def org_page(request: Request) -> Response:
    return await _org_page(request)


async def org_action(request: Request) -> Response:
    action = request.path_params["action"]
    values = await form_of(request)
    deps, ctx = admin_of(request), ctx_of(request)
    try:
        if action == "facility":
            await orgs.create_facility(deps, ctx, values.get("name", ""), values.get("code", ""))
        elif action == "department":
            await orgs.create_department(deps, ctx, values.get("name", ""), values.get("facility_id", ""))
        elif action == "place":
            await orgs.create_place(deps, ctx, values.get("kind", ""), values.get("name", ""),
                                    values.get("department_id", ""), values.get("parent_id") or None)
        elif action == "rename":
            await orgs.rename(deps, ctx, values.get("type", ""), values.get("id", ""), values.get("name", ""))
        else:
            return Response("not found", status_code=404)
    except ClinicalError as exc:
        return await _org_page(request, status=422, errors=errors_of(request, exc), values=values, form=action)
    return await _org_page(request, done=action)


async def _clients_page(request: Request, *, status: int = 200, **extra: object) -> Response:
    found = await clients.list_clients(admin_of(request), ctx_of(request))
    context: dict[str, object] = {"clients": found, "errors": {}, "values": {"kind": "secret"}, **extra}
    return render(request, "pages/admin_clients.html", context, status=status)


async def clients_page(request: Request) -> Response:
    return await _clients_page(request)


async def register_client(request: Request) -> Response:
    values = await form_of(request)
    form = clients.NewClient(
        values.get("client_id", ""), values.get("name", ""), values.get("kind", ""), values.get("scope", ""),
        values.get("jwks", ""), tuple(u.strip() for u in values.get("redirect_uris", "").splitlines() if u.strip()),
    )
    try:
        secret = await clients.register_client(admin_of(request), ctx_of(request), form)
    except ClinicalError as exc:
        return await _clients_page(request, status=422, errors=errors_of(request, exc), values=values)
    return await _clients_page(request, done="register", secret=secret, secret_for=form.client_id)


async def client_action(request: Request) -> Response:
    cid, action = request.path_params["cid"], request.path_params["action"]
    deps, ctx = admin_of(request), ctx_of(request)
    secret = None
    try:
        if action == "rotate":
            secret = await clients.rotate_secret(deps, ctx, cid)
        elif action in ("disable", "enable"):
            await clients.set_disabled(deps, ctx, cid, action == "disable")
        else:
            return Response("not found", status_code=404)
    except ClinicalError as exc:
        return await _clients_page(request, status=422, errors=errors_of(request, exc))
    return await _clients_page(request, done=action, secret=secret, secret_for=cid)


def routes() -> list[BaseRoute]:
    return [
        route("/admin/org", org_page),
        route("/admin/org/{action}", org_action, ["POST"]),
        route("/admin/clients", clients_page),
        route("/admin/clients", register_client, ["POST"]),
        route("/admin/clients/{cid}/{action}", client_action, ["POST"]),
    ]
