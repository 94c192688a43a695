"""Type-ahead (diagnosis, drug, service): every list comes from ``ValueSet/$expand`` with ``filter`` — the same
operation code as ``GET /fhir/ValueSet/$expand?url=…&filter=…``, called in-process with the user's request
context (so the access checks and the audit are the API's) and rendered as a ``<datalist>``.

- diagnoses: the packaged ICD-10 value set (``https://benhan.vn/fhir/ValueSet/icd-10-vn``);
- drugs and services: the value set of the catalogue of the facility treating the patient of the stay
  (``https://benhan.vn/fhir/ValueSet/thuoc-{facility}``, imported by the facility, see docs/admin.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from benhan.clinical import service_orders
from benhan.clinical.catalogues import services_at, stay_facility, stay_valueset
from benhan.fhir.operations.terminology_index import VS_BASE
from benhan.fhir.operations.valueset_expand import expand_url
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.web.deps import ctx_of, repo_of
from benhan.web.http import route
from benhan.web.templating import render

ICD10_VALUESET = f"{VS_BASE}/icd-10-vn"
#: characters typed before the list is asked for; options shown
MIN_CHARS, SHOWN = 2, 12


def _typed(request: Request, field: str) -> str:
    return (request.query_params.get(field, "") or request.query_params.get("q", "")).strip()


async def _expand(request: Request, url: str, text: str, count: int = SHOWN) -> list[dict[str, Any]]:
    """The ``contains`` of ``$expand``; empty for a short query or a facility that has imported no list."""
    if len(text) < MIN_CHARS:
        return []
    try:
        found = await expand_url(repo_of(request), ctx_of(request), url, text, count=count, designations=True)
    except BenhanError as exc:
        if exc.error is ErrorCode.NOT_FOUND:
            return []
        raise
    contains: list[dict[str, Any]] = found["expansion"].get("contains", [])
    return contains


def _options(request: Request, list_id: str, options: list[tuple[str, str]]) -> Response:
    return render(request, "partials/catalogue_options.html", {"options": options, "list_id": list_id})


async def icd10_search(request: Request) -> Response:
    """Accent-insensitive ICD-10 (QĐ 4469) by code or Vietnamese/English words."""
    found = await _expand(request, ICD10_VALUESET, _typed(request, "code"))
    return _options(request, "icd10-list", [(f"{c['code']} {c['display']}", "") for c in found])


def _ingredient(entry: dict[str, Any]) -> str:
    return next((str(d["value"]) for d in entry.get("designation") or []), "")


async def drug_search(request: Request) -> Response:
    """Drug name or active ingredient (a designation of the catalogue concept), accent-insensitive."""
    facility = await stay_facility(repo_of(request), ctx_of(request), request.path_params["enc"])
    found = await _expand(request, stay_valueset("drug", facility), _typed(request, "drug"))
    return _options(request, "drug-list", [(f"{c['code']} {c['display']}", _ingredient(c)) for c in found])


async def service_search(request: Request) -> Response:
    """Lab and imaging services of the facility's service catalogue."""
    repo, ctx = repo_of(request), ctx_of(request)
    facility = await stay_facility(repo, ctx, request.path_params["enc"])
    found = await _expand(request, stay_valueset("service", facility), _typed(request, "service"), count=4 * SHOWN)
    services = await services_at(repo, ctx, facility) if found else None
    options = []
    for c in found:
        item = services.lookup(c["code"]) if services is not None else None
        kind = service_orders.service_kind(item) if item is not None else "other"
        if kind != "other":
            options.append((f"{c['code']} {c['display']}", kind))
    return _options(request, "service-list", options[:SHOWN])


def routes() -> list[BaseRoute]:
    return [
        route("/icd10", icd10_search),
        route("/orders/{enc}/drugs", drug_search),
        route("/orders/{enc}/services/search", service_search),
    ]
