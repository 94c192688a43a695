"""Medication administration on a tablet (eMAR): the shift's list, the wristband scan, the dose record (given,
held, refused) with the right-patient / right-drug checks, and vital signs from the same screen (NEWS2)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import emar, facility, vitals
from benhan.clinical.records import ClinicalError, NeedsConfirmation, parse_instant
from benhan.web.deps import ctx_of, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.routes.orders import load_stay
from benhan.web.templating import render


async def _departments(request: Request) -> list[facility.Department]:
    found = await facility.list_departments(repo_of(request), ctx_of(request))
    return [d for d in found if d.kind in ("inpatient", "emergency")]


async def _list(request: Request, dept: str, *, status: int = 200, **extra: object) -> Response:
    departments = await _departments(request)
    dept = dept or ctx_of(request).department_id or (departments[0].id if departments else "")
    shift = request.query_params.get("shift") or None
    name, rows = await emar.shift_list(repo_of(request), ctx_of(request), dept, shift=shift) if dept else ("", [])
    context = {
        "dept": dept,
        "departments": departments,
        "shift": name,
        "shifts": emar.SHIFTS,
        "rows": rows,
        "errors": {},
        "values": {},
        **extra,
    }
    return render(request, "pages/emar.html", context, status=status)


async def emar_page(request: Request) -> Response:
    return await _list(request, request.query_params.get("dept", ""))


async def scan(request: Request) -> Response:
    """A wristband scanned on the list (a USB scanner types the code and Enter): open that patient's doses."""
    values = await form_of(request)
    dept = values.get("dept", "")
    try:
        enc_id = await emar.find_by_wristband(repo_of(request), ctx_of(request), values.get("scan", ""), dept)
    except ClinicalError as exc:
        return await _list(request, dept, status=422, errors=errors_of(request, exc), values=values)
    return RedirectResponse(f"/emar/{enc_id}?scan={values.get('scan', '').strip()}", status_code=303)


async def _patient(request: Request, enc_id: str, *, status: int = 200, **extra: object) -> Response:
    repo, ctx = repo_of(request), ctx_of(request)
    stay = await load_stay(request, enc_id)
    shift, rows = await emar.shift_list(repo, ctx, stay.stay.department_id, encounter_id=enc_id)
    obs = await repo.search_json(
        ctx, "Observation", [("encounter", f"Encounter/{enc_id}"), ("category", "vital-signs")]
    )
    context = {
        "s": stay,
        "patient": stay.patient,
        "row": rows[0] if rows else None,
        "shift": shift,
        "scanned": request.query_params.get("scan", ""),
        "outcomes": emar.OUTCOMES,
        "signs": vitals.SIGNS,
        "acvpu": vitals.ACVPU,
        "snapshot": vitals.latest_snapshot(obs),
        "errors": {},
        "values": {},
        "section": "",
        **extra,
    }
    return render(request, "pages/emar_patient.html", context, status=status)


async def patient_page(request: Request) -> Response:
    return await _patient(request, request.path_params["enc"], saved=request.query_params.get("saved", ""))


def _dose_choice(value: str) -> tuple[str, datetime | None]:
    rid, _, at = value.partition("|")
    return rid, parse_instant(at) if at else None


async def give(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    rid, scheduled = _dose_choice(values.get("dose", ""))
    record = emar.DoseRecord(
        request_id=rid,
        outcome=values.get("outcome", ""),
        scanned_patient=values.get("scanned_patient", ""),
        patient_confirmed=checked(values, "patient_confirmed"),
        scanned_drug=values.get("scanned_drug", ""),
        reason=values.get("reason", ""),
        scheduled=scheduled,
    )
    try:
        if not rid:
            raise ClinicalError.one("dose", "Chọn liều thuốc.", "Choose the dose.")
        await emar.record_dose(repo_of(request), ctx_of(request), enc_id, record)
    except ClinicalError as exc:
        return await _patient(
            request, enc_id, status=422, errors=errors_of(request, exc), values=values, section="give"
        )
    scan_ = values.get("scanned_patient", "")
    return RedirectResponse(f"/emar/{enc_id}?saved=1{'&scan=' + scan_ if scan_ else ''}", status_code=303)


async def add_vitals(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    try:
        await vitals.record_vitals(
            repo_of(request),
            ctx_of(request),
            enc_id,
            vitals.parse_vitals_form(values),
            confirmed=checked(values, "confirmed"),
        )
    except ClinicalError as exc:
        return await _patient(
            request,
            enc_id,
            status=422,
            errors=errors_of(request, exc),
            values=values,
            section="vitals",
            confirm=isinstance(exc, NeedsConfirmation),
        )
    return RedirectResponse(f"/emar/{enc_id}?saved=vitals#vitals", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        route("/emar", emar_page),
        route("/emar/scan", scan, ["POST"]),
        route("/emar/{enc}", patient_page),
        route("/emar/{enc}/give", give, ["POST"]),
        route("/emar/{enc}/vitals", add_vitals, ["POST"]),
    ]
