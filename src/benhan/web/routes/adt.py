"""Admission, transfer, discharge (ADT) with the department's bed map. Every form repeats the patient's two
identifiers and asks to confirm them: a wrong-patient admission or discharge is the error to prevent."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import adt, facility, registration
from benhan.clinical.chart import encounter_item
from benhan.clinical.records import ClinicalError, ref_id
from benhan.web.deps import ctx_of, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import gettext_for, render


async def _departments(request: Request) -> list[facility.Department]:
    return [d for d in await facility.list_departments(repo_of(request), ctx_of(request)) if d.kind == "inpatient"]


async def _patient(request: Request, pid: str) -> registration.PatientSummary:
    return registration.PatientSummary.of((await repo_of(request).read(ctx_of(request), "Patient", pid)).json())


async def _context(request: Request, pid: str, dept: str, **extra: object) -> dict[str, object]:
    departments = await _departments(request)
    dept = dept or (departments[0].id if departments else "")
    beds = await facility.bed_map(repo_of(request), ctx_of(request), dept) if dept else []
    return {
        "patient": await _patient(request, pid) if pid else None,
        "departments": departments,
        "dept": dept,
        "beds": beds,
        "errors": {},
        "values": {},
        **extra,
    }


async def beds_page(request: Request) -> Response:
    """The bed map of a department (also the HTMX partial when the department changes)."""
    q = request.query_params
    ctx = await _context(
        request, q.get("patient", ""), q.get("dept", ""), mode=q.get("mode", "view"), encounter=q.get("encounter", "")
    )
    return render(request, "pages/beds.html", ctx, partial="partials/bed_map.html")


async def admit_page(request: Request) -> Response:
    q = request.query_params
    ctx = await _context(
        request, q.get("patient", ""), q.get("dept", ""), mode="admit", from_encounter=q.get("from", "")
    )
    return render(request, "pages/admit.html", ctx)


def _choose_bed(request: Request) -> str:
    _ = gettext_for(request)
    return str(_("Choose a free bed."))


def _confirm_error(request: Request) -> dict[str, str]:
    _ = gettext_for(request)
    return {"confirm_patient": _("Confirm that this is the right patient.")}


async def admit(request: Request) -> Response:
    values = await form_of(request)
    pid = values.get("patient_id", "")
    errors = {} if checked(values, "confirm_patient") else _confirm_error(request)
    if not values.get("bed_id"):
        errors["bed"] = _choose_bed(request)
    if not errors:
        try:
            enc = await adt.admit(
                repo_of(request),
                ctx_of(request),
                pid,
                department_id=values.get("dept", ""),
                bed_id=values["bed_id"],
                from_encounter_id=values.get("from_encounter") or None,
                confirmed=checked(values, "confirmed"),
            )
            return RedirectResponse(f"/patients/{pid}?encounter={enc}", status_code=303)
        except ClinicalError as exc:
            errors = errors_of(request, exc)
    ctx = await _context(
        request,
        pid,
        values.get("dept", ""),
        mode="admit",
        errors=errors,
        values=values,
        from_encounter=values.get("from_encounter", ""),
    )
    return render(request, "pages/admit.html", ctx, status=422)


async def _stay(request: Request, enc_id: str) -> tuple[dict[str, object], str]:
    enc = (await repo_of(request).read(ctx_of(request), "Encounter", enc_id)).json()
    pid = ref_id(enc.get("subject"), "Patient") or ""
    return {"stay": encounter_item(enc)}, pid


async def transfer_page(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    stay, pid = await _stay(request, enc_id)
    ctx = await _context(request, pid, request.query_params.get("dept", ""), mode="transfer", encounter=enc_id, **stay)
    return render(request, "pages/transfer.html", ctx)


async def transfer(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    stay, pid = await _stay(request, enc_id)
    errors = {} if checked(values, "confirm_patient") and values.get("patient_id") == pid else _confirm_error(request)
    if not values.get("bed_id"):
        errors["bed"] = _choose_bed(request)
    if not errors:
        try:
            await adt.transfer(
                repo_of(request),
                ctx_of(request),
                enc_id,
                department_id=values.get("dept", ""),
                bed_id=values["bed_id"],
                confirmed=checked(values, "confirmed"),
            )
            return RedirectResponse(f"/patients/{pid}", status_code=303)
        except ClinicalError as exc:
            errors = errors_of(request, exc)
    ctx = await _context(
        request, pid, values.get("dept", ""), mode="transfer", encounter=enc_id, errors=errors, values=values, **stay
    )
    return render(request, "pages/transfer.html", ctx, status=422)


async def discharge_page(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    stay, pid = await _stay(request, enc_id)
    return render(
        request,
        "pages/discharge.html",
        {
            "patient": await _patient(request, pid),
            "encounter": enc_id,
            "types": adt.DISCHARGE_TYPES,
            "errors": {},
            "values": {},
            **stay,
        },
    )


async def discharge(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    stay, pid = await _stay(request, enc_id)
    errors = {} if checked(values, "confirm_patient") and values.get("patient_id") == pid else _confirm_error(request)
    if not errors:
        try:
            await adt.discharge(
                repo_of(request), ctx_of(request), enc_id, discharge_type=values.get("discharge_type", "")
            )
            return RedirectResponse(f"/patients/{pid}", status_code=303)
        except ClinicalError as exc:
            errors = errors_of(request, exc)
    return render(
        request,
        "pages/discharge.html",
        {
            "patient": await _patient(request, pid),
            "encounter": enc_id,
            "types": adt.DISCHARGE_TYPES,
            "errors": errors,
            "values": values,
            **stay,
        },
        status=422,
    )


async def mark_clean(request: Request) -> Response:
    values = await form_of(request)
    await facility.mark_bed_clean(repo_of(request), ctx_of(request), request.path_params["bed"])
    return RedirectResponse(f"/adt/beds?dept={values.get('dept', '')}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        route("/adt/beds", beds_page),
        route("/adt/admit", admit_page),
        route("/adt/admit", admit, ["POST"]),
        route("/adt/transfer/{enc}", transfer_page),
        route("/adt/transfer/{enc}", transfer, ["POST"]),
        route("/adt/discharge/{enc}", discharge_page),
        route("/adt/discharge/{enc}", discharge, ["POST"]),
        route("/adt/beds/{bed}/clean", mark_clean, ["POST"]),
    ]
