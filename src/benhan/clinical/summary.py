"""The nurses' daily summary (phiếu tổng hợp y lệnh / phiếu lĩnh thuốc), generated from the active orders.

For a department and a day: per patient (bed order) and per drug the doses and their times that day
(``dose_times.schedule_doses`` in UTC+7), and per drug the total to request from the pharmacy, in dispensing
units (tablets, vials, bottles; a part tablet is requested whole per patient).

Generating stores a snapshot: one Composition per department and day with a fixed id, so every regeneration
is a new version (the history is the record of what was requested). Its sections hold *versioned* references
(``MedicationRequest/id/_history/n``) to the orders it was made from and the totals, so later changes show as
changes: new (not in the snapshot), stopped (in it but no longer active), modified (another version, or a new
order replacing one of it). One search with its related resources (one SQL statement) and one read, whatever
the number of beds.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from benhan.clinical.catalogues import drugs_at, facility_of
from benhan.clinical.dose_times import schedule_doses
from benhan.clinical.facility import current_location
from benhan.clinical.order_common import day_start
from benhan.clinical.order_safety import dose_in_limit_unit, strength
from benhan.clinical.orders import OPEN_STATUSES, MedicationOrder, order_view
from benhan.clinical.records import BASE, JsonObj, identifier, now_instant, patient_name, ref_id
from benhan.fhir.search import systems
from benhan.fhir.storage.protocol import Related, Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.terminology.catalogue import Catalogue, DrugItem

SUMMARY_TYPE = f"{BASE}/CodeSystem/loai-phieu"
TOTAL_URL = f"{BASE}/StructureDefinition/tong-linh-thuoc"


@dataclass(frozen=True, slots=True)
class DoseLine:
    order: MedicationOrder
    times: list[datetime]
    dose_text: str  # "1 viên" per administration
    quantity: Decimal  # dispensing units for the day
    unit: str  # dispensing unit (viên, lọ, chai …)
    change: str = ""  # "" | new | stopped | modified

    @property
    def quantity_text(self) -> str:
        return vn_number(self.quantity)

    @property
    def times_text(self) -> str:
        """"08:00, 20:00" (local times; the times are in UTC+7 already)."""
        return ", ".join(f"{t.hour:02d}:{t.minute:02d}" for t in self.times)


@dataclass(slots=True)
class PatientBlock:
    encounter_id: str
    patient_id: str
    bed: str
    name: str
    birth_date: str
    gender: str
    ma_bn: str
    lines: list[DoseLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DrugTotal:
    code: str
    name: str
    unit: str
    quantity: Decimal
    generated: Decimal | None  # as in the snapshot; None when the drug was not in it

    @property
    def delta(self) -> Decimal:
        return self.quantity - (self.generated or Decimal(0))


@dataclass(frozen=True, slots=True)
class DailySummary:
    department_id: str
    day: date
    patients: list[PatientBlock]
    totals: list[DrugTotal]
    generated_at: str | None
    version: int | None

    @property
    def changes(self) -> list[tuple[PatientBlock, DoseLine]]:
        return [(p, line) for p in self.patients for line in p.lines if line.change]


def _div(lines: list[str]) -> str:
    body = html.escape("\n".join(lines))
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'


def vn_number(value: Decimal) -> str:
    """2 → "2", 0.5 → "0,5" (Vietnamese decimal comma), at most two decimals."""
    text = format(value.quantize(Decimal("0.01")).normalize(), "f")
    return text.replace(".", ",")


def summary_id(department_id: str, day: date) -> str:
    return f"tonghop-{day:%Y%m%d}-{department_id}"[:64]


def dose_of(dosage: JsonObj) -> tuple[Decimal | None, str | None]:
    for dr in dosage.get("doseAndRate") or []:
        q = dr.get("doseQuantity")
        if q and "value" in q:
            return Decimal(str(q["value"])), q.get("unit")
    return None, None


def to_dispense_units(drug: DrugItem | None, dose: Decimal, unit: str | None) -> Decimal:
    """A dose in the drug's dispensing unit (0.5 tablet stays 0.5; 1000 mg of a 500 mg tablet is 2)."""
    if drug is None or not unit or unit == drug.don_vi_tinh:
        return dose
    in_limit = dose_in_limit_unit(drug, dose, unit)
    per_unit = strength(drug)
    if in_limit is None or not per_unit:
        return dose
    return in_limit / per_unit


