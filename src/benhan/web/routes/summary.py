"""The nurses' daily summary of orders (phiếu tổng hợp y lệnh / phiếu lĩnh thuốc) and the per-patient medication
disclosure sheet (phiếu công khai thuốc): read on a phone, printed as the paper forms (print CSS)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import disclosure, facility, summary
from benhan.clinical.records import parse_vn_date, today_vn
from benhan.kernel.clock import VN_TZ
from benhan.web.deps import audit_print, ctx_of, repo_of
from benhan.web.forms import form_of
from benhan.web.http import route
from benhan.web.routes.orders import load_stay
from benhan.web.templating import render

MAX_DISCLOSURE_DAYS = 31


def _day(text: str) -> date:
    try:
        return parse_vn_date(text) if text.strip() else today_vn()
    except ValueError:
        return today_vn()


async def _departments(request: Request) -> list[facility.Department]:
    found = await facility.list_departments(repo_of(request), ctx_of(request))
    return [d for d in found if d.kind in ("inpatient", "emergency")]


async def summary_page(request: Request) -> Response:
    q = request.query_params
    departments = await _departments(request)
    dept = q.get("dept", "") or ctx_of(request).department_id or (departments[0].id if departments else "")
    day = _day(q.get("date", ""))
    data = await summary.daily_summary(repo_of(request), ctx_of(request), dept, day) if dept else None
    name = next((d.name for d in departments if d.id == dept), "")
    context = {"data": data, "dept": dept, "dept_name": name, "departments": departments, "day": day}
    return render(request, "pages/summary.html", context)


async def generate(request: Request) -> Response:
    values = await form_of(request)
    dept, day = values.get("dept", ""), _day(values.get("date", ""))
    await summary.generate_summary(repo_of(request), ctx_of(request), dept, day)
    return RedirectResponse(f"/summary?dept={dept}&date={day:%d/%m/%Y}", status_code=303)


def _stay_days(start: datetime | None, end: datetime | None) -> list[date]:
    last = end.astimezone(VN_TZ).date() if end else today_vn()
    first = start.astimezone(VN_TZ).date() if start else last
    first = max(first, last - timedelta(days=MAX_DISCLOSURE_DAYS - 1))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def disclosure_page(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    stay = await load_stay(request, enc_id)
    days = _stay_days(stay.stay.start, stay.stay.end)
    rows = await disclosure.stay_disclosure(repo_of(request), ctx_of(request), enc_id, days)
    await audit_print(request, "Encounter", enc_id, stay.patient.id)
    return render(request, "pages/disclosure.html", {"s": stay, "patient": stay.patient, "days": days, "rows": rows})


def routes() -> list[BaseRoute]:
    return [
        route("/summary", summary_page),
        route("/summary/generate", generate, ["POST"]),
        route("/summary/disclosure/{enc}", disclosure_page),
    ]
