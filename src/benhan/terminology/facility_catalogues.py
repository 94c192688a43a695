"""Store and read a facility's drug / service / supply catalogue (use-cases over the repository).

``import_catalogue`` validates a CSV/Excel file (:mod:`.catalogue`: every row, every column, all or nothing)
and, when every row is valid, writes the facility's CodeSystem and ValueSet (:mod:`.catalogue_fhir`) and
keeps the file itself as a Binary, all in one transaction: a new import is a new version of each resource
(the repository keeps the history and writes the AuditEvents). A file identical in content to the stored
list writes nothing. ``facility_catalogue`` reads the stored list back for the order screens and checks.

Who may import: a facility administrator or a pharmacist, for the facility they are working in (the
``ctx.facility_id`` of their session), or a system context (the CLI and the demo loader).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benhan.fhir.storage.protocol import Repository
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.terminology import catalogue_fhir
from benhan.terminology.catalogue import Catalogue, ImportReport, import_drugs, import_services, import_supplies
from benhan.terminology.catalogue_fhir import Kind, catalogue_id

__all__ = [
    "IMPORT_ROLES", "CatalogueImport", "facility_catalogue", "find_facility", "import_catalogue",
    "import_demo_catalogues", "may_import", "source_file", "stored_catalogues",
]  # fmt: skip

JsonObj = dict[str, Any]
IMPORT_ROLES = frozenset({"facility_admin", "pharmacist"})
_IMPORTERS: dict[Kind, Callable[[bytes, str], ImportReport[Any]]] = {
    "drug": import_drugs, "service": import_services, "supply": import_supplies,
}  # fmt: skip
FACILITY_CODE = "https://benhan.vn/fhir/sid/facility-code"  # the BHYT facility code (MA_CSKCB)
_CONTENT_TYPES = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
#: catalogues already converted back to items, by (resource id, version)
_CACHE: dict[tuple[str, int], Catalogue[Any]] = {}
_CACHE_MAX = 128


@dataclass(frozen=True, slots=True)
class CatalogueImport:
    kind: Kind
    facility_id: str
    filename: str
    report: ImportReport[Any]
    stored: bool  # a new version was written
    unchanged: bool = False  # valid, but the same list as the stored one: nothing written
    version: str | None = None  # CodeSystem.version of the stored list
    version_id: int | None = None  # the repository version of the CodeSystem


def may_import(ctx: RequestContext, facility_id: str) -> bool:
    """A system context, or a facility administrator / pharmacist working at ``facility_id``."""
    return ctx.is_system or (bool(IMPORT_ROLES & ctx.roles) and ctx.facility_id == facility_id)


async def import_catalogue(
    repo: Repository,
    ctx: RequestContext,
    facility_id: str,
    kind: Kind,
    data: bytes,
    filename: str,
    *,
    dry_run: bool = False,
) -> CatalogueImport:
    """Validate ``data`` and, unless ``dry_run`` or a row is invalid, store it as the facility's catalogue."""
    if not may_import(ctx, facility_id):
        raise BenhanError(
            ErrorCode.FORBIDDEN, "Only the facility's administrator or pharmacist may import its catalogue"
        )
    facility = (await repo.read(ctx, "Organization", facility_id)).json()
    report = _IMPORTERS[kind](data, filename)
    if not report.ok or dry_run:
        return CatalogueImport(kind, facility_id, filename, report, stored=False)
    version = clock.now().astimezone(clock.VN_TZ).strftime("%Y%m%d-%H%M%S")
    codesystem = catalogue_fhir.to_codesystem(kind, facility_id, str(facility.get("name") or facility_id),
                                              report.items, version)  # fmt: skip
    current = await _current(repo, ctx, catalogue_id(kind, facility_id))
    if current is not None and current.json().get("concept") == codesystem["concept"]:
        stored = current.json()
        return CatalogueImport(kind, facility_id, filename, report, stored=False, unchanged=True,
                               version=str(stored.get("version")), version_id=current.version)  # fmt: skip
    async with repo.unit_of_work() as uow:
        written = await uow.update(ctx, "CodeSystem", codesystem["id"], codesystem)
        await uow.update(ctx, "ValueSet", codesystem["id"], catalogue_fhir.to_valueset(codesystem))
        await uow.update(ctx, "Binary", f"{codesystem['id']}-tep", _source_file(data, filename))
    return CatalogueImport(kind, facility_id, filename, report, stored=True, version=version,
                           version_id=written.resource.version)  # fmt: skip