def day_line(order: MedicationOrder, day: date, drugs: Catalogue[DrugItem], change: str = "") -> DoseLine:
    """The doses of one order on one local day."""
    drug = drugs.lookup(order.drug_code)
    start, end = day_start(day), day_start(day) + timedelta(days=1)
    times: list[datetime] = []
    quantity = Decimal(0)
    dose_text, unit = "", drug.don_vi_tinh if drug else ""
    covers = (order.start is None or order.start < end) and (order.end is None or order.end > start)
    for dosage in order.dosages:
        value, dose_unit = dose_of(dosage)
        timing = dosage.get("timing") or {}
        prn = bool(dosage.get("asNeededBoolean") or "asNeededCodeableConcept" in dosage)
        # PRN doses have no clock times (a "tối đa 4 lần/ngày" Timing is a ceiling, not a schedule)
        at = schedule_doses(timing, start, end) if not prn and (timing.get("repeat") or timing.get("event")) else []
        if covers and prn:
            # PRN: requested up to its maximum a day (at least one dose) so the ward has it at hand
            count = int(((timing.get("repeat") or {}).get("frequencyMax")) or 1)
            quantity += to_dispense_units(drug, value or Decimal(1), dose_unit) * count
        times.extend(at)
        if value is not None:
            quantity += to_dispense_units(drug, value, dose_unit) * len(at)
            dose_text = dose_text or f"{value.normalize():f} {dose_unit or unit}".replace(".", ",")
    return DoseLine(order, sorted(times), dose_text, quantity, unit, change)


