"""A string search in the default (rid) order reads only its page's index rows (``Sql._string_rows``) and
runs again in full when that page comes back short: every page, forward and backward, holds exactly the
matches it held before, whatever drops rows (another parameter, the access filter, a patient with more
matching names than the margin)."""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import pytest

from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.storage.pg.bulk import write_batch
from benhan.fhir.storage.pg.search import SearchResult, search
from benhan.kernel.text import fold

pytestmark = pytest.mark.db
FAMILIES = ("Nguyễn", "Nguyên", "Trần", "Lê", "Ngô")


def _patient(rng: random.Random, i: int) -> dict[str, Any]:
    family = rng.choice(FAMILIES)
    # one patient in ten has many names, all matching the same prefix (aliases, former names)
    count = 7 if i % 10 == 3 else 1
    names = [{"family": family, "given": [rng.choice(("Văn", "Thị")), f"Tên{i}x{k}"],
              "text": f"{family} Tên{i}x{k}"} for k in range(count)]
    return {"resourceType": "Patient", "id": f"p{i:03d}", "gender": rng.choice(("male", "female")), "name": names}


def _matches(resource: dict[str, Any], prefix: str) -> bool:
    parts = [p for n in resource["name"] for p in (n["family"], *n["given"], n["text"])]
    return any(fold(p).startswith(prefix) for p in parts)


class _Counting:
    """The connection, counting the page statements and whether they read only the page's index rows."""

    def __init__(self, inner: asyncpg.Connection) -> None:
        self._inner = inner
        self.statements: list[str] = []
        self.returned: list[int] = []

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        out = await self._inner.fetch(sql, *args)
        self.statements.append(sql)
        self.returned.append(len(out))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def _walk(conn: Any, qs: str, **access: Any) -> tuple[list[str], list[str]]:
    """Every page forward, then back from the last page through the previous links."""
    async def page_at(cursor: str | None) -> SearchResult:
        more = f"&_cursor={cursor}" if cursor else ""
        return await search(conn, parse("Patient", parse_query_string(qs + more)), **access)

    forward: list[list[str]] = []
    page = await page_at(None)
    forward.append([m[1] for m in page.matches])
    while page.next_cursor:
        page = await page_at(page.next_cursor)
        forward.append([m[1] for m in page.matches])
    backward = list(forward[-1])
    while page.previous_cursor:
        page = await page_at(page.previous_cursor)
        backward = [m[1] for m in page.matches] + backward
    return [i for p in forward for i in p], backward


@pytest.fixture
async def people(db: asyncpg.Pool) -> list[dict[str, Any]]:
    rng = random.Random(11)
    patients = [_patient(rng, i) for i in range(160)]
    async with db.acquire() as conn, conn.transaction():
        await write_batch(conn, patients)
    return patients


async def _in_rid_order(conn: asyncpg.Connection, wanted: list[dict[str, Any]]) -> list[str]:
    ids = {p["id"] for p in wanted}
    return [r["id"] for r in await conn.fetch("SELECT id FROM resource WHERE type = 'Patient' ORDER BY rid")
            if r["id"] in ids]


@pytest.mark.parametrize("count", [2, 5, 20])
async def test_pages_hold_every_match_once(db: asyncpg.Pool, people: list[dict[str, Any]], count: int) -> None:
    async with db.acquire() as raw:
        conn = _Counting(raw)
        expected = await _in_rid_order(raw, [p for p in people if _matches(p, "nguy")])
        forward, backward = await _walk(conn, f"name=nguy&_count={count}")
        assert forward == expected
        assert backward == expected
        assert len(expected) > 2 * count
        # A page after the first reads the index rows after its cursor: some come back full from them alone.
        assert any("ORDER BY 1 LIMIT" in s and "x.rid >" in s and n == count + 1
                   for s, n in zip(conn.statements, conn.returned, strict=True))


async def test_other_filters_and_access_drop_rows(db: asyncpg.Pool, people: list[dict[str, Any]]) -> None:
    hidden = [p["id"] for p in people[::3]]
    async with db.acquire() as raw:
        women = await _in_rid_order(raw, [p for p in people if _matches(p, "nguy") and p["gender"] == "female"])
        forward, backward = await _walk(raw, "name=nguy&gender=female&_count=3")
        assert forward == backward == women
        visible = await _in_rid_order(raw, [p for p in people if _matches(p, "ng") and p["id"] not in hidden])
        forward, backward = await _walk(raw, "name=ng&_count=4", access_filter="NOT (r.id = ANY($1::text[]))",
                                        access_args=[hidden])
        assert forward == backward == visible


async def test_a_patient_with_more_names_than_the_margin(db: asyncpg.Pool, people: list[dict[str, Any]]) -> None:
    """_count=1 takes 8 index rows; p003's seven names give it 14 matching rows (family and text): the
    capped page holds only p003 and the page after it would be missed without the second statement."""
    assert len(people[3]["name"]) == 7
    family = fold(people[3]["name"][0]["family"])
    async with db.acquire() as raw:
        conn = _Counting(raw)
        expected = await _in_rid_order(raw, [p for p in people if _matches(p, family)])
        forward, backward = await _walk(conn, f"name={family}&_count=1")
        assert forward == backward == expected
        assert any("ORDER BY 1 LIMIT" not in s for s in conn.statements)  # some pages fell back


async def test_a_sort_reads_every_match(db: asyncpg.Pool, people: list[dict[str, Any]]) -> None:
    async with db.acquire() as raw:
        conn = _Counting(raw)
        found = await search(conn, parse("Patient", parse_query_string("name=nguy&_sort=-_id&_count=500")))
        assert [m[1] for m in found.matches] == sorted((p["id"] for p in people if _matches(p, "nguy")),
                                                       reverse=True)
        assert not any("ORDER BY 1 LIMIT" in s for s in conn.statements)
