"""The CapabilityStatement: exactly what this server supports (FHIR R4 capabilitystatement.html)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from benhan import __version__
from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.operations.bulk_export import DEFINITIONS as SYSTEM_DEFINITIONS
from benhan.fhir.operations.bulk_export import PATIENT_DEFINITION

INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
                "search-type"]


def _search_params(resource_type: str) -> list[dict[str, Any]]:
    from benhan.fhir.search.registry import params_of

    return [
        {"name": p.code, "type": p.type, **({"definition": p.url} if p.url else {})}
        for p in params_of(resource_type).values()
    ]


def _audit_event() -> dict[str, Any]:
    """The audit log: read and search only, over the parameters ``fhir.router.audit_events`` supports."""
    from benhan.fhir.router.audit_events import PARAMS
    from benhan.fhir.search.registry import params_of

    known = params_of("AuditEvent")
    return {
        "type": "AuditEvent",
        "documentation": "The tamper-evident audit log (IHE BALP). Read-only; auditors and system/AuditEvent.rs.",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "searchParam": [{"name": p, "type": known[p].type, **({"definition": known[p].url} if known[p].url else {})}
                        for p in PARAMS if p in known],
    }


@lru_cache(maxsize=4)
def capability_statement(base_url: str) -> dict[str, Any]:
    resources = [
        {
            "type": t,
            "interaction": [{"code": c} for c in INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical"],
            "searchInclude": ["*"],
            "searchRevInclude": ["*"],
            "searchParam": _search_params(t),
            **({"operation": [{"name": "everything",
                               "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                              PATIENT_DEFINITION]}
               if t == "Patient" else {}),
        }
        for t in sorted(RESOURCE_TYPES - {"AuditEvent"})
    ]
    resources.append(_audit_event())
    resources.sort(key=lambda r: str(r["type"]))
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "benhan",
        "kind": "instance",
        "software": {"name": "benhan", "version": __version__},
        "implementation": {"description": "benhan FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        # Bulk Data Access IG v2.0.0 (capabilitystatement-bulk-data): $export, Patient/$export
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "format": ["application/fhir+json", "json"],
        # http.html#patch: JSON Patch, and FHIRPath Patch (fhirpatch.html) as a Parameters in FHIR JSON.
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "search-system"},
                            {"code": "history-system"}],
            # Bulk Data Access IG v2.0.0: system-level $export (Patient/$export is on Patient above)
            "operation": list(SYSTEM_DEFINITIONS),
        }],
    }
