"""The identity, access and audit screens of issue 4 in Debian Chromium at phone size (390×844), one journey.

The facility administrator (signing in with a TOTP code, as policy requires) creates a nurse with a role in
the ICU; a wrong username is refused at its field with what was typed kept. The new nurse signs in, opens a
patient's chart and "who viewed this record". An internal-medicine doctor breaks the glass for that patient;
the auditor searches the audit log and opens one event; the head of internal medicine opens the
break-the-glass review with the doctor's reason. No page is wider than the phone. Screenshots go to
``test-artifacts/e2e/phone/``; with ``BENHAN_UPDATE_GUIDE=1`` also to ``docs/guide/img/`` (admin and auditor
guides)."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, expect
from tests.e2e.conftest import screenshot
from tests.e2e.e2e_staff import SYSTEM, hospital_with_staff, setup_repo, sign_in, sign_out
from tests.integration.access_support import Province, add_user
from tests.integration.access_support import sign_in as api_sign_in

from benhan.access.roles import Grant
from benhan.clinical import adt, registration
from benhan.clinical.facility import bed_map

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "dieu-duong-lan-2026"
REASON = "Cấp cứu ngừng tuần hoàn tại khoa, cần xem tiền sử dị ứng"


async def _shot(page: Page, name: str) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name  # no overflow
    await screenshot(page, "phone", name, guide_size="phone", full=True)


async def _short_controls(page: Page) -> list[str]:
    """Form controls of the page lower than a 44 px touch target (WCAG 2.5.5)."""
    sizes = await page.eval_on_selector_all(
        "main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main select, main button",
        "els => els.map(e => [e.id || e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])",
    )
    return [name for name, height in sizes if height < 44]


async def test_admin_creates_user_auditor_reviews(browser: Browser, live_server_login: str, db: asyncpg.Pool) -> None:
    repo, base = setup_repo(db), live_server_login
    hospital = await hospital_with_staff(db)
    fac, icu, medicine = hospital.facility_id, hospital.wards["icu"].id, hospital.wards["medicine"].id
    p = Province(fac, fac, fac, "", "", "")
    secret = pyotp.random_base32()
    await add_user(db, repo, p, "qt.bv", [Grant("facility_admin", fac)], totp_secret=secret)
    await add_user(db, repo, p, "kt.bv", [Grant("auditor", fac)])
    await add_user(db, repo, p, "tk.noi", [Grant("head_of_department", fac, medicine)])
    pid = await registration.register_patient(repo, SYSTEM, registration.RegistrationForm(
        "Trần Thị Hoa", date(1990, 4, 15), "female"))
    bed = next(b for b in await bed_map(repo, SYSTEM, icu) if b.state == "free")
    await adt.admit(repo, SYSTEM, pid, department_id=icu, bed_id=bed.id)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", has_touch=True)
    page = await ctx.new_page()

    # -- facility administrator: a new ICU nurse; a bad username is refused at its field, input kept -----------
    await sign_in(page, base, "qt.bv", "/admin/users/new", totp=pyotp.TOTP(secret).now())
    await expect(page.get_by_role("heading", name="Người dùng mới")).to_be_visible()
    await page.locator("#f-username").fill("dd lan")
    await page.locator("#f-display_name").fill("Nguyễn Thị Lan")
    await page.locator("#f-password").fill(NEW_PASSWORD)
    await page.locator("#f-role").select_option("nurse")
    await page.locator("#f-department").select_option(icu)
    await page.get_by_role("button", name="Tạo người dùng").click()
    await expect(page.locator("#m-username")).to_contain_text("Tên đăng nhập 3–40 ký tự")
    await expect(page.locator("#f-username")).to_have_value("dd lan")
    await expect(page.locator("#f-display_name")).to_have_value("Nguyễn Thị Lan")
    await expect(page.locator("#f-role")).to_have_value("nurse")
    await expect(page.locator("#f-department")).to_have_value(icu)
    assert await _short_controls(page) == []
    await _shot(page, "70-admin-new-user-error")
    await page.locator("#f-username").fill("dd.lan")
    await page.locator("#f-password").fill(NEW_PASSWORD)  # a password is never sent back to the page
    await page.get_by_role("button", name="Tạo người dùng").click()
    await expect(page.get_by_test_id("done")).to_be_visible()
    await expect(page.get_by_test_id("grants")).to_contain_text("Khoa Hồi sức tích cực")
    await _shot(page, "71-admin-user-created")
    await sign_out(page)

    # -- the new nurse signs in, opens the chart and "who viewed this record" ---------------------------------
    await sign_in(page, base, "dd.lan", f"/patients/{pid}", password=NEW_PASSWORD)
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("Trần Thị Hoa")
    await page.get_by_test_id("who-viewed").click()
    await expect(page.get_by_test_id("accesses")).to_contain_text("dd.lan")
    await _shot(page, "72-who-viewed")
    await sign_out(page)

    # -- an internal-medicine doctor breaks the glass for the ICU patient (the session API of the web app) ------
    async with httpx.AsyncClient(base_url=base) as doctor:
        csrf = await api_sign_in(doctor, "bs.noi")
        glass = await doctor.post("/session/break-glass", json={"reason": REASON, "patient_id": pid,
                                                                 "csrf_token": csrf})
        assert glass.status_code == 200, glass.text

    # -- auditor: search the log, open one event ------------------------------------------------------------
    await sign_in(page, base, "kt.bv", "/audit")
    await page.locator("#f-user").fill("qt.bv")
    await page.locator("#f-action").select_option("admin")
    await page.get_by_role("button", name="Tìm kiếm", exact=True).click()
    rows = page.get_by_test_id("audit-rows").get_by_role("link")
    await expect(rows.first).to_contain_text("qt.bv")
    await _shot(page, "73-audit-search")
    await rows.first.click()
    await expect(page.get_by_test_id("audit-event")).to_contain_text("qt.bv")
    await expect(page.get_by_test_id("outcome")).to_contain_text("add user dd.lan")
    await _shot(page, "74-audit-event")
    await sign_out(page)

    # -- head of internal medicine: the break-the-glass review ----------------------------------------------
    await sign_in(page, base, "tk.noi", "/break-glass/review")
    await expect(page.get_by_test_id("glass-rows")).to_contain_text("bs.noi")
    await expect(page.get_by_test_id("glass-rows")).to_contain_text(REASON)
    await _shot(page, "75-break-glass-review")
    await ctx.close()
