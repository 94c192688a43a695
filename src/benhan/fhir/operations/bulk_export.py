"""``$export`` (HL7 FHIR Bulk Data Access IG v2.0.0, export.html): the kick-off parameters and the manifest.

Supported: system level ``GET [base]/$export`` and ``GET [base]/Patient/$export``, with ``_type``, ``_since``
and ``_outputFormat`` (NDJSON only).  The job runs in :mod:`.export_service`; the HTTP side is
``fhir.router.bulk_export``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from benhan.fhir.model.resource_types import is_resource_type
from benhan.fhir.search.registry import patient_compartment_params
from benhan.fhir.storage.export_types import ExportJob, JsonObj
from benhan.kernel.clock import fhir_instant
from benhan.kernel.errors import BenhanError, ErrorCode

NDJSON = "application/fhir+ndjson"
#: export.html#query-parameters: the server SHALL accept the full type and the two abbreviations
NDJSON_NAMES = frozenset({NDJSON, "application/ndjson", "ndjson"})
SUPPORTED = frozenset({"_type", "_since", "_outputFormat"})

DEFINITIONS: tuple[JsonObj, ...] = (
    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"},
)
PATIENT_DEFINITION: JsonObj = {
    "name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
}


def compartment_types() -> frozenset[str]:
    """Types in the Patient compartment (FHIR R4 compartmentdefinition-patient), Patient included."""
    return frozenset(patient_compartment_params()) | {"Patient"}


@dataclass(frozen=True, slots=True)
class ExportParams:
    #: the requested types; None: every type the caller may export
    types: tuple[str, ...] | None
    since: datetime | None
    #: ``Patient/$export``: only resources in a Patient compartment
    patient_level: bool


def _bad(message: str) -> BenhanError:
    return BenhanError(ErrorCode.EXPORT_NOT_SUPPORTED, message)


def _types(values: list[str], patient_level: bool) -> tuple[str, ...] | None:
    names = [t.strip() for v in values for t in v.split(",") if t.strip()]
    if not values:
        return None
    unknown = [t for t in names if not is_resource_type(t) or t == "AuditEvent"]
    if unknown or not names:
        raise _bad(f"_type names no exportable FHIR R4 resource type: {', '.join(unknown) or '(empty)'}")
    outside = [t for t in names if patient_level and t not in compartment_types()]
    if outside:
        # export.html#query-parameters: types outside the Patient compartment → an error (not lenient)
        raise _bad(f"Patient/$export exports the Patient compartment; not in it: {', '.join(outside)}")
    return tuple(dict.fromkeys(names))


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"_since={value!r} is not a FHIR instant") from None
    if since.tzinfo is None:
        raise _bad("_since must be an instant with a time zone (e.g. 2026-01-01T00:00:00Z)")
    return since


def parse_params(query: list[tuple[str, str]], prefer: str | None, patient_level: bool) -> ExportParams:
    """The kick-off request's parameters; every problem is a 400 with BH-1060 (export.html#response---error)."""
    if "respond-async" not in (prefer or ""):
        raise _bad("$export runs asynchronously: send the header 'Prefer: respond-async'")
    unsupported = sorted({k for k, _v in query if k not in SUPPORTED and k != "_format"})
    if unsupported:
        raise _bad(f"$export does not support {', '.join(unsupported)}; supported: _type, _since, _outputFormat")
    formats = [v for k, v in query if k == "_outputFormat"]
    if any(f not in NDJSON_NAMES for f in formats):
        raise _bad(f"_outputFormat {formats[0]!r} is not supported; use {NDJSON}")
    since = [v for k, v in query if k == "_since"]
    return ExportParams(_types([v for k, v in query if k == "_type"], patient_level),
                        _since(since[-1] if since else None), patient_level)


def manifest(job: ExportJob, file_url: str) -> JsonObj:
    """The complete-status body (export.html#response---complete-status); ``file_url`` ends with ``/``."""
    out: JsonObj = {
        "transactionTime": fhir_instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [{"type": f.type, "url": f"{file_url}{f.name}", "count": f.count} for f in job.files],
        "error": [],
    }
    if job.deidentified:
        out["extension"] = {"https://benhan.vn/fhir/StructureDefinition/bulk-deidentified": True}
    return out
