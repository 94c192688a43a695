"""``CodeSystem/$lookup`` (FHIR R4 codesystem-operation-lookup.html).

Inputs: ``system`` + ``code`` (+ ``version``), or ``coding``; ``displayLanguage``; ``property`` (repeat;
default all). ICD-10 codes are also found in the undotted form of the insurance XML ("J189"). Output:
a Parameters resource with ``name``, ``version``, ``display``, ``designation`` and ``property`` parts.
An unknown system or code answers 404 with an OperationOutcome.
"""

from __future__ import annotations

from typing import Any

from benhan.fhir.operations.base import OperationResult, OpParams, OpRequest, param, parameters, read_params
from benhan.fhir.operations.terminology_index import CodeSystemIndex, Concept, find_system
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.errors import BenhanError, ErrorCode

JsonObj = dict[str, Any]

DEFINITION: JsonObj = {
    "resourceType": "OperationDefinition", "id": "CodeSystem-lookup",
    "url": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup", "name": "CodeSystemLookup",
    "status": "active", "kind": "operation", "code": "lookup", "resource": ["CodeSystem"],
    "system": False, "type": True, "instance": False,
    "parameter": [
        {"name": "code", "use": "in", "min": 0, "max": "1", "type": "code"},
        {"name": "system", "use": "in", "min": 0, "max": "1", "type": "uri"},
        {"name": "version", "use": "in", "min": 0, "max": "1", "type": "string"},
        {"name": "coding", "use": "in", "min": 0, "max": "1", "type": "Coding"},
        {"name": "displayLanguage", "use": "in", "min": 0, "max": "1", "type": "code"},
        {"name": "property", "use": "in", "min": 0, "max": "*", "type": "code"},
        {"name": "name", "use": "out", "min": 1, "max": "1", "type": "string"},
        {"name": "version", "use": "out", "min": 0, "max": "1", "type": "string"},
        {"name": "display", "use": "out", "min": 1, "max": "1", "type": "string"},
        {"name": "designation", "use": "out", "min": 0, "max": "*"},
        {"name": "property", "use": "out", "min": 0, "max": "*"},
    ],
}  # fmt: skip


async def handle(req: OpRequest, repo: Repository, id_: str | None) -> OperationResult:
    params = read_params(req)
    system_url, code = coded_input(params, "system")
    system = await find_system(repo, req.ctx, system_url)
    if system is None:
        raise BenhanError(ErrorCode.NOT_FOUND, f"Code system {system_url} is not known to this server")
    concept = system.lookup(code)
    if concept is None:
        raise BenhanError(ErrorCode.NOT_FOUND, f"Mã {code} không có trong {system.title} ({system.url})")
    return OperationResult(200, lookup_result(system, concept, params))


def coded_input(params: OpParams, system_name: str) -> tuple[str, str]:
    """(system, code) from ``system``/``url`` + ``code``, or from a ``coding``; 400 when missing."""
    coding = params.obj("coding")
    if coding is not None:
        system, code = coding.get("system"), coding.get("code")
    else:
        system, code = params.text(system_name) or params.text("url"), params.text("code")
    if not isinstance(system, str) or not isinstance(code, str) or not system or not code:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, "Give system and code, or a coding")
    return system, code


def lookup_result(system: CodeSystemIndex, concept: Concept, params: OpParams) -> JsonObj:
    wanted = {str(v) for v in params.values.get("property", []) if isinstance(v, str)}
    result = parameters(
        ("name", system.name), ("version", system.version or None),
        ("display", concept.display_in(params.text("displayLanguage"))),
    )  # fmt: skip
    out: list[JsonObj] = result["parameter"]
    for language, value in concept.designations:
        parts = [("language", {"valueCode": language})] if language else []
        out.append(param("designation", [*parts, ("value", value)]))
    for prop in concept.properties:
        if wanted and prop.get("code") not in wanted:
            continue
        prop_value = {k: v for k, v in prop.items() if k.startswith("value")}
        out.append(param("property", [("code", {"valueCode": prop["code"]}), ("value", prop_value)]))
    return result
