"""The patient chart: banner, timeline, diagnoses (ICD-10 type-ahead), vital signs with NEWS2 and the trend
charts, progress notes. Each write re-checks that the form's patient is the stay's patient."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import chart, diagnoses, notes, vitals
from benhan.clinical.records import ClinicalError, NeedsConfirmation, ref_id
from benhan.web.deps import ctx_of, may_read, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.templating import is_htmx, render


async def _render_chart(
    request: Request, pid: str, *, status: int = 200, section: str | None = None, **extra: object
) -> Response:
    data = await chart.patient_chart(
        repo_of(request), ctx_of(request), pid, readable=lambda type_: may_read(request, type_)
    )
    context: dict[str, object] = {
        "chart": data,
        "patient": data.patient,
        "bhyt": chart.bhyt_of(data),
        "signs": vitals.SIGNS,
        "acvpu": vitals.ACVPU,
        "templates": notes.TEMPLATES,
        "errors": {},
        "values": {},
        "section": section,
        **extra,
    }
    partial = f"partials/chart_{section}.html" if section else None
    return render(request, "pages/chart.html", context, partial=partial, status=status)


async def chart_page(request: Request) -> Response:
    return await _render_chart(request, request.path_params["pid"])


async def _stay_of(request: Request, pid: str, values: dict[str, str]) -> str:
    """The encounter the form was filled for; refuses a form whose patient is not the stay's patient."""
    enc_id = values.get("encounter_id", "")
    enc = (await repo_of(request).read(ctx_of(request), "Encounter", enc_id)).json() if enc_id else {}
    if not enc_id or ref_id(enc.get("subject"), "Patient") != pid or values.get("patient_id") != pid:
        raise ClinicalError.one(
            "",
            "Biểu mẫu không khớp bệnh nhân đang mở. Tải lại hồ sơ.",
            "The form does not match the open patient. Reload the chart.",
        )
    return enc_id


async def _write(request: Request, section: str, action: str) -> Response:
    pid = request.path_params["pid"]
    values = await form_of(request)
    repo, ctx = repo_of(request), ctx_of(request)
    try:
        enc_id = await _stay_of(request, pid, values)
        confirmed = checked(values, "confirmed")
        if action == "diagnosis":
            await diagnoses.add_diagnosis(
                repo,
                ctx,
                enc_id,
                values.get("code", "").split(" ")[0],
                main=checked(values, "main"),
                confirmed=confirmed,
            )
        elif action == "vitals":
            await vitals.record_vitals(repo, ctx, enc_id, vitals.parse_vitals_form(values), confirmed=confirmed)
        else:
            await notes.add_progress_note(
                repo, ctx, enc_id, progress=values.get("progress", ""), orders=values.get("orders", "")
            )
    except ClinicalError as exc:
        return await _render_chart(
            request,
            pid,
            status=422,
            section=section,
            errors=errors_of(request, exc),
            values=values,
            confirm=isinstance(exc, NeedsConfirmation),
        )
    if not is_htmx(request):
        return RedirectResponse(f"/patients/{pid}#{section}", status_code=303)
    return await _render_chart(request, pid, section=section, saved=True)


async def add_diagnosis(request: Request) -> Response:
    return await _write(request, "diagnoses", "diagnosis")


async def add_vitals(request: Request) -> Response:
    return await _write(request, "vitals", "vitals")


async def add_note(request: Request) -> Response:
    return await _write(request, "notes", "note")


def routes() -> list[BaseRoute]:
    return [
        route("/patients/{pid}", chart_page),
        route("/patients/{pid}/diagnoses", add_diagnosis, ["POST"]),
        route("/patients/{pid}/vitals", add_vitals, ["POST"]),
        route("/patients/{pid}/notes", add_note, ["POST"]),
    ]
