"""A small set of departments with rooms and beds, for the demo and the tests of the web app."""

from __future__ import annotations

from benhan.clinical.facility import Department, create_department
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext


async def create_demo_wards(
    repo: Repository, ctx: RequestContext, facility_id: str | None = None
) -> dict[str, Department]:
    """Outpatient clinic (2 rooms), emergency (1 room, 4 beds), ICU (6 beds) and internal medicine (8 beds)."""

    def beds(n: int, first: int = 1) -> list[str]:
        return [f"Giường {i}" for i in range(first, first + n)]

    opd = await create_department(
        repo,
        ctx,
        name="Khoa Khám bệnh",
        kind="outpatient",
        part_of=facility_id,
        rooms=[("Phòng khám 1 – Nội", []), ("Phòng khám 2 – Ngoại", [])],
    )
    er = await create_department(
        repo, ctx, name="Khoa Cấp cứu", kind="emergency", part_of=facility_id, rooms=[("Phòng cấp cứu", beds(4))]
    )
    icu = await create_department(
        repo,
        ctx,
        name="Khoa Hồi sức tích cực",
        part_of=facility_id,
        rooms=[("Phòng 101", beds(3)), ("Phòng 102", beds(3, 4))],
    )
    med = await create_department(
        repo,
        ctx,
        name="Khoa Nội tổng hợp",
        part_of=facility_id,
        rooms=[("Phòng 201", beds(4)), ("Phòng 202", beds(4, 5))],
    )
    return {"outpatient": opd, "emergency": er, "icu": icu, "medicine": med}
