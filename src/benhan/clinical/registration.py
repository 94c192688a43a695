"""Reception: find a patient, fill the form from a CCCD QR code, check the BHYT card, guard against
duplicates, and register the patient (Patient + Coverage) in one transaction.

Identifiers (``fhir.search.systems``): CCCD, BHYT card number and the facility's MA_BN are Patient
identifiers, so reception finds a patient with one indexed search whatever the receptionist types.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import date

from benhan.clinical.bhyt_card import BENEFIT_LEVELS, check_bhyt_card, normalize_card_number
from benhan.clinical.cccd_qr import CccdQrError, parse_cccd_qr, split_vietnamese_name
from benhan.clinical.records import (
    BASE,
    ClinicalError,
    FieldMessage,
    JsonObj,
    NeedsConfirmation,
    identifier,
    parse_vn_date,
    patient_name,
    today_vn,
)
from benhan.fhir.search import systems
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.text import fold

BHYT_FACILITY_URL = f"{BASE}/StructureDefinition/bhyt-noi-dang-ky-kcb"
_PHONE = re.compile(r"^(\+?84|0)\d{8,10}$")


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    full_name: str
    birth_date: date | None
    sex: str  # FHIR administrative-gender
    cccd: str = ""
    old_id: str = ""
    phone: str = ""
    address: str = ""
    bhyt_number: str = ""
    bhyt_valid_from: date | None = None
    bhyt_valid_to: date | None = None
    bhyt_facility: str = ""


@dataclass(frozen=True, slots=True)
class PatientSummary:
    id: str
    name: str
    birth_date: str
    gender: str
    cccd: str = ""
    bhyt: str = ""
    phone: str = ""
    ma_bn: str = ""
    address: str = ""

    @classmethod
    def of(cls, p: JsonObj) -> PatientSummary:
        phones = [t.get("value", "") for t in p.get("telecom") or [] if t.get("system") == "phone"]
        addresses = [a.get("text", "") for a in p.get("address") or []]
        return cls(
            str(p["id"]),
            patient_name(p),
            str(p.get("birthDate", "")),
            str(p.get("gender", "")),
            identifier(p, systems.CCCD) or "",
            identifier(p, systems.BHYT) or "",
            phones[0] if phones else "",
            identifier(p, systems.MA_BN) or "",
            addresses[0] if addresses else "",
        )


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    patient: PatientSummary
    reason: str  # cccd | bhyt | name-birthdate


class DuplicateFound(NeedsConfirmation):
    """Likely duplicates exist; ``hard`` ones (same CCCD/BHYT) cannot be overridden."""

    def __init__(self, candidates: list[DuplicateCandidate], hard: bool) -> None:
        vi = "Có thể trùng với bệnh nhân đã có." if not hard else "Số CCCD/BHYT đã thuộc về một bệnh nhân khác."
        en = "This may duplicate an existing patient." if not hard else "This CCCD/BHYT already belongs to a patient."
        super().__init__(FieldMessage("", vi, en))
        self.candidates = candidates
        self.hard = hard


def form_from_qr(text: str, today: date | None = None) -> tuple[RegistrationForm, list[FieldMessage]]:
    """Fill the registration form from CCCD QR text; bad codes raise :class:`ClinicalError` on ``qr``."""
    try:
        data = parse_cccd_qr(text, today=today or today_vn())
    except CccdQrError as exc:
        raise ClinicalError.one("qr", exc.message_vi, exc.message_en) from None
    form = RegistrationForm(
        full_name=data.full_name,
        birth_date=data.birth_date,
        sex=data.sex,
        cccd=data.cccd or "",
        old_id=data.old_id or "",
        address=data.address,
    )
    return form, [FieldMessage(w.field, w.message_vi, w.message_en) for w in data.warnings]


def check_form(form: RegistrationForm, on: date | None = None) -> list[FieldMessage]:
    """Every problem of the form at once (the page shows each at its field)."""
    on = on or today_vn()
    errors: list[FieldMessage] = []
    if not form.full_name.strip() or any(c.isdigit() for c in form.full_name):
        errors.append(
            FieldMessage("full_name", "Nhập họ và tên (không có chữ số).", "Enter the full name (no digits).")
        )
    if form.birth_date is None:
        errors.append(
            FieldMessage("birth_date", "Nhập ngày sinh dạng dd/mm/yyyy.", "Enter the birth date as dd/mm/yyyy.")
        )
    elif form.birth_date > on or form.birth_date.year < 1900:
        errors.append(FieldMessage("birth_date", "Ngày sinh không hợp lệ.", "The birth date is not plausible."))
    if form.sex not in ("male", "female", "other", "unknown"):
        errors.append(FieldMessage("sex", "Chọn giới tính.", "Choose the sex."))
    if form.cccd and (not form.cccd.isdigit() or len(form.cccd) != 12):
        errors.append(FieldMessage("cccd", "Số CCCD gồm 12 chữ số.", "A CCCD number has 12 digits."))
    if form.phone and not _PHONE.match(re.sub(r"[\s.\-]", "", form.phone)):
        errors.append(FieldMessage("phone", "Số điện thoại không hợp lệ.", "The phone number is not valid."))
    if form.bhyt_number:
        check = check_bhyt_card(
            form.bhyt_number,
            valid_from=form.bhyt_valid_from,
            valid_to=form.bhyt_valid_to,
            facility=form.bhyt_facility,
            on=on,
        )
        field_of = {"valid_from": "bhyt_valid_from", "valid_to": "bhyt_valid_to", "facility": "bhyt_facility"}
        errors += [FieldMessage(field_of.get(e.field, "bhyt_number"), e.message_vi, e.message_en) for e in check.errors]
    return errors


def _patient_json(form: RegistrationForm, ma_bn: str) -> JsonObj:
    family, middle, given = split_vietnamese_name(" ".join(form.full_name.split()))
    name: JsonObj = {"use": "official", "text": " ".join(form.full_name.split()), "given": [*middle.split(), given]}
    if family:
        name["family"] = family
    idents: list[JsonObj] = [{"system": systems.MA_BN, "value": ma_bn}]
    if form.cccd:
        idents.append({"system": systems.CCCD, "value": form.cccd})
    if form.bhyt_number:
        ident: JsonObj = {"system": systems.BHYT, "value": normalize_card_number(form.bhyt_number)}
        period = _period(form.bhyt_valid_from, form.bhyt_valid_to)
        if period:
            ident["period"] = period
        idents.append(ident)
    patient: JsonObj = {
        "resourceType": "Patient",
        "active": True,
        "identifier": idents,
        "name": [name],
        "gender": form.sex,
        "birthDate": form.birth_date.isoformat() if form.birth_date else None,
    }
    if form.phone:
        patient["telecom"] = [{"system": "phone", "value": re.sub(r"[\s.\-]", "", form.phone), "use": "mobile"}]
    if form.address:
        patient["address"] = [{"use": "home", "text": form.address}]
    return {k: v for k, v in patient.items() if v is not None}


def _period(start: date | None, end: date | None) -> JsonObj:
    out: JsonObj = {}
    if start:
        out["start"] = start.isoformat()
    if end:
        out["end"] = end.isoformat()
    return out


def _coverage_json(form: RegistrationForm, patient_id: str) -> JsonObj:
    number = normalize_card_number(form.bhyt_number)
    level = int(number[2]) if len(number) > 2 and number[2].isdigit() else 0
    coverage: JsonObj = {
        "resourceType": "Coverage",
        "status": "active",
        "identifier": [{"system": systems.BHYT, "value": number}],
        "type": {
            "coding": [{"system": f"{BASE}/CodeSystem/loai-bao-hiem", "code": "BHYT", "display": "Bảo hiểm y tế"}]
        },
        "beneficiary": {"reference": f"Patient/{patient_id}"},
        "payor": [{"display": "Bảo hiểm xã hội Việt Nam"}],
        "period": _period(form.bhyt_valid_from, form.bhyt_valid_to) or None,
        "extension": [{"url": BHYT_FACILITY_URL, "valueString": form.bhyt_facility}] if form.bhyt_facility else None,
    }
    if level in BENEFIT_LEVELS:
        coverage["class"] = [
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]
                },
                "value": str(level),
                "name": f"Mức hưởng {BENEFIT_LEVELS[level].coverage_percent}%",
            }
        ]
    return {k: v for k, v in coverage.items() if v is not None}


async def find_duplicates(repo: Repository, ctx: RequestContext, form: RegistrationForm) -> list[DuplicateCandidate]:
    """Same CCCD, same BHYT card, or the same birth date with the same (accent-folded) name."""
    found: dict[str, DuplicateCandidate] = {}
    if form.cccd:
        for p in await repo.search_json(ctx, "Patient", [("cccd", form.cccd)]):
            found[p["id"]] = DuplicateCandidate(PatientSummary.of(p), "cccd")
    if form.bhyt_number:
        for p in await repo.search_json(ctx, "Patient", [("bhyt", normalize_card_number(form.bhyt_number))]):
            found.setdefault(p["id"], DuplicateCandidate(PatientSummary.of(p), "bhyt"))
    if form.birth_date is not None and form.full_name.strip():
        wanted = fold(form.full_name)
        for p in await repo.search_json(ctx, "Patient", [("birthdate", form.birth_date.isoformat())]):
            if _similar(wanted, fold(patient_name(p))):
                found.setdefault(p["id"], DuplicateCandidate(PatientSummary.of(p), "name-birthdate"))
    return list(found.values())


def _similar(a: str, b: str) -> bool:
    """Same folded name, or the same family and given name (middle names are often dropped or misspelt)."""
    if a == b:
        return True
    wa, wb = a.split(), b.split()
    return bool(wa and wb) and wa[0] == wb[0] and wa[-1] == wb[-1]


async def register_patient(
    repo: Repository, ctx: RequestContext, form: RegistrationForm, *, confirmed: bool = False
) -> str:
    """Create the Patient (and a Coverage for a BHYT card); returns the patient id.

    Raises :class:`ClinicalError` for bad fields and :class:`DuplicateFound` when likely duplicates exist;
    a duplicate by name and birth date may be overridden with ``confirmed=True``, one by CCCD/BHYT may not.
    """
    form = replace(form, bhyt_number=normalize_card_number(form.bhyt_number), cccd=form.cccd.strip())
    errors = check_form(form)
    if errors:
        raise ClinicalError(*errors)
    async with repo.unit_of_work() as uow:
        duplicates = await find_duplicates(uow, ctx, form)
        hard = any(d.reason in ("cccd", "bhyt") for d in duplicates)
        if duplicates and (hard or not confirmed):
            raise DuplicateFound(duplicates, hard)
        ma_bn = f"{today_vn():%y%m%d}{secrets.randbelow(10**6):06d}"
        patient = (await uow.create(ctx, _patient_json(form, ma_bn))).resource
        if form.bhyt_number:
            await uow.create(ctx, _coverage_json(form, patient.id))
    return patient.id


@dataclass(frozen=True, slots=True)
class PatientQuery:
    """What the receptionist typed, understood: which search parameter it is for."""

    params: list[tuple[str, str]] = field(default_factory=list)
    name_words: list[str] = field(default_factory=list)


def understand_query(text: str) -> PatientQuery:
    """12 digits → CCCD; a BHYT card shape → card; a phone number → phone; dd/mm/yyyy → birth date; else name."""
    raw = text.strip()
    compact = re.sub(r"[\s.\-]", "", raw)
    if compact.isdigit() and len(compact) == 12:
        return PatientQuery([("cccd", compact)])
    if re.fullmatch(r"[A-Za-z]{2}\d{13}", compact):
        return PatientQuery([("bhyt", compact.upper())])
    if _PHONE.match(compact):
        return PatientQuery([("phone", compact)])
    try:
        return PatientQuery([("birthdate", parse_vn_date(raw).isoformat())])
    except ValueError:
        pass
    words = fold(raw).split()
    if not words or compact.isdigit():
        return PatientQuery()
    # The index matches a name part by prefix; the longest word narrows most, the rest filter below.
    return PatientQuery([("name", max(words, key=len))], words)


async def find_patients(repo: Repository, ctx: RequestContext, text: str, limit: int = 20) -> list[PatientSummary]:
    """Results as the receptionist types (one indexed search)."""
    query = understand_query(text)
    if not query.params:
        return []
    found = await repo.search_json(ctx, "Patient", query.params)
    out = []
    for p in found:
        folded = fold(patient_name(p)).split()
        if all(any(w.startswith(q) for w in folded) for q in query.name_words):
            out.append(PatientSummary.of(p))
    out.sort(key=lambda s: (fold(s.name), s.birth_date))
    return out[:limit]
