"""Load the demo province once: code lists, facilities and staff, each facility's catalogues (imported from the
packaged demo files), demo logins, then the patients.

Idempotent: every resource has a deterministic id and the bulk path skips ids already stored; logins that
exist are kept. A marker resource (``Basic/benhan-demo``) written last lets later starts skip the work.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from benhan.demo.logins import DEMO_LOGINS, DemoLogin, demo_password
from benhan.demo.province import Province, build_province
from benhan.demo.terminology import load_terminology
from benhan.fhir.storage.pg.bulk import BulkResult
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError
from benhan.synth.generator import DEMO, Profile
from benhan.synth.load import load_patients, load_resources
from benhan.terminology.facility_catalogues import import_demo_catalogues

MARKER = ("Basic", "benhan-demo")
DEFAULT_PATIENTS = 300
SEED = 2024
#: the staff behind the logins whose role exists in many departments (an internal-medicine ward)
_PREFERRED = {"doctor": "cm-bvdk-tinh-noi-nv2", "nurse": "cm-bvdk-tinh-noi-nv5",
              "head_of_department": "cm-bvdk-tinh-noi-nv1"}  # fmt: skip


@dataclass(slots=True)
class DemoSummary:
    loaded: bool
    written: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    terminology: Counter[str] = field(default_factory=Counter)
    catalogues: Counter[str] = field(default_factory=Counter)  # catalogues stored, per kind
    logins: list[DemoLogin] = field(default_factory=list)
    seconds: float = 0.0


def demo_logins(province: Province) -> list[DemoLogin]:
    out = []
    for username, role, label in DEMO_LOGINS:
        pid, fac, dept = province.staff_by_role[role]
        if role in _PREFERRED:
            pid, fac, dept = _PREFERRED[role], "cm-bvdk-tinh", "cm-bvdk-tinh-noi"
        out.append(DemoLogin(username, demo_password(username), role, label, pid, fac, dept))
    return out


async def create_logins(pool: asyncpg.Pool, logins: list[DemoLogin]) -> int:
    """Users and grants through the access package's identity store; existing usernames are kept."""
    from benhan.access.identity import hash_password
    from benhan.fhir.storage.pg.identity import IdentityStore

    store, created = IdentityStore(pool), 0
    for login in logins:
        if await store.user_by_name(login.username) is None:
            user_id = f"demo-{login.username}"
            await store.add_user(user_id, login.username, hash_password(login.password), login.label,
                                 login.practitioner_id)  # fmt: skip
            await store.add_grant(user_id, login.role, login.facility_id, login.department_id)
            created += 1
    return created


async def is_loaded(pool: asyncpg.Pool) -> bool:
    try:
        await PgRepository(pool, validate=False).read(RequestContext.system("demo"), *MARKER)
    except BenhanError:
        return False
    return True


async def load_demo(
    url: str, pool: asyncpg.Pool, *, patients: int = DEFAULT_PATIENTS, seed: int = SEED,
    as_of: datetime | None = None, profile: Profile = DEMO, workers: int = 2, force: bool = False,
    progress: Callable[[int, Counter[str]], None] | None = None,
) -> DemoSummary:
    """Load everything unless the marker says it is there (``force`` loads anyway; ids make it a no-op)."""
    started = time.perf_counter()
    province = build_province(seed)
    summary = DemoSummary(loaded=False, logins=demo_logins(province))
    if not force and await is_loaded(pool):
        return summary
    ctx = RequestContext.system("demo")
    summary.terminology = await load_terminology(PgRepository(pool), ctx)
    result = await load_resources(url, province.resources)
    # each facility's drug / service / supply list goes through the import a facility uses for its own file
    for fac in province.world.facilities:
        for outcome in await import_demo_catalogues(PgRepository(pool), ctx, fac.id):
            summary.catalogues[outcome.kind] += 1 if outcome.stored else 0
    as_of = as_of or clock.now()
    # load_patients blocks (worker processes, or its own event loop): run it off this loop's thread.
    result.add(await asyncio.to_thread(load_patients, url, seed, patients, province.world, as_of, profile=profile,
                                       workers=workers, progress=progress))  # fmt: skip
    await create_logins(pool, summary.logins)
    marker = {"resourceType": "Basic", "id": MARKER[1],
              "code": {"coding": [{"system": "https://benhan.vn/fhir/CodeSystem/demo", "code": "loaded"}],
                       "text": f"Dữ liệu demo: {patients} người bệnh, seed {seed}"}}  # fmt: skip
    if not await is_loaded(pool):
        await PgRepository(pool).update(ctx, *MARKER, marker)
    summary.loaded, summary.written, summary.skipped = True, result.written, result.skipped
    summary.seconds = time.perf_counter() - started
    return summary


__all__ = ["BulkResult", "DemoSummary", "create_logins", "demo_logins", "is_loaded", "load_demo"]
