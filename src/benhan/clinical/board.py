"""The department board: every patient in the department with bed, age, diagnosis, days since admission,
latest vital signs and NEWS2 (RCP 2017), "new since you last looked" and the NEWS2 alert.

One repository call whatever the number of beds (one SQL statement, ``Repository.search_json_related``): the
stays, their patients, their diagnoses and the last 24 h of their vital signs (a sign older than that is shown
as missing: it is stale for an early-warning score).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from benhan.clinical.diagnoses import diagnosis_codes
from benhan.clinical.facility import current_location
from benhan.clinical.records import JsonObj, age_label, fhir_time, parse_instant, patient_name, ref_id
from benhan.clinical.vitals import VitalsSnapshot, encounter_of, latest_snapshot
from benhan.fhir.storage.protocol import Related, Repository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext
from benhan.terminology import icd10

VITALS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class BoardRow:
    encounter_id: str
    patient_id: str
    bed: str
    name: str
    age: str
    gender: str
    birth_date: str
    diagnosis_code: str
    diagnosis_name: str
    admitted: datetime | None
    days: int | None
    vitals: VitalsSnapshot
    changed: datetime | None
    is_new: bool

    @property
    def alert(self) -> bool:
        return self.vitals.news2 is not None and self.vitals.news2.alert


@dataclass(frozen=True, slots=True)
class Board:
    department_id: str
    rows: list[BoardRow]
    generated: datetime

    @property
    def alerts(self) -> list[BoardRow]:
        return [r for r in self.rows if r.alert]


def _days(start: datetime | None, now: datetime) -> int | None:
    if start is None:
        return None
    return (now.astimezone(VN_TZ).date() - start.astimezone(VN_TZ).date()).days


def _last_changed(items: list[JsonObj]) -> datetime | None:
    stamps = [parse_instant((i.get("meta") or {}).get("lastUpdated")) for i in items]
    return max((s for s in stamps if s is not None), default=None)


def build_row(
    enc: JsonObj,
    patient: JsonObj,
    conds: dict[str, JsonObj],
    obs: list[JsonObj],
    now: datetime,
    seen_since: datetime | None,
) -> BoardRow:
    loc = current_location(enc)
    codes = diagnosis_codes(enc, conds)
    main = icd10.lookup(codes[0][1]) if codes else None
    admitted = parse_instant((enc.get("period") or {}).get("start"))
    changed = _last_changed([enc, *conds.values(), *obs])
    today: date = now.astimezone(VN_TZ).date()
    return BoardRow(
        encounter_id=str(enc["id"]),
        patient_id=str(patient.get("id", "")),
        bed=str(((loc or {}).get("location") or {}).get("display", "")),
        name=patient_name(patient),
        age=age_label(patient.get("birthDate"), today),
        gender=str(patient.get("gender", "")),
        birth_date=str(patient.get("birthDate", "")),
        diagnosis_code=main.code if main else "",
        diagnosis_name=main.name_vi if main else "",
        admitted=admitted,
        days=_days(admitted, now),
        vitals=latest_snapshot(obs),
        changed=changed,
        is_new=seen_since is not None and changed is not None and changed > seen_since,
    )


async def department_board(
    repo: Repository,
    ctx: RequestContext,
    department_id: str,
    *,
    seen_since: datetime | None = None,
    now: datetime | None = None,
) -> Board:
    now = now or datetime.now(UTC)
    since = fhir_time(now - VITALS_WINDOW)
    stays, found_patients, found_conds, found_obs = await repo.search_json_related(
        ctx,
        "Encounter",
        [("service-provider", f"Organization/{department_id}"), ("status", "in-progress")],
        (
            Related("Patient", "subject", reverse=False),
            Related("Condition", "encounter"),
            Related("Observation", "encounter", params=(("category", "vital-signs"), ("date", f"ge{since}"))),
        ),
    )
    if not stays:
        return Board(department_id, [], now)
    patients = {p["id"]: p for p in found_patients}
    conds: dict[str, dict[str, JsonObj]] = {}
    for c in found_conds:
        conds.setdefault(ref_id(c.get("encounter"), "Encounter") or "", {})[c["id"]] = c
    obs: dict[str, list[JsonObj]] = {}
    for o in found_obs:
        obs.setdefault(encounter_of(o) or "", []).append(o)
    rows = [
        build_row(
            e,
            patients.get(ref_id(e.get("subject"), "Patient") or "", {}),
            conds.get(e["id"], {}),
            obs.get(e["id"], []),
            now,
            seen_since,
        )
        for e in stays
    ]
    rows.sort(key=lambda r: (r.bed == "", _bed_key(r.bed), r.name))
    return Board(department_id, rows, now)


def _bed_key(bed: str) -> tuple[str, int]:
    digits = "".join(ch for ch in bed if ch.isdigit())
    return (bed.rstrip("0123456789 "), int(digits) if digits else 0)
