"""The doctor's orders of a stay (y lệnh): medication orders with the safety alerts to acknowledge, change, renew
and stop; lab and imaging orders; care orders; drug allergies. The type-ahead over the facility catalogues is in
``typeahead.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import catalogues, orders, service_orders
from benhan.clinical.chart import EncounterItem, encounter_item
from benhan.clinical.order_safety import allergy_text
from benhan.clinical.records import ClinicalError, ref_id
from benhan.clinical.registration import PatientSummary
from benhan.kernel.clock import VN_TZ
from benhan.web.deps import ctx_of, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import render

MED_FIELDS = ("drug", "dose", "unit", "route", "frequency", "duration_days", "start", "stop", "instructions", "rate")


@dataclass(frozen=True, slots=True)
class Stay:
    patient: PatientSummary
    stay: EncounterItem
    allergies: list[str]


async def load_stay(request: Request, enc_id: str) -> Stay:
    """The stay, its patient (for the banner's two identifiers) and the allergies; shared by the clinical pages."""
    repo, ctx = repo_of(request), ctx_of(request)
    enc = (await repo.read(ctx, "Encounter", enc_id)).json()
    pid = ref_id(enc.get("subject"), "Patient") or ""
    patient = (await repo.read(ctx, "Patient", pid)).json()
    allergies = await repo.search_json(ctx, "AllergyIntolerance", [("patient", f"Patient/{pid}")])
    return Stay(PatientSummary.of(patient), encounter_item(enc), [allergy_text(a) for a in allergies])


def parse_local(text: str) -> datetime | None:
    """A ``datetime-local`` value or ``dd/mm/yyyy HH:MM``, in Vietnam time; None when empty or unreadable."""
    for fmt in ("%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%H:%M %d/%m/%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=VN_TZ)
        except ValueError:
            continue
    return None


def med_input(values: dict[str, str]) -> orders.MedicationOrderInput:
    return orders.MedicationOrderInput(
        drug_code=values.get("drug", ""),
        frequency=values.get("frequency", ""),
        dose=values.get("dose", ""),
        unit=values.get("unit", ""),
        route=values.get("route", ""),
        duration_days=values.get("duration_days", ""),
        start=parse_local(values.get("start", "")),
        stop=parse_local(values.get("stop", "")),
        instructions=values.get("instructions", ""),
        rate=values.get("rate", ""),
    )


async def _page(request: Request, enc_id: str, *, status: int = 200, **extra: object) -> Response:
    repo, ctx = repo_of(request), ctx_of(request)
    stay = await load_stay(request, enc_id)
    context: dict[str, object] = {
        "s": stay,
        "patient": stay.patient,
        "meds": await orders.encounter_medications(repo, ctx, enc_id),
        "services": await service_orders.encounter_services(repo, ctx, enc_id),
        "panels": service_orders.PANELS,
        "priorities": service_orders.PRIORITIES,
        "diets": service_orders.DIETS,
        "care_levels": service_orders.CARE_LEVELS,
        "routes": await catalogues.route_choices(repo, ctx, enc_id),
        "errors": {},
        "values": {},
        "form": "",
        "alerts": [],
        **extra,
    }
    return render(request, "pages/orders.html", context, status=status)


async def orders_page(request: Request) -> Response:
    return await _page(request, request.path_params["enc"], saved=request.query_params.get("saved", ""))


def _done(enc_id: str, what: str) -> Response:
    return RedirectResponse(f"/orders/{enc_id}?saved={what}#{what}", status_code=303)


async def add_medication(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    replaces = values.get("replaces") or None
    overrides = {k: v for k, v in values.items() if k.startswith("override_")}
    try:
        await orders.order_medication(
            repo_of(request),
            ctx_of(request),
            enc_id,
            med_input(values),
            overrides=overrides,
            replaces=replaces,
            renewal=checked(values, "renewal"),
        )
    except orders.OrderAlerts as exc:
        return await _page(request, enc_id, status=422, values=values, form="med", alerts=exc.alerts)
    except ClinicalError as exc:
        return await _page(request, enc_id, status=422, values=values, form="med", errors=errors_of(request, exc))
    return _done(enc_id, "meds")


async def edit_medication(request: Request) -> Response:
    """The order form filled with an existing order, to change it or renew it (``?renew=1``)."""
    enc_id, rid = request.path_params["enc"], request.path_params["rid"]
    req = (await repo_of(request).read(ctx_of(request), "MedicationRequest", rid)).json()
    view = orders.order_view(req)
    base = orders.input_of(view)
    values = {
        "drug": base.drug_code,
        "frequency": base.frequency,
        "route": base.route,
        "instructions": base.instructions,
        "rate": base.rate,
        "replaces": rid,
        "renewal": "1" if request.query_params.get("renew") else "",
    }
    return await _page(request, enc_id, values=values, form="med", editing=view)


async def stop_medication(request: Request) -> Response:
    enc_id, rid = request.path_params["enc"], request.path_params["rid"]
    values = await form_of(request)
    try:
        await orders.stop_medication(repo_of(request), ctx_of(request), rid, reason=values.get("reason", ""))
    except ClinicalError as exc:
        errs = {f"stop-{rid}": " ".join(errors_of(request, exc).values())}
        return await _page(request, enc_id, status=422, errors=errs, values=values)
    return _done(enc_id, "meds")


async def add_services(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    form = await request.form()
    codes = [str(v) for v in form.getlist("service") if isinstance(v, str) and v.strip()]
    try:
        await service_orders.order_services(
            repo_of(request),
            ctx_of(request),
            enc_id,
            codes=codes,
            panel=values.get("panel", ""),
            priority=values.get("priority", "routine"),
            note=values.get("note", ""),
        )
    except ClinicalError as exc:
        return await _page(request, enc_id, status=422, values=values, form="svc", errors=errors_of(request, exc))
    return _done(enc_id, "services")


async def add_care(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    try:
        await service_orders.order_care(
            repo_of(request),
            ctx_of(request),
            enc_id,
            diet=values.get("diet", ""),
            care_level=values.get("care_level", ""),
            monitoring=values.get("monitoring", ""),
        )
    except ClinicalError as exc:
        return await _page(request, enc_id, status=422, values=values, form="care", errors=errors_of(request, exc))
    return _done(enc_id, "care")


async def add_allergy(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    stay = await load_stay(request, enc_id)
    try:
        await service_orders.record_allergy(
            repo_of(request),
            ctx_of(request),
            stay.patient.id,
            substance=values.get("substance", ""),
            reaction=values.get("reaction", ""),
        )
    except ClinicalError as exc:
        return await _page(request, enc_id, status=422, values=values, form="allergy", errors=errors_of(request, exc))
    return _done(enc_id, "allergies")


def routes() -> list[BaseRoute]:
    return [
        route("/orders/{enc}", orders_page),
        route("/orders/{enc}/medications", add_medication, ["POST"]),
        route("/orders/{enc}/medications/{rid}/edit", edit_medication),
        route("/orders/{enc}/medications/{rid}/stop", stop_medication, ["POST"]),
        route("/orders/{enc}/services", add_services, ["POST"]),
        route("/orders/{enc}/care", add_care, ["POST"]),
        route("/orders/{enc}/allergies", add_allergy, ["POST"]),
    ]
