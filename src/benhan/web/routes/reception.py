"""Reception (tiếp đón): find as you type, CCCD QR (scanner or camera), BHYT check, duplicate guard,
register, then open a visit or go on to admission."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import adt, facility, registration
from benhan.clinical.bhyt_card import parse_card_date
from benhan.clinical.records import ClinicalError, parse_vn_date
from benhan.web.deps import ctx_of, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import gettext_for, is_htmx, language, render

FIELDS = (
    "full_name",
    "birth_date",
    "sex",
    "cccd",
    "old_id",
    "phone",
    "address",
    "bhyt_number",
    "bhyt_valid_from",
    "bhyt_valid_to",
    "bhyt_facility",
)


def _date(text: str, card: bool = False) -> date | None:
    if not text:
        return None
    try:
        return parse_card_date(text) if card else parse_vn_date(text)
    except ValueError:
        return None


def form_values(form: registration.RegistrationForm) -> dict[str, str]:
    def d(v: date | None) -> str:
        return v.strftime("%d/%m/%Y") if v else ""

    return {
        "full_name": form.full_name,
        "birth_date": d(form.birth_date),
        "sex": form.sex,
        "cccd": form.cccd,
        "old_id": form.old_id,
        "phone": form.phone,
        "address": form.address,
        "bhyt_number": form.bhyt_number,
        "bhyt_valid_from": d(form.bhyt_valid_from),
        "bhyt_valid_to": d(form.bhyt_valid_to),
        "bhyt_facility": form.bhyt_facility,
    }


def parse_form(values: dict[str, str]) -> tuple[registration.RegistrationForm, dict[str, str]]:
    """The typed form and the date fields that could not be read (kept as typed, shown at the field)."""
    bad: dict[str, str] = {}
    dates: dict[str, date | None] = {}
    for name in ("birth_date", "bhyt_valid_from", "bhyt_valid_to"):
        dates[name] = _date(values.get(name, ""), card=name != "birth_date")
        if values.get(name) and dates[name] is None:
            bad[name] = "dd/mm/yyyy"
    form = registration.RegistrationForm(
        full_name=values.get("full_name", ""),
        birth_date=dates["birth_date"],
        sex=values.get("sex", ""),
        cccd=values.get("cccd", "").replace(" ", ""),
        old_id=values.get("old_id", ""),
        phone=values.get("phone", ""),
        address=values.get("address", ""),
        bhyt_number=values.get("bhyt_number", ""),
        bhyt_valid_from=dates["bhyt_valid_from"],
        bhyt_valid_to=dates["bhyt_valid_to"],
        bhyt_facility=values.get("bhyt_facility", ""),
    )
    return form, bad


async def page(request: Request) -> Response:
    return render(request, "pages/reception.html", {"values": {}, "errors": {}, "q": ""})


async def search(request: Request) -> Response:
    q = request.query_params.get("q", "")
    found = await registration.find_patients(repo_of(request), ctx_of(request), q) if len(q.strip()) >= 2 else []
    return render(
        request,
        "pages/reception.html",
        {"values": {}, "errors": {}, "q": q, "patients": found, "searched": len(q.strip()) >= 2},
        partial="partials/patient_results.html",
    )


async def fill_from_qr(request: Request) -> Response:
    values = await form_of(request)
    warnings: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        parsed, notes = registration.form_from_qr(values.get("qr", ""))
        values = {**values, **form_values(parsed)}
        warnings = {n.field: n.message(language(request)) for n in notes}
    except ClinicalError as exc:
        errors = errors_of(request, exc)
    ctx = {"values": values, "errors": errors, "warnings": warnings, "q": ""}
    return render(request, "pages/reception.html", ctx, partial="partials/register_form.html")


async def register(request: Request) -> Response:
    values = await form_of(request)
    form, bad_dates = parse_form(values)
    _ = gettext_for(request)
    errors = dict.fromkeys(bad_dates, str(_("Not a date: write it as dd/mm/yyyy.")))
    duplicates: list[registration.DuplicateCandidate] = []
    hard = False
    if not errors:
        try:
            pid = await registration.register_patient(
                repo_of(request), ctx_of(request), form, confirmed=checked(values, "confirmed")
            )
            url = f"/reception/patients/{pid}"
            if is_htmx(request):
                return Response(status_code=204, headers={"HX-Redirect": url})
            return RedirectResponse(url, status_code=303)
        except registration.DuplicateFound as exc:
            duplicates, hard = exc.candidates, exc.hard
            errors = errors_of(request, exc)
        except ClinicalError as exc:
            errors = errors_of(request, exc)
    ctx = {"values": values, "errors": errors, "duplicates": duplicates, "hard": hard, "q": ""}
    return render(request, "pages/reception.html", ctx, partial="partials/register_form.html", status=422)


async def rooms_for_visits(request: Request) -> list[tuple[facility.Department, list[dict[str, str]]]]:
    repo, ctx = repo_of(request), ctx_of(request)
    out = []
    for dept in await facility.list_departments(repo, ctx):
        if dept.kind in ("outpatient", "emergency"):
            rooms = [
                {"id": loc["id"], "name": str(loc.get("name", ""))}
                for loc in await facility.department_locations(repo, ctx, dept.id)
                if facility.physical_type(loc) == "ro"
            ]
            out.append((dept, sorted(rooms, key=lambda r: r["name"])))
    return out


async def patient_start(request: Request) -> Response:
    """After registration or a search hit: the banner, open a visit, or admit."""
    repo, ctx = repo_of(request), ctx_of(request)
    pid = request.path_params["pid"]
    patient = registration.PatientSummary.of((await repo.read(ctx, "Patient", pid)).json())
    return render(
        request,
        "pages/patient_start.html",
        {
            "patient": patient,
            "rooms": await rooms_for_visits(request),
            "errors": {},
            "visit": request.query_params.get("visit"),
            "queue": request.query_params.get("queue"),
        },
    )


async def open_visit(request: Request) -> Response:
    values = await form_of(request)
    pid = request.path_params["pid"]
    try:
        visit = await adt.open_visit(
            repo_of(request), ctx_of(request), pid, kind=values.get("kind", ""), room_id=values.get("room_id", "")
        )
    except ClinicalError as exc:
        repo, ctx = repo_of(request), ctx_of(request)
        patient = registration.PatientSummary.of((await repo.read(ctx, "Patient", pid)).json())
        return render(
            request,
            "pages/patient_start.html",
            {
                "patient": patient,
                "rooms": await rooms_for_visits(request),
                "errors": errors_of(request, exc),
            },
            status=422,
        )
    url = f"/reception/patients/{pid}?visit={visit.encounter_id}&queue={visit.queue_number or ''}"
    return RedirectResponse(url, status_code=303)


def routes() -> list[BaseRoute]:
    return [
        route("/reception", page),
        route("/reception/search", search),
        route("/reception/qr", fill_from_qr, ["POST"]),
        route("/reception/register", register, ["POST"]),
        route("/reception/patients/{pid}", patient_start),
        route("/reception/patients/{pid}/visits", open_visit, ["POST"]),
    ]
