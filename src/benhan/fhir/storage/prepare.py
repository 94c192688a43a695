"""Pure preparation of a resource for storage: server-set meta, canonical key order, bytes.

FHIR R4 resource.html#Meta: ``meta.versionId`` and ``meta.lastUpdated`` are set by the server;
other meta elements (profile, security, tag, source) are kept as the client sent them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonpatch
import orjson

from benhan.kernel.clock import fhir_instant
from benhan.kernel.errors import BenhanError, ErrorCode, Issue

JsonObj = dict[str, Any]


def stamp(resource: JsonObj, type_: str, id_: str, version: int, when: datetime) -> bytes:
    """Return the stored JSON bytes of ``resource`` as version ``version`` of ``type_/id_``."""
    meta: JsonObj = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = fhir_instant(when)
    body: JsonObj = {"resourceType": type_, "id": id_, "meta": meta}
    for key, value in resource.items():
        if key not in body:
            body[key] = value
    return orjson.dumps(body)


def check_validation(resource: JsonObj, error: ErrorCode = ErrorCode.INVALID_RESOURCE) -> None:
    """Validate against the R4 structure; raise ``error`` (BH-1002 for a submitted resource, BH-1047 for
    the result of a patch: FHIR R4 http.html#patch answers an invalid result with 422) with every
    issue's FHIRPath expression."""
    from benhan.fhir.model.validate import validate_resource

    problems = [p for p in validate_resource(resource) if p.severity in ("error", "fatal")]
    if problems:
        raise BenhanError(
            error,
            f"{len(problems)} problem(s) in {resource.get('resourceType')}",
            [Issue(p.code, p.message, p.severity, (p.expression,) if p.expression else ()) for p in problems],
        )


def apply_json_patch(document: JsonObj, patch: Any) -> JsonObj:
    """RFC 6902 JSON Patch (FHIR R4 http.html#patch)."""
    if not isinstance(patch, list):
        raise BenhanError(ErrorCode.INVALID_PATCH, "A JSON Patch document is an array of operations")
    try:
        result = jsonpatch.JsonPatch(patch).apply(document)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise BenhanError(ErrorCode.PATCH_FAILED, f"The patch could not be applied: {exc}") from None
    if not isinstance(result, dict):
        raise BenhanError(ErrorCode.PATCH_FAILED, "The patch did not produce a resource")
    return result
