"""The facility's catalogue import screen (issue 5): the facility administrator or a pharmacist uploads a CSV or
Excel file of drugs, services or supplies and sees the report, one line per problem at its row and column.
Nothing is stored while a row is invalid; the user fixes the file and uploads it again (a browser cannot keep a
chosen file across pages, so the form keeps the kind and shows the file name the report is about). The import
itself is :func:`benhan.terminology.facility_catalogues.import_catalogue`, as for ``benhan catalogue import``."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.terminology.catalogue_fhir import KINDS, Kind
from benhan.terminology.facility_catalogues import import_catalogue, may_import, source_file, stored_catalogues
from benhan.web.deps import ctx_of, repo_of
from benhan.web.http import route
from benhan.web.templating import render

_KINDS: dict[str, Kind] = {k: k for k in KINDS}
MAX_BYTES = 10 * 1024 * 1024  # a province-wide drug list is well under 1 MB as CSV


def _facility(request: Request, form_value: str = "") -> str:
    """The facility the user works in; a system client (no facility of its own) names one with ``facility``."""
    ctx = ctx_of(request)
    facility = ctx.facility_id or form_value or request.query_params.get("facility", "")
    if not facility or not may_import(ctx, facility):
        raise BenhanError(ErrorCode.FORBIDDEN, "Only the facility's administrator or pharmacist may import its list")
    return facility


async def _page(request: Request, facility: str, *, status: int = 200, **extra: object) -> Response:
    context: dict[str, object] = {
        "facility": facility,
        "kinds": KINDS,
        "stored": await stored_catalogues(repo_of(request), ctx_of(request), facility),
        "kind": "drug",
        "errors": {},
        "outcome": None,
        **extra,
    }
    return render(request, "pages/catalogues.html", context, status=status)


async def catalogues_page(request: Request) -> Response:
    return await _page(request, _facility(request))


async def upload(request: Request) -> Response:
    form = await request.form()
    facility = _facility(request, str(form.get("facility") or ""))
    kind = _KINDS.get(str(form.get("kind") or ""))
    file = form.get("file")
    if kind is None:
        return await _page(request, facility, status=422, errors={"kind": "kind"})
    if not isinstance(file, UploadFile) or not file.filename:
        return await _page(request, facility, status=422, kind=kind, errors={"file": "file"})
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return await _page(request, facility, status=422, kind=kind, errors={"file": "size"})
    outcome = await import_catalogue(repo_of(request), ctx_of(request), facility, kind, data, file.filename,
                                     dry_run=form.get("dry_run") == "1")  # fmt: skip
    return await _page(request, facility, status=200 if outcome.report.ok else 422, kind=kind, outcome=outcome)


async def download(request: Request) -> Response:
    """The file of the list in use, as it was imported: correct it and import it again."""
    kind = _KINDS.get(request.path_params["kind"])
    if kind is None:
        raise BenhanError(ErrorCode.NOT_FOUND, "No such catalogue")
    data, content_type, name = await source_file(repo_of(request), ctx_of(request), _facility(request), kind)
    return Response(data, media_type=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def routes() -> list[BaseRoute]:
    return [
        route("/catalogues", catalogues_page),
        route("/catalogues", upload, ["POST"]),
        route("/catalogues/{kind}/file", download),
    ]