async def find_facility(repo: Repository, ctx: RequestContext, code_or_id: str) -> str:
    """The Organization id of a facility given its BHYT code (``96001``) or its id; NOT_FOUND otherwise."""
    found = await repo.search_json(ctx, "Organization", [("identifier", f"{FACILITY_CODE}|{code_or_id}")])
    if found:
        return str(found[0]["id"])
    return (await repo.read(ctx, "Organization", code_or_id)).id


def _source_file(data: bytes, filename: str) -> JsonObj:
    """The imported file as it was sent (FHIR R4 binary.html), so the list can be checked or re-imported."""
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    return {"resourceType": "Binary", "contentType": _CONTENT_TYPES.get(suffix, "application/octet-stream"),
            "data": base64.b64encode(data).decode("ascii")}  # fmt: skip


async def _current(repo: Repository, ctx: RequestContext, id_: str) -> Any:
    try:
        return await repo.read(ctx, "CodeSystem", id_)
    except BenhanError as exc:
        if exc.error in (ErrorCode.NOT_FOUND, ErrorCode.GONE):
            return None
        raise


async def facility_catalogue(repo: Repository, ctx: RequestContext, kind: Kind, facility_id: str) -> Catalogue[Any]:
    """The facility's stored ``kind`` catalogue; an empty one when it has imported none yet."""
    stored = await _current(repo, ctx, catalogue_id(kind, facility_id))
    if stored is None:
        return catalogue_fhir.items_of(kind, {})
    key = (stored.id, stored.version)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        found = _CACHE[key] = catalogue_fhir.items_of(kind, stored.json())
    return found


async def import_demo_catalogues(repo: Repository, ctx: RequestContext, facility_id: str) -> list[CatalogueImport]:
    """The packaged DEMO lists imported for one demo facility, through the same path as a facility's own file."""
    from benhan.terminology.catalogue import demo_file

    out = []
    for kind in catalogue_fhir.KINDS:
        data, name = demo_file(kind)
        outcome = await import_catalogue(repo, ctx, facility_id, kind, data, name)
        if not outcome.report.ok:
            raise ValueError(f"packaged {name} is invalid: {outcome.report.errors[:3]}")
        out.append(outcome)
    return out


@dataclass(frozen=True, slots=True)
class StoredCatalogue:
    kind: Kind
    codes: int
    version: str  # CodeSystem.version (the import time)
    version_id: int  # the repository version (1 = first import)
    last_updated: str


async def stored_catalogues(repo: Repository, ctx: RequestContext, facility_id: str) -> list[StoredCatalogue]:
    """What the facility has imported so far, per kind (the import screen shows it)."""
    out = []
    for kind in catalogue_fhir.KINDS:
        stored = await _current(repo, ctx, catalogue_id(kind, facility_id))
        if stored is not None:
            body = stored.json()
            out.append(StoredCatalogue(kind, len(body.get("concept") or []), str(body.get("version") or ""),
                                       stored.version, stored.last_updated.isoformat()))  # fmt: skip
    return out


async def source_file(repo: Repository, ctx: RequestContext, facility_id: str, kind: Kind) -> tuple[bytes, str, str]:
    """The file of the list in use (bytes, content type, a file name), to correct and import again."""
    cid = catalogue_id(kind, facility_id)
    binary = (await repo.read(ctx, "Binary", f"{cid}-tep")).json()
    content_type = str(binary.get("contentType") or "application/octet-stream")
    suffix = next((s for s, t in _CONTENT_TYPES.items() if t == content_type), "")
    return base64.b64decode(str(binary.get("data") or "")), content_type, f"{cid}{suffix}"