def _versions(snapshot: JsonObj | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for section in (snapshot or {}).get("section") or []:
        for entry in section.get("entry") or []:
            kind, _, rest = str(entry.get("reference", "")).partition("/")
            rid, _, version = rest.partition("/_history/")
            if kind == "MedicationRequest" and rid:
                out[rid] = int(version or 0)
    return out


def _generated_totals(snapshot: JsonObj | None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for section in (snapshot or {}).get("section") or []:
        for ext in section.get("extension") or []:
            if ext.get("url") == TOTAL_URL:
                parts = {e["url"]: e for e in ext.get("extension") or []}
                out[parts["code"]["valueString"]] = Decimal(str(parts["quantity"]["valueDecimal"]))
    return out


def _change(order: MedicationOrder, open_: bool, versions: dict[str, int], prior: str, has_snapshot: bool) -> str:
    if not has_snapshot:
        return ""
    if order.id not in versions:
        return "modified" if prior in versions else "new"
    if not open_:
        return "stopped"
    return "modified" if versions[order.id] != order.version else ""


def build_summary(
    department_id: str,
    day: date,
    stays: Iterable[JsonObj],
    patients: dict[str, JsonObj],
    requests: Iterable[JsonObj],
    drugs: Catalogue[DrugItem],
    snapshot: JsonObj | None = None,
) -> DailySummary:
    """Pure: the summary of ``day`` from the stays, their patients and their medication requests."""
    versions, has_snapshot = _versions(snapshot), snapshot is not None
    start, end = day_start(day), day_start(day) + timedelta(days=1)
    blocks: dict[str, PatientBlock] = {}
    for enc in stays:
        pid = ref_id(enc.get("subject"), "Patient") or ""
        p = patients.get(pid, {})
        loc = current_location(enc) or {}
        blocks[str(enc["id"])] = PatientBlock(
            str(enc["id"]),
            pid,
            str((loc.get("location") or {}).get("display", "")),
            patient_name(p),
            str(p.get("birthDate", "")),
            str(p.get("gender", "")),
            identifier(p, systems.MA_BN) or "",
        )
    for req in requests:
        order = order_view(req)
        block = blocks.get(order.encounter_id)
        open_ = order.status in OPEN_STATUSES
        if block is None or not (open_ or order.id in versions):
            continue
        if open_ and ((order.start and order.start >= end) or (order.end and order.end < start)):
            continue
        prior = ref_id(req.get("priorPrescription"), "MedicationRequest") or ""
        block.lines.append(day_line(order, day, drugs, _change(order, open_, versions, prior, has_snapshot)))
    ordered = sorted(blocks.values(), key=lambda b: (b.bed == "", _bed_key(b.bed), b.name))
    for b in ordered:
        b.lines.sort(key=lambda line: (line.change == "stopped", line.order.drug_name))
    totals = _totals(ordered, drugs, _generated_totals(snapshot))
    meta = (snapshot or {}).get("meta") or {}
    return DailySummary(
        department_id,
        day,
        ordered,
        totals,
        (snapshot or {}).get("date"),
        int(meta["versionId"]) if "versionId" in meta else None,
    )


def _totals(blocks: list[PatientBlock], drugs: Catalogue[DrugItem], generated: dict[str, Decimal]) -> list[DrugTotal]:
    sums: dict[str, Decimal] = {}
    names: dict[str, tuple[str, str]] = {}
    for b in blocks:
        per_patient: dict[str, Decimal] = {}
        for line in b.lines:
            if line.change != "stopped":
                per_patient[line.order.drug_code] = per_patient.get(line.order.drug_code, Decimal(0)) + line.quantity
                names[line.order.drug_code] = (line.order.drug_name, line.unit)
        for code, qty in per_patient.items():  # a part tablet is dispensed whole, per patient
            sums[code] = sums.get(code, Decimal(0)) + Decimal(math.ceil(qty))
    for code in generated.keys() - sums.keys():
        drug = drugs.lookup(code)
        names[code] = (drug.ten_thuoc if drug else code, drug.don_vi_tinh if drug else "")
        sums[code] = Decimal(0)
    return sorted(
        (DrugTotal(code, names[code][0], names[code][1], qty, generated.get(code)) for code, qty in sums.items()),
        key=lambda t: t.name,
    )


def _bed_key(bed: str) -> tuple[str, int]:
    digits = "".join(ch for ch in bed if ch.isdigit())
    return (bed.rstrip("0123456789 "), int(digits) if digits else 0)


async def _facts(
    repo: Repository, ctx: RequestContext, department_id: str
) -> tuple[list[JsonObj], dict[str, JsonObj], list[JsonObj]]:
    stays, found_patients, requests = await repo.search_json_related(
        ctx,
        "Encounter",
        [("service-provider", f"Organization/{department_id}"), ("status", "in-progress")],
        (Related("Patient", "subject", reverse=False), Related("MedicationRequest", "encounter")),
    )
    return stays, {p["id"]: p for p in found_patients}, requests


async def _snapshot(repo: Repository, ctx: RequestContext, department_id: str, day: date) -> JsonObj | None:
    try:
        return (await repo.read(ctx, "Composition", summary_id(department_id, day))).json()
    except BenhanError as exc:
        if exc.error is ErrorCode.NOT_FOUND:
            return None
        raise


async def department_drugs(repo: Repository, ctx: RequestContext, department_id: str) -> Catalogue[DrugItem]:
    """The drug catalogue of the department's facility (doses per unit, pack sizes and prices come from it)."""
    return await drugs_at(repo, ctx, await facility_of(repo, ctx, department_id))


async def daily_summary(repo: Repository, ctx: RequestContext, department_id: str, day: date) -> DailySummary:
    """The summary as it stands now, with the changes since it was last generated."""
    stays, patients, requests = await _facts(repo, ctx, department_id)
    snapshot = await _snapshot(repo, ctx, department_id, day)
    drugs = await department_drugs(repo, ctx, department_id)
    return build_summary(department_id, day, stays, patients, requests, drugs, snapshot)


def snapshot_json(summary: DailySummary, ctx: RequestContext, now: datetime) -> JsonObj:
    sections: list[JsonObj] = []
    for p in summary.patients:
        entries = [
            {"reference": f"MedicationRequest/{line.order.id}/_history/{line.order.version}"}
            for line in p.lines
            if line.change != "stopped"
        ]
        if entries:  # FHIR R4: no empty arrays
            sections.append(
                {
                    "title": f"{p.bed} · {p.name}",
                    "focus": {"reference": f"Encounter/{p.encounter_id}"},
                    "entry": entries,
                }
            )
    totals = [
        {
            "url": TOTAL_URL,
            "extension": [
                {"url": "code", "valueString": t.code},
                {"url": "quantity", "valueDecimal": float(t.quantity)},
            ],
        }
        for t in summary.totals
        if t.quantity > 0
    ]
    # FHIR R4 cmp-1: a section has text, entries or sub-sections; the totals also travel as extensions.
    lines = [f"{t.name}: {vn_number(t.quantity)} {t.unit}" for t in summary.totals if t.quantity > 0]
    total_section: JsonObj = {
        "title": "Tổng lĩnh theo thuốc",
        "code": {"text": "totals"},
        "text": {"status": "generated", "div": _div(lines or ["Không có thuốc."])},
    }
    if totals:
        total_section["extension"] = totals
    sections.append(total_section)
    author = (
        {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
        if ctx.practitioner_id
        else {"display": ctx.username or "—"}
    )
    return {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": SUMMARY_TYPE, "code": "tong-hop-y-lenh"}], "text": "Phiếu tổng hợp y lệnh"},
        "subject": {"reference": f"Organization/{summary.department_id}"},
        "date": now_instant(now),
        "author": [author],
        "title": f"Phiếu tổng hợp y lệnh ngày {summary.day:%d/%m/%Y}",
        "section": sections,
    }


async def generate_summary(
    repo: Repository,
    ctx: RequestContext,
    department_id: str,
    day: date,
    *,
    now: datetime | None = None,
) -> DailySummary:
    """Generate (or regenerate: a new version) the day's summary; returns it with no pending change."""
    now = now or datetime.now(UTC)
    catalogue = await department_drugs(repo, ctx, department_id)
    async with repo.unit_of_work() as uow:
        stays, patients, requests = await _facts(uow, ctx, department_id)
        current = build_summary(department_id, day, stays, patients, requests, catalogue, None)
        body = snapshot_json(current, ctx, now)
        stored = await uow.update(ctx, "Composition", summary_id(department_id, day), body)
    # Just generated: nothing changed since, so the snapshot's totals are the current ones (no second build).
    totals = [replace(t, generated=t.quantity) for t in current.totals]
    return replace(current, totals=totals, generated_at=body["date"], version=stored.resource.version)
