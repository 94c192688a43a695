"""Search against real PostgreSQL: each parameter type, modifiers, chains, _has, includes, sort and paging."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.systems import BHYT, CCCD
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.fhir.storage.pg.search import find_matches, search
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db


def _ctx() -> RequestContext:
    return RequestContext.system()


async def _put(repo: PgRepository, resource: dict[str, Any]) -> None:
    await repo.update(_ctx(), resource["resourceType"], resource["id"], resource)


async def _ids(pool: asyncpg.Pool, rtype: str, qs: str, **kw: Any) -> list[str]:
    async with pool.acquire() as conn:
        res = await search(conn, parse(rtype, parse_query_string(qs)), **kw)
    return [m[1] for m in res.matches]


def _patient(
    pid: str, family: str, given: str, birth: str, cccd: str, gender: str = "male"
) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth,
            "name": [{"family": family, "given": given.split()}],
            "identifier": [{"system": CCCD, "value": cccd}, {"system": BHYT, "value": "DN4" + cccd}],
            "text": {"status": "generated",
                     "div": f"<div xmlns=\"http://www.w3.org/1999/xhtml\">{family} {given}</div>"}}


def _obs(oid: str, pid: str, code: str, value: float, when: str, category: str = "vital-signs",
         unit: str = "/min") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Nhịp tim"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit, "unit": unit}}


@pytest.fixture
async def seeded(repo: PgRepository, db: asyncpg.Pool) -> asyncpg.Pool:
    await _put(repo, _patient("p1", "Nguyễn", "Văn An", "1980-02-03", "001080000001"))
    await _put(repo, _patient("p2", "Dương", "Thị Bình", "1992-11-20", "001092000002", "female"))
    await _put(repo, _patient("p3", "Đường", "Minh", "2001-05-05", "001201000003"))
    await _put(repo, _patient("p4", "Trần", "Nguyên", "1975", "001075000004"))
    for i in range(30):
        when = f"2025-03-{1 + i:02d}T08:00:00+07:00"
        await _put(repo, _obs(f"o{i}", "p1" if i % 3 else "p2", "8867-4", 60 + i, when))
    await _put(repo, _obs("w1", "p1", "29463-7", 65.5, "2024-12-31", "vital-signs", "kg"))
    await _put(repo, {"resourceType": "Encounter", "id": "e1", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                      "subject": {"reference": "Patient/p1"},
                      "period": {"start": "2025-03-01T07:00:00+07:00", "end": "2025-03-05T10:00:00+07:00"}})
    return db


async def test_string_folding_matches_vietnamese(seeded: asyncpg.Pool) -> None:
    assert sorted(await _ids(seeded, "Patient", "name=nguyen")) == ["p1", "p4"]  # Nguyễn, Nguyên
    assert await _ids(seeded, "Patient", "name=nguyen van") == ["p1"]
    assert sorted(await _ids(seeded, "Patient", "name=duong")) == ["p2", "p3"]
    assert sorted(await _ids(seeded, "Patient", "family=DƯƠNG")) == ["p2", "p3"]  # Dương, Đường
    assert sorted(await _ids(seeded, "Patient", "name=nguy")) == ["p1", "p4"]
    assert await _ids(seeded, "Patient", "name:exact=Dương") == ["p2"]
    assert await _ids(seeded, "Patient", "name:exact=duong") == []
    assert sorted(await _ids(seeded, "Patient", "name:contains=inh")) == ["p2", "p3"]


async def test_token_forms(seeded: asyncpg.Pool) -> None:
    assert await _ids(seeded, "Patient", f"identifier={CCCD}|001092000002") == ["p2"]
    assert await _ids(seeded, "Patient", "identifier=001092000002") == ["p2"]
    assert await _ids(seeded, "Patient", "identifier=|001092000002") == []
    assert len(await _ids(seeded, "Patient", f"identifier={BHYT}|&_count=100")) == 4
    assert await _ids(seeded, "Patient", "cccd=001201000003") == ["p3"]
    assert sorted(await _ids(seeded, "Patient", "gender:not=male")) == ["p2"]
    assert await _ids(seeded, "Observation", "code:text=nhip tim&_count=1") == ["o0"]
    assert sorted(await _ids(seeded, "Patient", "gender=female,male&_count=10")) == ["p1", "p2", "p3", "p4"]


async def test_date_prefixes_and_precision(seeded: asyncpg.Pool) -> None:
    assert sorted(await _ids(seeded, "Patient", "birthdate=1975")) == ["p4"]
    assert await _ids(seeded, "Patient", "birthdate=1975-03") == []  # the year is not inside March
    assert sorted(await _ids(seeded, "Patient", "birthdate=lt1981")) == ["p1", "p4"]
    assert sorted(await _ids(seeded, "Patient", "birthdate=ge1992-11-20")) == ["p2", "p3"]
    assert sorted(await _ids(seeded, "Patient", "birthdate=sa1980-02-03")) == ["p2", "p3"]
    assert await _ids(seeded, "Encounter", "date=2025-03-03") == []  # the period is not inside the day
    assert await _ids(seeded, "Encounter", "date=ge2025-03-03") == ["e1"]
    assert await _ids(seeded, "Encounter", "date=2025-03") == ["e1"]


async def test_quantity_number_and_ucum(seeded: asyncpg.Pool) -> None:
    assert await _ids(seeded, "Observation", "value-quantity=65.5|http://unitsofmeasure.org|kg") == ["w1"]
    assert await _ids(seeded, "Observation", "value-quantity=65500|http://unitsofmeasure.org|g") == ["w1"]
    assert await _ids(seeded, "Observation", "value-quantity=gt88") == ["o29"]
    assert sorted(await _ids(seeded, "Observation", "value-quantity=60,61")) == ["o0", "o1"]


async def test_reference_chain_has_and_include(seeded: asyncpg.Pool) -> None:
    assert len(await _ids(seeded, "Observation", "patient=p2&_count=100")) == 10
    assert len(await _ids(seeded, "Observation", "subject=Patient/p1&_count=100")) == 21
    assert len(await _ids(seeded, "Observation", "subject:Patient=p1&_count=100")) == 21
    assert len(await _ids(seeded, "Observation", "subject:Patient.name=duong&_count=100")) == 10
    assert len(await _ids(seeded, "Observation", f"subject:Patient.identifier={CCCD}|001092000002&_count=100")) == 10
    assert sorted(await _ids(seeded, "Patient", "_has:Observation:patient:code=29463-7")) == ["p1"]
    assert sorted(await _ids(seeded, "Patient", "_has:Encounter:subject:status=finished")) == ["p1"]
    async with seeded.acquire() as conn:
        res = await search(conn, parse("Observation", parse_query_string("_id=o1,o2&_include=Observation:subject")))
        assert sorted(m[1] for m in res.includes) == ["p1"]
        res = await search(conn, parse("Patient", parse_query_string("_id=p2&_revinclude=Observation:patient")))
        assert len(res.includes) == 10


async def test_sort_and_keyset_paging_survive_inserts(seeded: asyncpg.Pool, repo: PgRepository) -> None:
    qs = "patient=p1&category=vital-signs&_sort=-date&_count=5"
    async with seeded.acquire() as conn:
        first = await search(conn, parse("Observation", parse_query_string(qs)))
        dates = [orjson.loads(m[4])["effectiveDateTime"] for m in first.matches]
        assert dates == sorted(dates, reverse=True)
        assert first.next_cursor
        assert first.previous_cursor is None
    # A row inserted before the cursor position must neither appear nor shift the next page.
    await _put(repo, _obs("late", "p1", "8867-4", 99, "2025-04-30T08:00:00+07:00"))
    seen = [m[1] for m in first.matches]
    cursor = first.next_cursor
    async with seeded.acquire() as conn:
        while cursor:
            page = await search(conn, parse("Observation", parse_query_string(qs + f"&_cursor={cursor}")))
            seen += [m[1] for m in page.matches]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 21
        back = await search(conn, parse("Observation", parse_query_string(qs + f"&_cursor={page.previous_cursor}")))
        assert [m[1] for m in back.matches] == seen[-6 - len(page.matches) + 1:-len(page.matches)][-5:]


async def test_totals_and_count(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        res = await search(conn, parse("Observation", parse_query_string("_summary=count")))
        assert res.total == 31
        assert res.matches == []
        res = await search(conn, parse("Observation", parse_query_string("_total=accurate&_count=2")))
        assert res.total == 31
        assert len(res.matches) == 2
        res = await search(conn, parse("Observation", parse_query_string("_count=2")))
        assert res.total is None
        res = await search(conn, parse("Observation", parse_query_string("_total=estimate&_count=2")))
        assert res.total is not None
        assert res.total > 0


async def test_text_content_and_access_filter(seeded: asyncpg.Pool) -> None:
    assert await _ids(seeded, "Patient", "_text=duong thi") == ["p2"]
    assert await _ids(seeded, "Patient", "_content=001201000003") == ["p3"]
    # The access predicate hides p2 everywhere: as a match, through a chain and as an include.
    hide = {"access_filter": "r.id <> $1", "access_args": ["p2"]}
    assert await _ids(seeded, "Patient", "name=duong", **hide) == ["p3"]
    assert await _ids(seeded, "Observation", "subject:Patient.name=duong&_count=100", **hide) == []
    async with seeded.acquire() as conn:
        query = parse("Observation", parse_query_string("_id=o0&_include=Observation:subject"))
        res = await search(conn, query, **hide)
        assert res.includes == []


async def test_find_matches_for_conditional_operations(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        found = await find_matches(conn, "Patient", f"identifier={CCCD}%7C001080000001")
        assert [f[1] for f in found] == ["p1"]
        assert len(await find_matches(conn, "Patient", "gender=male")) == 3
