"""Jinja2 environments (one per language) and the one render helper every route uses.

NetBox habit: the same route renders the full page or, for an HTMX request (``HX-Request`` header), only the
partial that changes. Dates are shown ``dd/mm/yyyy`` in Vietnam time.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from benhan.access.policy import can_review_break_glass
from benhan.access.roles import ROLE_LABELS, Role
from benhan.admin.audit_reports import may_audit
from benhan.admin.scope import is_admin
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext
from benhan.terminology.facility_catalogues import may_import
from benhan.web.assets import WEB_DIR
from benhan.web.i18n import LANGUAGES, pick_language, translations


def vn_date(value: date | datetime | str | None) -> str:
    if not value:
        return ""
    when: date
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    if isinstance(when, datetime) and when.tzinfo:
        when = when.astimezone(VN_TZ)
    return when.strftime("%d/%m/%Y")


def vn_datetime(value: datetime | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        when = value
    return (when.astimezone(VN_TZ) if when.tzinfo else when).strftime("%H:%M %d/%m/%Y")


def role_label(code: str, lang: str) -> str:
    try:
        vi, en = ROLE_LABELS[Role(code)]
    except ValueError:
        return code
    return en if lang == "en" else vi


def to_json(value: object) -> Markup:
    # Safe inside <script type="application/json">: "</" cannot close the tag.
    return Markup(orjson.dumps(value).decode().replace("</", "<\\/"))  # noqa: S704 - escaped above


@functools.cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(vn_date=vn_date, vn_datetime=vn_datetime, to_json=to_json,
                       role_label=functools.partial(role_label, lang=lang))
    env.globals["lang"] = lang
    return env


def compile_all() -> int:
    """Compile every template in every language now (at start-up, before the heap is frozen: kernel/heap.py)
    rather than inside the first requests; the number compiled."""
    done = 0
    for lang in LANGUAGES:
        env = environment(lang)
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)
            done += 1
    return done


def language(request: Request) -> str:
    return pick_language(request.cookies.get("lang"))


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def gettext_for(request: Request) -> Any:
    return translations(language(request)).gettext


def session_of(request: Request) -> dict[str, object]:
    """Who is signed in (shown in the top bar) and the session's CSRF token for the sign-out form; set by
    ``benhan.web.auth.AuthMiddleware`` (read duck-typed here: auth imports this module)."""
    resolved = request.scope.get("benhan.auth")
    ctx = getattr(resolved, "ctx", None)
    signed = ctx if isinstance(ctx, RequestContext) and getattr(resolved, "csrf", None) is not None else None
    return {
        "session_user": getattr(ctx, "username", None),
        "session_csrf": getattr(resolved, "csrf", None),
        # menu entries only for the roles that may use them (the pages check again)
        "nav_admin": signed is not None and is_admin(signed),
        "nav_audit": signed is not None and may_audit(signed, request.app.state.auth.cfg),
        "nav_glass_review": signed is not None and can_review_break_glass(signed, request.app.state.auth.cfg),
        "nav_catalogues": signed is not None and signed.facility_id is not None
        and may_import(signed, signed.facility_id),
    }


def render(
    request: Request,
    page: str,
    context: Mapping[str, object],
    *,
    partial: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``page`` (a full page) or, for HTMX requests, ``partial`` when given."""
    lang = language(request)
    template = partial if partial and is_htmx(request) else page
    body = environment(lang).get_template(template).render(request=request, **session_of(request), **context)
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
