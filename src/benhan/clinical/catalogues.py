"""The facility catalogue an order is written from: the drug and service lists of the facility where the patient
is treated (the department of the stay, up its ``partOf`` chain to the facility), else of the user's active
facility. The lists themselves are stored and read by :mod:`benhan.terminology.facility_catalogues`.

Orders code the drug and the service in the facility's own code system
(``https://benhan.vn/fhir/CodeSystem/thuoc-{facility}``, ``…/dich-vu-{facility}``), so ``$lookup`` and
``$validate-code`` resolve an order's code against the list it was chosen from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benhan.access.org import org_kind
from benhan.clinical.records import JsonObj, ref_id
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology.catalogue import Catalogue, DrugItem, ServiceItem
from benhan.terminology.catalogue_fhir import Kind, codesystem_url, is_catalogue_system, items_of, valueset_url
from benhan.terminology.facility_catalogues import facility_catalogue

#: Organization levels walked up from a department before giving up (department → facility → province)
_MAX_DEPTH = 4


async def facility_of(repo: Repository, ctx: RequestContext, org_id: str | None) -> str | None:
    """The facility an organisation belongs to (itself when it is one), else the user's active facility."""
    for _ in range(_MAX_DEPTH):
        if not org_id:
            break
        org = (await repo.read(ctx, "Organization", org_id)).json()
        kind = org_kind(org)
        if kind == "facility":
            return org_id
        org_id = ref_id(org.get("partOf"), "Organization")
        if kind == "department" and org_id:
            return org_id  # a department is part of its facility (benhan.access.org): no second read
    return ctx.facility_id


async def encounter_facility(repo: Repository, ctx: RequestContext, enc: JsonObj) -> str | None:
    return await facility_of(repo, ctx, ref_id(enc.get("serviceProvider"), "Organization"))


async def _catalogue(repo: Repository, ctx: RequestContext, kind: Kind, facility_id: str | None) -> Catalogue[Any]:
    if facility_id is None:
        return items_of(kind, {})  # no facility, no list: every code is refused
    return await facility_catalogue(repo, ctx, kind, facility_id)


async def drugs_at(repo: Repository, ctx: RequestContext, facility_id: str | None) -> Catalogue[DrugItem]:
    found: Catalogue[DrugItem] = await _catalogue(repo, ctx, "drug", facility_id)
    return found


async def services_at(repo: Repository, ctx: RequestContext, facility_id: str | None) -> Catalogue[ServiceItem]:
    found: Catalogue[ServiceItem] = await _catalogue(repo, ctx, "service", facility_id)
    return found


def catalogue_coding(kind: Kind, facility_id: str | None, code: str, display: str) -> JsonObj:
    return {"system": codesystem_url(kind, facility_id or ""), "code": code, "display": display}


def catalogue_code(concept: Mapping[str, Any] | None, kind: Kind) -> str:
    """The catalogue code in an order's CodeableConcept (whichever facility's list it came from)."""
    for coding in (concept or {}).get("coding") or []:
        if is_catalogue_system(coding.get("system"), kind) and coding.get("code") is not None:
            return str(coding["code"])
    return ""


async def stay_facility(repo: Repository, ctx: RequestContext, encounter_id: str) -> str | None:
    """The facility treating the patient of a stay (whose catalogues its orders are chosen from)."""
    return await encounter_facility(repo, ctx, (await repo.read(ctx, "Encounter", encounter_id)).json())


def stay_valueset(kind: Kind, facility_id: str | None) -> str:
    """The ValueSet the type-ahead expands (``ValueSet/$expand?url=…&filter=…``) for a facility's list."""
    return valueset_url(kind, facility_id or "")


async def route_choices(repo: Repository, ctx: RequestContext, encounter_id: str) -> list[tuple[str, str]]:
    """(route code, name) of the drugs of the stay's facility catalogue, for the order form's route list."""
    drugs = await drugs_at(repo, ctx, await stay_facility(repo, ctx, encounter_id))
    return sorted({(d.duong_dung, d.ten_duong_dung or d.duong_dung) for d in drugs})
