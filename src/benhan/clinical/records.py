"""Pure helpers shared by the clinical use-cases: errors with a field, FHIR references, dates and ages.

No I/O here. Use-cases raise :class:`ClinicalError` (refused) or :class:`NeedsConfirmation` (allowed once the
user confirms); the web layer shows ``message_vi``/``message_en`` next to ``field`` and keeps the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from benhan.kernel.clock import VN_TZ, fhir_instant

JsonObj = dict[str, Any]

BASE = "https://benhan.vn/fhir"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"  # Location.operationalStatus (FHIR R4 location.html)
LOCATION_PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
QUEUE_NUMBER_URL = f"{BASE}/StructureDefinition/queue-number"
NOTE_TYPE_URL = f"{BASE}/CodeSystem/loai-ghi-chep"
PROGRESS_NOTE_LOINC = "11506-3"  # LOINC "Progress note" (tờ điều trị)


@dataclass(frozen=True, slots=True)
class FieldMessage:
    field: str
    message_vi: str
    message_en: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_vi


class ClinicalError(Exception):
    """A refused action; every message names the form field it belongs to ("" = the whole form)."""

    def __init__(self, *messages: FieldMessage) -> None:
        super().__init__("; ".join(m.message_en for m in messages))
        self.messages = messages

    @classmethod
    def one(cls, field_: str, vi: str, en: str) -> ClinicalError:
        return cls(FieldMessage(field_, vi, en))

    def by_field(self, lang: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for m in self.messages:
            out[m.field] = (out[m.field] + " " if m.field in out else "") + m.message(lang)
        return out


class NeedsConfirmation(ClinicalError):
    """The action is plausible but unusual: repeat it with ``confirmed=True`` to go ahead."""


@dataclass(frozen=True, slots=True)
class Ref:
    type: str
    id: str
    display: str = ""

    @property
    def reference(self) -> str:
        return f"{self.type}/{self.id}"

    def json(self) -> JsonObj:
        out: JsonObj = {"reference": self.reference}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(slots=True)
class Created:
    """What a use-case wrote (ids by resource type), for the caller to link or redirect to."""

    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, type_: str, id_: str) -> None:
        self.ids.setdefault(type_, []).append(id_)


def ref_id(reference: Mapping[str, Any] | None, type_: str | None = None) -> str | None:
    """The id of a literal reference ``{"reference": "Type/id"}`` (of ``type_`` if given)."""
    if not reference:
        return None
    text = str(reference.get("reference", ""))
    kind, _, id_ = text.rpartition("/")
    if not id_ or (type_ is not None and kind.rsplit("/", 1)[-1] != type_):
        return None
    return id_


def now_instant(when: datetime | None = None) -> str:
    return fhir_instant(when or datetime.now(UTC))


def parse_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=VN_TZ)


def parse_vn_date(text: str) -> date:
    """``dd/mm/yyyy`` (how Vietnamese forms write dates), also ``ddmmyyyy`` and ISO ``yyyy-mm-dd``."""
    raw = text.strip()
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d%m%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def age_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_label(birth_date: str | None, on: date, lang: str = "vi") -> str:
    """Age as Vietnamese records write it: years, or months under 2, or days under 1 month."""
    if not birth_date:
        return ""
    try:
        birth = date.fromisoformat(birth_date[:10]) if len(birth_date) >= 10 else date(int(birth_date[:4]), 1, 1)
    except ValueError:
        return ""
    years = age_years(birth, on)
    if years >= 2:
        return f"{years} tuổi" if lang == "vi" else f"{years} y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 1:
        return f"{months} tháng" if lang == "vi" else f"{months} mo"
    days = (on - birth).days
    return f"{days} ngày" if lang == "vi" else f"{days} d"


def age_days(birth_date: str | None, on: date) -> int | None:
    if not birth_date or len(birth_date) < 10:
        return None
    try:
        return (on - date.fromisoformat(birth_date[:10])).days
    except ValueError:
        return None


def patient_name(patient: Mapping[str, Any]) -> str:
    names = patient.get("name") or []
    if not names:
        return ""
    first = names[0]
    if first.get("text"):
        return str(first["text"])
    return " ".join([first.get("family", ""), *first.get("given", [])]).strip()


def identifier(resource: Mapping[str, Any], system: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def coding_code(concept: Mapping[str, Any] | None, system: str | None = None) -> str | None:
    for c in (concept or {}).get("coding") or []:
        if system is None or c.get("system") == system:
            code = c.get("code")
            return str(code) if code is not None else None
    return None


def today_vn() -> date:
    return datetime.now(VN_TZ).date()


def fhir_time(when: datetime) -> str:
    """A search-safe UTC instant (``Z``, no ``+`` that a query string would turn into a space)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
