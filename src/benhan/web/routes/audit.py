"""The auditor's screen (search the audit log, one event in full) and "who viewed this record" per patient
(issue 4).  Who may see them is decided in ``benhan.admin.audit_reports``; opening them is audited."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.access.audit import ACTIONS, OUTCOMES
from benhan.admin import audit_reports
from benhan.clinical.records import ClinicalError, FieldMessage
from benhan.fhir.storage.admin_types import AuditFilter
from benhan.kernel.clock import VN_TZ
from benhan.web.deps import admin_of, ctx_of
from benhan.web.forms import errors_of
from benhan.web.http import route
from benhan.web.templating import render


def _day(values: dict[str, str], name: str, problems: list[FieldMessage]) -> datetime | None:
    """A dd/mm/yyyy date as the start of that day in Vietnam time."""
    text = values.get(name, "")
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").replace(tzinfo=VN_TZ)
    except ValueError:
        problems.append(FieldMessage(name, "Ngày theo dạng dd/mm/yyyy.", "Write the date as dd/mm/yyyy."))
        return None


def _page(values: dict[str, str]) -> int:
    return int(values["page"]) if values.get("page", "").isdigit() else 1


def parse_filter(values: dict[str, str]) -> AuditFilter:
    problems: list[FieldMessage] = []
    since, until = _day(values, "from", problems), _day(values, "to", problems)
    if values.get("action") and values["action"] not in ACTIONS:
        problems.append(FieldMessage("action", "Chọn một hành động trong danh sách.", "Choose an action."))
    if values.get("outcome") and values["outcome"] not in OUTCOMES:
        problems.append(FieldMessage("outcome", "Chọn một kết quả trong danh sách.", "Choose an outcome."))
    if since and until and until < since:
        problems.append(FieldMessage("to", "Ngày kết thúc trước ngày bắt đầu.", "The end is before the start."))
    if problems:
        raise ClinicalError(*problems)
    return AuditFilter(
        user_name=values.get("user") or None, patient_id=values.get("patient") or None,
        action=values.get("action") or None, outcome=values.get("outcome") or None, since=since,
        until=until + timedelta(days=1) if until else None,  # "to" includes that whole day
        break_glass=True if values.get("btg") == "1" else None,
    )


async def audit_page(request: Request) -> Response:
    values = {k: v.strip() for k, v in request.query_params.items()}
    context: dict[str, object] = {"values": values, "errors": {}, "actions": sorted(ACTIONS),
                                  "outcomes": list(OUTCOMES), "result": None}
    try:
        where = parse_filter(values)
    except ClinicalError as exc:
        # the caller must still be allowed to see the screen before being told about their input
        await audit_reports.authorise(admin_of(request), ctx_of(request), "audit search")
        return render(request, "pages/audit.html", {**context, "errors": errors_of(request, exc)}, status=422)
    context["result"] = await audit_reports.search(admin_of(request), ctx_of(request), where, _page(values))
    return render(request, "pages/audit.html", context, partial="partials/audit_rows.html")


async def audit_event(request: Request) -> Response:
    where = request.path_params
    detail = await audit_reports.event_detail(admin_of(request), ctx_of(request), where["chain"], where["seq"],
                                              where.get("part", 0))
    return render(request, "pages/audit_event.html", {"d": detail, "a": detail.access})


async def who_viewed(request: Request) -> Response:
    pid = request.path_params["pid"]
    page = _page(dict(request.query_params))
    found = await audit_reports.who_viewed(admin_of(request), ctx_of(request), pid, page)
    return render(request, "pages/accesses.html", {"patient": found.patient, "result": found.accesses})


async def glass_review(request: Request) -> Response:
    items, more = await audit_reports.break_glass_review(admin_of(request), ctx_of(request),
                                                         _page(dict(request.query_params)))
    return render(request, "pages/break_glass_review.html", {"items": items, "has_more": more,
                                                              "page": _page(dict(request.query_params))})


def routes() -> list[BaseRoute]:
    return [
        route("/audit", audit_page),
        route("/break-glass/review", glass_review),
        route("/audit/{chain:int}/{seq:int}", audit_event),  # a row of the audit log
        route("/audit/{chain:int}/{seq:int}/{part:int}", audit_event),  # an event of a block (migration 0018)
        route("/patients/{pid}/accesses", who_viewed),
    ]
