"""Two concurrent updates with the same If-Match: exactly one wins (FHIR R4 http.html#concurrency)."""

from __future__ import annotations

import asyncio

import pytest

from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

CTX = RequestContext.system("test")


async def test_same_if_match_one_winner_two_connections(repo: PgRepository) -> None:
    created = await repo.create(CTX, {"resourceType": "Patient", "gender": "male"})
    pid = created.resource.id
    async with repo.unit_of_work() as first:  # connection 1, transaction open
        await first.update(CTX, "Patient", pid, {"resourceType": "Patient", "id": pid, "gender": "female"},
                           if_match=1)
        # connection 2 races with the same If-Match; it must wait for connection 1's row lock
        second = asyncio.create_task(
            repo.update(CTX, "Patient", pid, {"resourceType": "Patient", "id": pid, "gender": "other"}, if_match=1)
        )
        await asyncio.sleep(0.3)
        assert not second.done()
    with pytest.raises(BenhanError) as exc:
        await second
    assert exc.value.error is ErrorCode.VERSION_CONFLICT
    current = await repo.read(CTX, "Patient", pid)
    assert current.version == 2
    assert current.json()["gender"] == "female"


async def test_many_racers_exactly_one_wins(repo: PgRepository) -> None:
    pid = (await repo.create(CTX, {"resourceType": "Patient"})).resource.id

    async def attempt(i: int) -> bool:
        try:
            await repo.update(CTX, "Patient", pid, {"resourceType": "Patient", "id": pid, "birthDate": f"19{i:02d}"},
                              if_match=1)
            return True
        except BenhanError as err:
            if err.error is not ErrorCode.VERSION_CONFLICT:
                raise
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(6)))
    assert results.count(True) == 1
    assert (await repo.read(CTX, "Patient", pid)).version == 2
