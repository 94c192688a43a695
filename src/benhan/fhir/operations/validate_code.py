"""``CodeSystem/$validate-code`` and ``ValueSet/$validate-code`` (FHIR R4 codesystem-operation-validate-code,
valueset-operation-validate-code).

Inputs: ``url`` (the code system or value set; or the instance id), ``system``, ``code``, ``display``,
or a ``coding`` / ``codeableConcept`` (the first coding that validates wins). Output: ``result``,
``message`` and the ``display`` the server knows. A display that matches no name of the code
(accent-insensitively) makes the result false (R4: "True if the concept details supplied are valid").

benhan extension for ICD-10 (QĐ 4469): with ``patient-gender`` (male | female) and/or
``patient-age-days``, or ``patient`` (a Patient reference read from the repository, with ``date``
for the age), and ``main-diagnosis=true`` when it is the main diagnosis, the sex, age and
main-diagnosis rules are checked; each broken rule is returned as a ``violation`` part and makes the
result false.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from benhan.fhir.operations.base import OperationResult, OpParams, OpRequest, param, parameters, read_params
from benhan.fhir.operations.codesystem_lookup import coded_input
from benhan.fhir.operations.terminology_index import CodeSystemIndex, Concept, default_index, find_system
from benhan.fhir.operations.valueset_expand import _resolve
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.errors import BenhanError, ErrorCode

JsonObj = dict[str, Any]
ICD10 = "http://hl7.org/fhir/sid/icd-10"

_IN = [
    ("url", "uri"), ("system", "uri"), ("code", "code"), ("display", "string"), ("coding", "Coding"),
    ("codeableConcept", "CodeableConcept"), ("patient", "string"), ("patient-gender", "code"),
    ("patient-age-days", "integer"), ("date", "date"), ("main-diagnosis", "boolean"),
]  # fmt: skip
DEFINITION: JsonObj = {
    "resourceType": "OperationDefinition", "id": "benhan-validate-code",
    "url": "https://benhan.vn/fhir/OperationDefinition/validate-code", "name": "ValidateCode",
    "status": "active", "kind": "operation", "code": "validate-code", "resource": ["CodeSystem", "ValueSet"],
    "system": False, "type": True, "instance": True,
    "parameter": [{"name": n, "use": "in", "min": 0, "max": "1", "type": t} for n, t in _IN] + [
        {"name": "result", "use": "out", "min": 1, "max": "1", "type": "boolean"},
        {"name": "message", "use": "out", "min": 0, "max": "1", "type": "string"},
        {"name": "display", "use": "out", "min": 0, "max": "1", "type": "string"},
        {"name": "violation", "use": "out", "min": 0, "max": "*",
         "documentation": "benhan: a broken ICD-10 rule (rule, message, source)"},
    ],
}  # fmt: skip


def _codings(params: OpParams, system_name: str) -> list[tuple[str, str, str | None]]:
    concept = params.obj("codeableConcept")
    if concept is not None:
        codings = concept.get("coding") or []
        return [(str(c.get("system", "")), str(c.get("code", "")), c.get("display")) for c in codings]
    coding = params.obj("coding")
    display = coding.get("display") if coding is not None else params.text("display")
    system, code = coded_input(params, system_name)
    return [(system, code, display)]


async def _systems(req: OpRequest, repo: Repository, urls: list[str]) -> dict[str, CodeSystemIndex | None]:
    """Packaged or stored (a facility catalogue) code systems by the URLs the request names."""
    return {url: await find_system(repo, req.ctx, url) for url in dict.fromkeys(urls)}


async def handle_codesystem(req: OpRequest, repo: Repository, id_: str | None) -> OperationResult:
    params = read_params(req)
    url = id_ or params.text("url") or params.text("system")
    system = await find_system(repo, req.ctx, url) if url else None
    if system is None:
        raise BenhanError(ErrorCode.NOT_FOUND, f"Code system {url} is not known to this server")
    codings = _codings(params, "url")
    systems = await _systems(req, repo, [s for s, _c, _d in codings])
    checked = [(systems[s] is system, s, c, d) for s, c, d in codings]
    return await _answer(req, repo, systems, params, checked)


async def handle_valueset(req: OpRequest, repo: Repository, id_: str | None) -> OperationResult:
    params = read_params(req)
    _header, definition = await _resolve(req.ctx, repo, default_index(), params, id_)
    codings = _codings(params, "system")
    systems = await _systems(req, repo, [s for s, _c, _d in codings] + [s for s, _ in definition.includes])
    checked = []
    for system_url, code, display in codings:
        wanted = systems[system_url]
        member = wanted is not None and any(
            systems[s] is wanted and (codes is None or _in(wanted, code, codes)) for s, codes in definition.includes
        )
        checked.append((member, system_url, code, display))
    return await _answer(req, repo, systems, params, checked)


def _in(system: CodeSystemIndex | None, code: str, codes: tuple[str, ...]) -> bool:
    concept = system.lookup(code) if system else None
    return concept is not None and concept.code in codes


async def _answer(
    req: OpRequest, repo: Repository, systems: dict[str, CodeSystemIndex | None], params: OpParams,
    checked: list[tuple[bool, str, str, str | None]],
) -> OperationResult:
    messages: list[str] = []
    for member, system_url, code, display in checked:
        system = systems.get(system_url)
        concept = system.lookup(code) if system and member else None
        if concept is None:
            messages.append(f"Mã {code} không thuộc {system_url} hoặc không có trong tập giá trị")
            continue
        if display and not concept.matches_display(display):
            messages.append(f"Tên '{display}' không khớp với mã {concept.code}: '{concept.display}'")
            return OperationResult(200, parameters(("result", False), ("message", "; ".join(messages)),
                                                   ("display", concept.display)))  # fmt: skip
        violations = await _rules(req, repo, params, concept) if concept.system == ICD10 else []
        return OperationResult(200, _result(concept, violations))
    return OperationResult(200, parameters(("result", False), ("message", "; ".join(messages) or "Không có mã")))


def _result(concept: Concept, violations: list[JsonObj]) -> JsonObj:
    message = "; ".join(str(v["message"]) for v in violations) or None
    result = parameters(("result", not violations), ("message", message), ("display", concept.display))
    for v in violations:
        result["parameter"].append(param("violation", [(k, str(v[k])) for k in ("rule", "message", "source")]))
    return result


async def _rules(req: OpRequest, repo: Repository, params: OpParams, concept: Concept) -> list[JsonObj]:
    """ICD-10 sex / age / main-diagnosis rules of QĐ 4469 for the given patient facts."""
    from benhan.terminology import icd10

    sex, age_days = await _patient_facts(req, repo, params)
    is_main = params.flag("main-diagnosis")
    if sex is None and age_days is None and not is_main:
        return []
    found = icd10.default().check_diagnosis(concept.code, sex, age_days, is_main)
    return [{"rule": v.rule, "message": v.message_vi, "source": v.source} for v in found]


async def _patient_facts(req: OpRequest, repo: Repository, params: OpParams) -> tuple[Any, int | None]:
    gender, age = params.text("patient-gender"), params.text("patient-age-days")
    on = _date(params.text("date")) or date.today()
    ref = params.text("patient")
    if ref:
        patient = (await repo.read(req.ctx, "Patient", ref.removeprefix("Patient/"))).json()
        gender = gender or patient.get("gender")
        born = _date(str(patient.get("birthDate") or ""))
        if born is not None and age is None:
            age = str((on - born).days)
    sex = gender if gender in ("male", "female") else None
    return sex, int(age) if age is not None and age.lstrip("-").isdigit() else None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        parts = [int(p) for p in text[:10].split("-")] + [1, 1]
        return date(parts[0], parts[1], parts[2])
    except ValueError:
        return None
