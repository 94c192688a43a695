"""The scripted journey of issue 6 in Debian Chromium, at phone (390×844) and desktop sizes.

Each user signs in at ``/login`` (``live_server_login``: no injected token) and works with their own access
rights. Receptionist: scan a CCCD QR string (as a USB scanner types it), register, admit to a bed. ICU
doctor: find the patient on the department board, open the chart, add a diagnosis, vital signs and a note,
see NEWS2 change; transfer to internal medicine. The internal-medicine doctor, now in charge, discharges.
Screenshots go to ``test-artifacts/e2e/<size>/``; the phone ones are copied to ``docs/guide/img/`` for the
user guides. Browsers are never downloaded: Chromium comes from Debian.
"""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect
from tests.e2e.conftest import screenshot
from tests.e2e.e2e_staff import hospital_with_staff, sign_in, sign_out

pytestmark = pytest.mark.e2e
QR = "079190012345||Trần Thị Hoa|15041990|Nữ|45 Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh|10052022"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


async def _shot(page: Page, size: str, name: str) -> None:
    await screenshot(page, size, name, guide_size="phone")


@pytest.mark.parametrize("size", list(SIZES))
async def test_reception_to_discharge(
    browser: Browser, live_server_login: str, db: asyncpg.Pool, size: str
) -> None:
    wards = (await hospital_with_staff(db)).wards
    ctx = await browser.new_context(viewport=SIZES[size], locale="vi-VN", has_touch=size == "phone")
    page = await ctx.new_page()
    base = live_server_login

    # -- receptionist -------------------------------------------------------------------------------
    await sign_in(page, base, "tiepdon.hoa", "/reception")
    await expect(page.get_by_role("heading", name="Tiếp đón")).to_be_visible()
    await _shot(page, size, "01-reception")
    await page.get_by_label("Nội dung mã QR (máy quét USB gõ vào đây)", exact=True).fill(QR)
    await page.get_by_label("Nội dung mã QR (máy quét USB gõ vào đây)", exact=True).press(
        "Enter"
    )  # the scanner's Enter
    await expect(page.locator("#f-full_name")).to_have_value("Trần Thị Hoa")
    await expect(page.locator("#f-birth_date")).to_have_value("15/04/1990")
    await page.locator("#f-phone").fill("0912345678")
    await _shot(page, size, "02-qr-filled")
    await page.get_by_role("button", name="Đăng ký", exact=True).click()
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("Trần Thị Hoa")
    await _shot(page, size, "03-registered")
    await page.get_by_role("link", name="Nhập khoa điều trị").click()
    await page.get_by_label("Khoa", exact=True).select_option(label="Khoa Hồi sức tích cực")
    await expect(page.get_by_test_id("bed-map")).to_contain_text("Phòng 101")
    await page.get_by_test_id("bed-Giường 2").click()
    await page.get_by_role("button", name="Nhập viện").click()
    await expect(page.locator("#m-confirm_patient")).to_contain_text("Xác nhận đúng bệnh nhân")  # wrong-patient guard
    await page.get_by_test_id("bed-Giường 2").click()
    await page.get_by_label("Tôi đã kiểm tra đúng bệnh nhân").check()
    await _shot(page, size, "04-admit-bed")
    await page.get_by_role("button", name="Nhập viện").click()
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("Khoa Hồi sức tích cực · Giường 2")

    # -- ICU doctor ------------------------------------------------------------------------------------
    await sign_out(page)
    await sign_in(page, base, "bs.hstc", f"/board?dept={wards['icu'].id}")
    row = page.get_by_test_id("board-row").filter(has_text="Trần Thị Hoa")
    await expect(row).to_contain_text("Giường 2")
    await expect(row.get_by_test_id("board-news2")).to_contain_text("—")
    await _shot(page, size, "05-board")
    await row.get_by_role("link").click()
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("15/04/1990")
    code = page.get_by_label("Mã ICD-10 hoặc tên bệnh (gõ không dấu được)", exact=True)
    await code.fill("viem phoi")
    # typed without accents, found with them
    await expect(page.locator("#icd10-list option").first).to_have_attribute("value", re.compile("Viêm phổi"))
    await code.fill("J18.9")
    await page.get_by_role("button", name="Thêm chẩn đoán").click()
    await expect(page.get_by_test_id("diagnoses")).to_contain_text("J18.9")
    await _shot(page, size, "06-diagnosis")
    # RCP chart: RR 27 → 3, SpO2 90 → 3, oxygen → 2, SBP 92 → 2, pulse 128 → 2, alert → 0, 39.4 °C → 2: 14
    vitals = {
        "pulse": "128",
        "systolic": "92",
        "diastolic": "58",
        "temperature": "39,4",
        "respiration": "27",
        "spo2": "90",
    }
    await page.locator("#v-temperature").fill("394")
    await page.get_by_role("button", name="Lưu dấu hiệu sinh tồn").click()
    await expect(page.locator("#m-v-temperature")).to_contain_text("không thể có")  # refused at the field
    await expect(page.locator("#v-temperature")).to_have_value("394")  # input kept
    for key, value in vitals.items():
        await page.locator(f"#v-{key}").fill(value)
    await page.get_by_label("Đang thở oxy", exact=True).check()
    await page.get_by_role("button", name="Lưu dấu hiệu sinh tồn").click()
    await expect(page.get_by_test_id("news2")).to_contain_text("NEWS2: 14")
    await page.locator("#vitals").scroll_into_view_if_needed()
    await _shot(page, size, "07-vitals-news2")
    await page.get_by_label("Mẫu", exact=True).select_option(label="Diễn biến nặng")
    await page.get_by_label("Y lệnh", exact=True).fill("Thở oxy mask 6 l/ph. Cấy máu. Báo hồi sức.")
    await page.get_by_role("button", name="Lưu tờ điều trị").click()
    await expect(page.get_by_test_id("notes")).to_contain_text("Bệnh nhân diễn biến nặng lên")
    await _shot(page, size, "08-progress-note")
    await page.goto(f"{base}/board?dept={wards['icu'].id}")
    await expect(page.get_by_test_id("board-alert")).to_contain_text("Trần Thị Hoa")
    await expect(row.get_by_test_id("board-news2")).to_contain_text("NEWS2 14")
    await _shot(page, size, "09-board-alert")

    # -- transfer, then discharge ------------------------------------------------------------------------
    await row.get_by_role("link").click()
    await page.get_by_role("link", name="Chuyển giường/khoa").click()
    await page.get_by_label("Khoa", exact=True).select_option(label="Khoa Nội tổng hợp")
    await expect(page.get_by_test_id("bed-map")).to_contain_text("Phòng 201")
    await page.get_by_test_id("bed-Giường 5").click()
    await page.get_by_label("Tôi đã kiểm tra đúng bệnh nhân").check()
    await _shot(page, size, "10-transfer")
    await page.get_by_role("button", name="Chuyển giường/khoa").click()
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("Khoa Nội tổng hợp · Giường 5")
    # the patient is now in internal medicine's care: their doctor discharges (the ICU may no longer write)
    chart_url = page.url.removeprefix(base)
    await sign_out(page)
    await sign_in(page, base, "bs.noi", chart_url)
    await page.get_by_role("link", name="Ra viện").click()
    await page.get_by_label("Đỡ, ra viện", exact=True).check()
    await page.get_by_label("Tôi đã kiểm tra đúng bệnh nhân").check()
    await _shot(page, size, "11-discharge")
    await page.get_by_role("button", name="Ra viện").click()
    await expect(page.locator("#timeline")).to_contain_text("Đỡ, ra viện")
    await page.goto(f"{base}/adt/beds?dept={wards['medicine'].id}")
    await expect(page.get_by_test_id("bed-Giường 5")).to_contain_text("Đang dọn")
    await _shot(page, size, "12-bed-cleaning")
    await ctx.close()
