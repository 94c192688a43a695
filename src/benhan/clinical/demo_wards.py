"""A small hospital (departments with rooms and beds, and the demo drug / service / supply catalogues imported
like any facility's file), for the tests of the web app and the end-to-end runs."""

from __future__ import annotations

from benhan.access.org import organization
from benhan.clinical.facility import Department, create_department
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology.facility_catalogues import import_demo_catalogues


async def create_demo_wards(
    repo: Repository, ctx: RequestContext, facility_id: str | None = None
) -> dict[str, Department]:
    """Outpatient clinic (2 rooms), emergency (1 room, 4 beds), ICU (6 beds) and internal medicine (8 beds) of
    ``facility_id`` (a new "Bệnh viện demo" when None), whose catalogues are the packaged demo lists."""
    if facility_id is None:
        facility_id = (await repo.create(ctx, organization("facility", "Bệnh viện demo"))).resource.id
    await import_demo_catalogues(repo, ctx, facility_id)

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
