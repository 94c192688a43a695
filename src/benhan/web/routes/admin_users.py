"""Administration of staff users (issue 4): list and search, create, disable/enable, reset the password,
unlock, enrol TOTP, grant and revoke roles.  Each handler parses the form and calls one use-case of
``benhan.admin.users``, which decides what the signed-in administrator may touch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.access.roles import ROLE_LABELS, Grant
from benhan.admin import orgs, users
from benhan.clinical.records import ClinicalError
from benhan.web.deps import admin_of, ctx_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import render


def _grant(values: dict[str, str]) -> Grant:
    return Grant(values.get("role", ""), values.get("facility_id", ""), values.get("department_id") or None)


async def _choices(request: Request) -> dict[str, object]:
    tree = await orgs.org_tree(admin_of(request), ctx_of(request))
    names = {f.id: f.name for f in tree.facilities} | {d.id: d.name for f in tree.facilities for d in f.departments}
    return {"tree": tree, "names": names, "roles": [r.value for r in ROLE_LABELS],
            "totp_roles": admin_of(request).cfg.totp_required_roles}


async def user_list(request: Request) -> Response:
    q = request.query_params.get("q", "")
    found = await users.find_users(admin_of(request), ctx_of(request), q)
    context = {"users": found, "q": q, "totp_roles": admin_of(request).cfg.totp_required_roles}
    return render(request, "pages/admin_users.html", context, partial="partials/admin_user_rows.html")


async def new_user(request: Request) -> Response:
    return render(request, "pages/admin_user_new.html", {"errors": {}, "values": {}, **await _choices(request)})


async def create_user(request: Request) -> Response:
    values = await form_of(request)
    grants = (_grant(values),) if values.get("role") else ()
    form = users.NewUser(values.get("username", "").lower(), values.get("display_name", ""),
                         values.get("password", ""), grants, checked(values, "totp"))
    try:
        created = await users.create_user(admin_of(request), ctx_of(request), form)
    except ClinicalError as exc:
        context = {"errors": errors_of(request, exc), "values": values, **await _choices(request)}
        return render(request, "pages/admin_user_new.html", context, status=422)
    return await _user_page(request, created.user_id, {"totp_uri": created.totp_uri, "done": "created"})


async def _user_page(request: Request, user_id: str, extra: dict[str, object], code: int = 200) -> Response:
    user = await users.get_user(admin_of(request), ctx_of(request), user_id)
    context: dict[str, object] = {"user": user, "errors": {}, "values": {}, **await _choices(request), **extra}
    context["needs_totp"] = users.totp_required(admin_of(request).cfg.totp_required_roles, user)
    return render(request, "pages/admin_user.html", context, status=code)


async def user_page(request: Request) -> Response:
    return await _user_page(request, request.path_params["uid"], {})


async def user_action(request: Request) -> Response:
    uid, action = request.path_params["uid"], request.path_params["action"]
    values = await form_of(request)
    deps, ctx = admin_of(request), ctx_of(request)
    extra: dict[str, object] = {"done": action}
    try:
        if action in ("disable", "enable"):
            await users.set_disabled(deps, ctx, uid, action == "disable")
        elif action == "unlock":
            await users.unlock(deps, ctx, uid)
        elif action == "password":
            await users.reset_password(deps, ctx, uid, values.get("password", ""))
        elif action == "totp":
            extra["totp_uri"] = await users.enrol_totp(deps, ctx, uid)
        elif action == "grant":
            await users.grant_role(deps, ctx, uid, _grant(values))
        elif action == "revoke":
            await users.revoke_role(deps, ctx, uid, _grant(values))
        else:
            return Response("not found", status_code=404)
    except ClinicalError as exc:
        return await _user_page(request, uid, {"errors": errors_of(request, exc), "values": values}, 422)
    return await _user_page(request, uid, extra)


def routes() -> list[BaseRoute]:
    return [
        route("/admin/users", user_list),
        route("/admin/users/new", new_user),
        route("/admin/users", create_user, ["POST"]),
        route("/admin/users/{uid}", user_page),
        route("/admin/users/{uid}/{action}", user_action, ["POST"]),
    ]
