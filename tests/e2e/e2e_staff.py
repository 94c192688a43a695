"""Staff for the end-to-end journeys (issue 4 × issues 6 and 7): one facility with the demo wards, and a
receptionist, an ICU doctor, an ICU nurse and an internal-medicine doctor who sign in at ``/login`` in the
browser, so every page runs with that user's access rights (no injected token)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from playwright.async_api import Page, expect
from tests.integration.access_support import PASSWORD, Province, add_user

from benhan.access import AccessControl, load_config, org
from benhan.access.roles import Grant
from benhan.clinical.demo_wards import create_demo_wards
from benhan.clinical.facility import Department
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext

SYSTEM = RequestContext.system("e2e-setup")
#: username → (role, ward key or None for the whole facility); not the public demo logins, which only work in
#: demo mode (``benhan.demo.logins``)
STAFF = {
    "tiepdon.hoa": ("receptionist", None),
    "bs.hstc": ("doctor", "icu"),
    "dd.hstc": ("nurse", "icu"),
    "bs.noi": ("doctor", "medicine"),
}


@dataclass(frozen=True, slots=True)
class Hospital:
    facility_id: str
    wards: dict[str, Department]


def setup_repo(db: asyncpg.Pool) -> PgRepository:
    """A repository with the access layer, as the app has: it maintains the organisation tree and the care
    links (who treats whom) that the policy reads when the users sign in (writes here are the system's)."""
    return PgRepository(db, access=AccessControl(load_config()))


async def hospital_with_staff(db: asyncpg.Pool) -> Hospital:
    repo = setup_repo(db)
    province = (await repo.create(SYSTEM, org.organization("province", "Sở Y tế Cà Mau"))).resource.id
    facility = org.organization("facility", "Bệnh viện Đa khoa tỉnh", code="96001", parent_id=province)
    fac = (await repo.create(SYSTEM, facility)).resource.id
    wards = await create_demo_wards(repo, SYSTEM, facility_id=fac)
    p = Province(province, fac, fac, "", "", "")
    for username, (role, ward) in STAFF.items():
        await add_user(db, repo, p, username, [Grant(role, fac, wards[ward].id if ward else None)])
    return Hospital(fac, wards)


async def sign_in(page: Page, base: str, username: str, target: str, *, totp: str | None = None,
                  password: str = PASSWORD) -> None:
    """Open ``target``; an anonymous visitor lands on the login page, signs in (with the one-time code from
    the authenticator app when ``totp`` is given) and comes back to it."""
    await page.goto(f"{base}{target}")
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu", exact=True).fill(password)
    if totp:
        await page.get_by_label("Mã xác thực (nếu đã đăng ký)").fill(totp)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_test_id("signed-in")).to_contain_text(username)


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
