"""Diagnoses: ICD-10 (QĐ 4469) Conditions linked from ``Encounter.diagnosis``; rank 1 is the main diagnosis.

The main diagnosis is what the insurance XML calls MA_BENH_CHINH, the others MA_BENH_KT. Rule checks come
from ``terminology.icd10``: an unknown code or a code that may not be main is refused; a sex, age or
dagger/asterisk rule asks for confirmation (the doctor may know better; the claim check will see it again).
"""

from __future__ import annotations

from benhan.clinical.records import (
    ClinicalError,
    FieldMessage,
    JsonObj,
    NeedsConfirmation,
    Ref,
    age_days,
    now_instant,
    ref_id,
    today_vn,
)
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology import icd10
from benhan.terminology.fhir import ICD10_SYSTEM

ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
_REFUSED_RULES = {"unknown-code", "not-main"}


def diagnosis_codes(encounter: JsonObj, conditions: dict[str, JsonObj]) -> list[tuple[int, str]]:
    """(rank, ICD-10 code) of the encounter's diagnoses, main first."""
    out = []
    for d in encounter.get("diagnosis") or []:
        cond = conditions.get(ref_id(d.get("condition"), "Condition") or "")
        code = next(
            (c.get("code") for c in (cond or {}).get("code", {}).get("coding", []) if c.get("system") == ICD10_SYSTEM),
            None,
        )
        if code:
            out.append((int(d.get("rank", 99)), str(code)))
    return sorted(out)


def _condition(code: icd10.Icd10Code, enc: JsonObj, encounter_id: str, ctx: RequestContext) -> JsonObj:
    cond: JsonObj = {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": ICD10_SYSTEM, "code": code.code, "display": code.name_vi}],
            "text": code.name_vi,
        },
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{encounter_id}"},
        "recordedDate": now_instant(),
    }
    if ctx.practitioner_id:
        cond["recorder"] = {"reference": f"Practitioner/{ctx.practitioner_id}"}
    return cond


async def add_diagnosis(
    repo: Repository, ctx: RequestContext, encounter_id: str, code: str, *, main: bool, confirmed: bool = False
) -> str:
    """Add an ICD-10 diagnosis; a new main diagnosis moves the previous main one to the secondary ones."""
    entry = icd10.lookup(code)
    if entry is None:
        raise ClinicalError.one("code", f"Mã {code} không có trong ICD-10 (QĐ 4469).", f"{code} is not in ICD-10.")
    async with repo.unit_of_work() as uow:
        stored = await uow.read(ctx, "Encounter", encounter_id)
        enc = stored.json()
        patient = (await uow.read(ctx, "Patient", ref_id(enc.get("subject"), "Patient") or "")).json()
        conds = {
            c["id"]: c for c in await uow.search_json(ctx, "Condition", [("encounter", f"Encounter/{encounter_id}")])
        }
        others = [c for _r, c in diagnosis_codes(enc, conds)]
        if entry.code in others:
            raise ClinicalError.one("code", "Chẩn đoán này đã có.", "This diagnosis is already recorded.")
        _check_rules(entry.code, patient, main, others, confirmed)
        cond_id = (await uow.create(ctx, _condition(entry, enc, encounter_id, ctx))).resource.id
        diagnoses = list(enc.get("diagnosis") or [])
        if main:
            for d in diagnoses:
                d["rank"] = int(d.get("rank", 1)) + 1
                d["use"] = {"coding": [{"system": ROLE_SYSTEM, "code": "CM", "display": "Comorbidity diagnosis"}]}
        use = ("billing", "Billing") if main else ("CM", "Comorbidity diagnosis")
        diagnoses.append(
            {
                "condition": Ref("Condition", cond_id, entry.name_vi).json(),
                "use": {"coding": [{"system": ROLE_SYSTEM, "code": use[0], "display": use[1]}]},
                "rank": 1 if main else max((int(d.get("rank", 1)) for d in diagnoses), default=1) + 1,
            }
        )
        enc["diagnosis"] = sorted(diagnoses, key=lambda d: int(d.get("rank", 99)))
        await uow.update(ctx, "Encounter", encounter_id, enc, if_match=stored.version)
    return cond_id


def _check_rules(code: str, patient: JsonObj, main: bool, others: list[str], confirmed: bool) -> None:
    sex = patient.get("gender")
    violations = icd10.check_diagnosis(
        code,
        sex if sex in ("male", "female", "other", "unknown") else None,
        age_days(patient.get("birthDate"), today_vn()),
        main,
        others,
    )
    refused = [v for v in violations if v.rule in _REFUSED_RULES]
    if refused:
        raise ClinicalError(*(FieldMessage("code", v.message_vi, v.message_en) for v in refused))
    if violations and not confirmed:
        raise NeedsConfirmation(*(FieldMessage("code", v.message_vi, v.message_en) for v in violations))
