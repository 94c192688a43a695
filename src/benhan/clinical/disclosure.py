"""The medication disclosure sheet (phiếu công khai thuốc): per drug, the quantity ordered each day of the
stay and its catalogue price, for the patient to see what was given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from benhan.clinical.catalogues import drugs_at, encounter_facility
from benhan.clinical.orders import order_view
from benhan.clinical.records import JsonObj
from benhan.clinical.summary import day_line
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology.catalogue import Catalogue, DrugItem


@dataclass(frozen=True, slots=True)
class DisclosureRow:
    """One drug of the medication disclosure sheet (phiếu công khai thuốc): quantity per day and cost."""

    code: str
    name: str
    unit: str
    price: Decimal
    per_day: dict[date, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.per_day.values(), Decimal(0))


def disclosure(requests: Iterable[JsonObj], days: list[date], drugs: Catalogue[DrugItem]) -> list[DisclosureRow]:
    """Pure: what the patient received (ordered) each day, per drug, with the catalogue price."""
    rows: dict[str, DisclosureRow] = {}
    for req in requests:
        if req.get("status") in ("entered-in-error", "cancelled", "draft"):
            continue
        order = order_view(req)
        drug = drugs.lookup(order.drug_code)
        row = rows.setdefault(
            order.drug_code,
            DisclosureRow(
                order.drug_code,
                order.drug_name,
                drug.don_vi_tinh if drug else "",
                drug.don_gia if drug else Decimal(0),
                {},
            ),
        )
        for day in days:
            qty = day_line(order, day, drugs).quantity
            if qty:
                row.per_day[day] = row.per_day.get(day, Decimal(0)) + qty
    return sorted((r for r in rows.values() if r.per_day), key=lambda r: r.name)


async def stay_disclosure(
    repo: Repository, ctx: RequestContext, encounter_id: str, days: list[date]
) -> list[DisclosureRow]:
    """The sheet of one stay, priced from the catalogue of the facility treating the patient."""
    enc = (await repo.read(ctx, "Encounter", encounter_id)).json()
    requests = await repo.search_json(ctx, "MedicationRequest", [("encounter", f"Encounter/{encounter_id}")])
    return disclosure(requests, days, await drugs_at(repo, ctx, await encounter_facility(repo, ctx, enc)))
