"""Printable papers: the giấy ra viện (filled, then the discharge, which closes the orders), the tóm tắt bệnh án
for transfers, and the patient wristband (Code 128 + QR of the patient code)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from benhan.clinical import adt, discharge_papers, wristband
from benhan.clinical.records import ClinicalError, FieldMessage, parse_vn_date
from benhan.clinical.registration import PatientSummary
from benhan.web.deps import audit_print, ctx_of, repo_of
from benhan.web.forms import checked, errors_of, form_of
from benhan.web.http import route
from benhan.web.routes.orders import load_stay
from benhan.web.templating import gettext_for, render


async def _form(
    request: Request, enc_id: str, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    stay = await load_stay(request, enc_id)
    context = {"s": stay, "patient": stay.patient, "types": adt.DISCHARGE_TYPES, "values": values, "errors": errors}
    return render(request, "pages/discharge_paper.html", context, status=status)


async def paper_form(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    defaults = await discharge_papers.paper_defaults(repo_of(request), ctx_of(request), enc_id)
    return await _form(request, enc_id, defaults, {})


def _follow_up(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return parse_vn_date(text)
    except ValueError:
        raise ClinicalError(
            FieldMessage("follow_up", "Ngày hẹn dạng dd/mm/yyyy.", "Follow-up date as dd/mm/yyyy.")
        ) from None


async def write_paper(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    values = await form_of(request)
    stay = await load_stay(request, enc_id)
    if not (checked(values, "confirm_patient") and values.get("patient_id") == stay.patient.id):
        _ = gettext_for(request)
        return await _form(
            request, enc_id, values, {"confirm_patient": _("Confirm that this is the right patient.")}, 422
        )
    try:
        paper = discharge_papers.DischargePaperInput(
            admission_codes=values.get("admission_codes", ""),
            discharge_codes=values.get("discharge_codes", ""),
            treatment=values.get("treatment", ""),
            medications=values.get("medications", ""),
            follow_up=_follow_up(values.get("follow_up", "")),
            follow_up_note=values.get("follow_up_note", ""),
        )
        await discharge_papers.discharge_with_paper(
            repo_of(request), ctx_of(request), enc_id, paper, discharge_type=values.get("discharge_type", "")
        )
    except ClinicalError as exc:
        return await _form(request, enc_id, values, errors_of(request, exc), 422)
    return RedirectResponse(f"/papers/discharge/{enc_id}/print", status_code=303)


async def paper_print(request: Request) -> Response:
    enc_id = request.path_params["enc"]
    paper = await discharge_papers.discharge_paper(repo_of(request), ctx_of(request), enc_id)
    if paper is None:
        return RedirectResponse(f"/papers/discharge/{enc_id}", status_code=303)
    await audit_print(request, "Encounter", enc_id, paper.patient.id)
    return render(request, "pages/discharge_print.html", {"paper": paper, "sections": discharge_papers.SECTIONS})


async def transfer_summary(request: Request) -> Response:
    data = await discharge_papers.transfer_summary(repo_of(request), ctx_of(request), request.path_params["enc"])
    await audit_print(request, "Encounter", request.path_params["enc"], data.patient.id)
    return render(request, "pages/transfer_summary.html", {"data": data, "patient": data.patient})


async def wristband_page(request: Request) -> Response:
    patient = PatientSummary.of(
        (await repo_of(request).read(ctx_of(request), "Patient", request.path_params["pid"])).json()
    )
    code = patient.ma_bn or patient.id
    await audit_print(request, "Patient", patient.id, patient.id)
    context = {
        "patient": patient,
        "code": code,
        "code128": Markup(wristband.code128_svg(code)),  # noqa: S704 - SVG generated here from the patient code
        "qr": Markup(wristband.qr_svg(code)),  # noqa: S704 - idem
    }
    return render(request, "pages/wristband.html", context)


def routes() -> list[BaseRoute]:
    return [
        route("/papers/discharge/{enc}", paper_form),
        route("/papers/discharge/{enc}", write_paper, ["POST"]),
        route("/papers/discharge/{enc}/print", paper_print),
        route("/papers/summary/{enc}", transfer_summary),
        route("/papers/wristband/{pid}", wristband_page),
    ]
