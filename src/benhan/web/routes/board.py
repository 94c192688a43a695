"""The department board for the doctor on call: polled by HTMX every 20 s; "new since you last looked" is
relative to a per-department cookie set when the doctor marks the board as seen (or opens it afresh)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import board, facility
from benhan.web.deps import ctx_of, repo_of
from benhan.web.forms import form_of
from benhan.web.http import route
from benhan.web.templating import is_htmx, render

POLL_SECONDS = 20


def _seen(request: Request, dept: str) -> datetime | None:
    raw = request.cookies.get(f"seen_{dept}")
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def board_page(request: Request) -> Response:
    dept = request.query_params.get("dept", "")
    departments = [
        d
        for d in await facility.list_departments(repo_of(request), ctx_of(request))
        if d.kind in ("inpatient", "emergency")
    ]
    if not dept:
        dept = ctx_of(request).department_id or (departments[0].id if departments else "")
    data = (
        await board.department_board(repo_of(request), ctx_of(request), dept, seen_since=_seen(request, dept))
        if dept
        else None
    )
    response = render(
        request,
        "pages/board.html",
        {"board": data, "dept": dept, "departments": departments, "poll": POLL_SECONDS},
        partial="partials/board_rows.html",
    )
    if not is_htmx(request) and dept and _seen(request, dept) is None:
        response.set_cookie(f"seen_{dept}", datetime.now(UTC).isoformat(), httponly=True, samesite="lax")
    return response


async def mark_seen(request: Request) -> Response:
    dept = (await form_of(request)).get("dept", "")
    response = RedirectResponse(f"/board?dept={dept}", status_code=303)
    response.set_cookie(f"seen_{dept}", datetime.now(UTC).isoformat(), httponly=True, samesite="lax")
    return response


def routes() -> list[BaseRoute]:
    return [route("/board", board_page), route("/board/seen", mark_seen, ["POST"])]
