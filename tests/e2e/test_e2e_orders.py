"""The issue 7 journey in Debian Chromium at tablet (820×1180) and phone (390×844) sizes.

Each user signs in at ``/login`` (``live_server_login``: no injected token) with their own access rights.
ICU doctor: records a penicillin allergy, orders 3 drugs (amoxicillin raises the allergy alert, overridden with a
reason), a lab panel and a chest X-ray; prints the wristband. ICU nurse: generates the day's summary and sees the
orders, gives a dose by scanning the wristband code and the drug code; a wrong-patient scan is refused.
Doctor: stops a drug and the summary shows the change; discharge writes and prints the giấy ra viện.
Screenshots go to ``test-artifacts/e2e/<size>/``; the tablet ones are copied to ``docs/guide/img/``.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect
from tests.e2e.conftest import ARTIFACTS, screenshot
from tests.e2e.e2e_staff import hospital_with_staff, setup_repo, sign_in, sign_out

from benhan.clinical import adt, registration
from benhan.clinical.facility import bed_map
from benhan.clinical.records import identifier
from benhan.fhir.search import systems
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.e2e
CTX = RequestContext.system("e2e")
SIZES = {"tablet": {"width": 820, "height": 1180}, "phone": {"width": 390, "height": 844}}


async def _shot(page: Page, size: str, name: str, *, full: bool = False) -> None:
    await screenshot(page, size, name, guide_size="tablet", full=full)


async def _admitted(repo: PgRepository, dept: str, name: str, born: date, sex: str) -> dict[str, str]:
    pid = await registration.register_patient(repo, CTX, registration.RegistrationForm(name, born, sex))
    bed = next(b for b in await bed_map(repo, CTX, dept) if b.state == "free")
    enc = await adt.admit(repo, CTX, pid, department_id=dept, bed_id=bed.id)
    code = identifier((await repo.read(CTX, "Patient", pid)).json(), systems.MA_BN) or ""
    return {"pid": pid, "enc": enc, "code": code}


async def _order(page: Page, drug: str, frequency: str, dose: str = "") -> None:
    await page.locator("#f-drug").fill(drug)
    await page.locator("#f-frequency").fill(frequency)
    await page.locator("#f-dose").fill(dose)
    await page.get_by_role("button", name="Lưu y lệnh", exact=True).click()


async def _same_day_in_vietnam(needed: float = 150.0) -> None:
    """The journey works on today's summary (a day in Vietnam time): one that starts shortly before midnight
    there waits for the new day rather than straddle it (CI failed at 23:59 ICT: the summary was generated on
    one day and the drug stopped on the next, whose summary has no earlier edition to compare with)."""
    now = datetime.now(VN_TZ)
    left = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), VN_TZ) - now).total_seconds()
    if left < needed:
        await asyncio.sleep(left + 1)


@pytest.mark.parametrize("size", list(SIZES))
async def test_orders_summary_emar_discharge(
    browser: Browser, live_server_login: str, db: asyncpg.Pool, size: str
) -> None:
    await _same_day_in_vietnam()
    repo = setup_repo(db)
    wards = (await hospital_with_staff(db)).wards
    icu = wards["icu"].id
    hoa = await _admitted(repo, icu, "Trần Thị Hoa", date(1990, 4, 15), "female")
    binh = await _admitted(repo, icu, "Phạm Văn Bình", date(1958, 2, 3), "male")
    ctx = await browser.new_context(viewport=SIZES[size], locale="vi-VN", has_touch=True)
    page = await ctx.new_page()
    base = live_server_login

    # -- doctor: allergy, three drugs (one alert overridden), a lab panel and a chest X-ray -----------------
    await sign_in(page, base, "bs.hstc", f"/patients/{hoa['pid']}")
    await page.get_by_role("link", name="Y lệnh", exact=True).click()
    await expect(page.get_by_role("heading", name="Y lệnh thuốc", exact=True)).to_be_visible()
    await page.get_by_label("Thuốc hoặc hoạt chất", exact=True).fill("Penicilin")
    await page.get_by_role("button", name="Ghi dị ứng").click()
    await expect(page.get_by_test_id("patient-banner")).to_contain_text("Penicilin")
    await page.locator("#f-drug").fill("amoxi")  # type-ahead, accent-insensitive
    await expect(page.locator("#drug-list option").first).to_have_attribute(
        "value", "DEMO.0003 Amoxicillin 500mg (demo)"
    )
    await _order(page, "DEMO.0001 Paracetamol 500mg (demo)", "mỗi 6 giờ", "1")
    await expect(page.get_by_test_id("med-orders")).to_contain_text("Paracetamol 500mg")
    await _order(page, "DEMO.0003 Amoxicillin 500mg (demo)", "ngày 2 lần, mỗi lần 1 viên")
    alerts = page.get_by_test_id("order-alerts")
    await expect(alerts).to_contain_text("dị ứng Penicilin")
    await alerts.scroll_into_view_if_needed()
    await _shot(page, size, "20-order-allergy-alert")
    await page.get_by_test_id("override-reason").fill("Test da âm tính, đã hội chẩn")
    await page.get_by_role("button", name="Lưu y lệnh", exact=True).click()
    await expect(page.get_by_test_id("med-orders")).to_contain_text("Amoxicillin 500mg")
    await _order(page, "DEMO.0009 Omeprazol 20mg (demo)", "sáng 1 viên")
    await expect(page.get_by_test_id("med-order")).to_have_count(3)
    await page.locator("#meds").scroll_into_view_if_needed()
    await _shot(page, size, "21-orders")
    await page.get_by_label("Bộ xét nghiệm", exact=True).select_option(label="Sinh hóa máu cơ bản")
    await page.get_by_label("Khẩn", exact=True).check()
    await page.get_by_role("button", name="Chỉ định", exact=True).click()
    await page.locator("#f-service").fill("DEMO.CD01 Chụp X-quang ngực thẳng")
    await page.locator("#f-note").fill("Sốt, ho, nghi viêm phổi")
    await page.get_by_role("button", name="Chỉ định", exact=True).click()
    services = page.get_by_test_id("service-orders")
    await expect(services).to_contain_text("Chụp X-quang ngực thẳng")
    await expect(services).to_contain_text("Số accession")
    await expect(services.locator("li")).to_have_count(6)
    await services.scroll_into_view_if_needed()
    await _shot(page, size, "22-lab-imaging")
    await page.goto(f"{base}/papers/wristband/{hoa['pid']}")
    await expect(page.get_by_test_id("wristband")).to_contain_text(hoa["code"])
    await _shot(page, size, "23-wristband")

    # -- nurse: the day's summary, then eMAR -------------------------------------------------------------
    await sign_out(page)
    await sign_in(page, base, "dd.hstc", f"/summary?dept={icu}")
    await page.get_by_role("button", name="Lập phiếu tổng hợp").click()
    block = page.get_by_test_id("summary-patient").filter(has_text="Trần Thị Hoa")
    for drug in ("Paracetamol 500mg", "Amoxicillin 500mg", "Omeprazol 20mg"):
        await expect(block).to_contain_text(drug)
    await expect(page.get_by_test_id("summary-status")).to_contain_text("lần 1")
    await _shot(page, size, "24-summary")
    await page.get_by_test_id("summary-totals").scroll_into_view_if_needed()
    await _shot(page, size, "25-pharmacy-totals")
    await page.goto(f"{base}/emar?dept={icu}")
    await expect(page.get_by_test_id("emar-row")).to_have_count(2)
    await _shot(page, size, "26-emar-list")
    scan = page.get_by_label("Quét vòng tay (hoặc gõ mã bệnh nhân)")
    await scan.fill(hoa["code"])
    await scan.press("Enter")  # what a USB scanner sends after the code
    await expect(page.get_by_test_id("identified")).to_contain_text("Trần Thị Hoa")
    await page.get_by_test_id("dose-DEMO.0001").first.click()
    await page.locator("#f-scanned_patient").fill(binh["code"])  # the wrong patient's wristband
    await page.locator("#f-scanned_drug").fill("DEMO.0001")
    await page.get_by_role("button", name="Ghi nhận", exact=True).click()
    await expect(page.get_by_test_id("patient-scan-msg")).to_contain_text("SAI BỆNH NHÂN")
    await page.locator("#give").scroll_into_view_if_needed()
    await _shot(page, size, "27-emar-wrong-patient")
    await page.locator("#f-scanned_patient").fill(hoa["code"])
    await page.get_by_test_id("dose-DEMO.0001").first.click()
    await page.locator("#f-scanned_drug").fill("DEMO.0001")
    await page.get_by_role("button", name="Ghi nhận", exact=True).click()
    await expect(page.get_by_test_id("dose-saved")).to_be_visible()
    await expect(page.get_by_test_id("dose-DEMO.0001").first).to_contain_text("đã dùng")
    await _shot(page, size, "28-emar-given")

    # -- doctor stops a drug; the summary shows the change --------------------------------------------------
    await sign_out(page)
    await sign_in(page, base, "bs.hstc", f"/orders/{hoa['enc']}")
    omeprazol = page.get_by_test_id("med-order").filter(has_text="Omeprazol")
    await omeprazol.get_by_text("Ngừng", exact=True).click()
    await omeprazol.get_by_label("Lý do ngừng").fill("Hết đau thượng vị")
    await omeprazol.get_by_role("button", name="Ngừng thuốc này").click()
    await expect(page.get_by_test_id("med-order").filter(has_text="Omeprazol")).to_contain_text("đã ngừng")
    await page.goto(f"{base}/summary?dept={icu}")
    changes = page.get_by_test_id("summary-changes")
    await expect(changes).to_contain_text("Omeprazol 20mg")
    await expect(changes.get_by_test_id("change-stopped")).to_have_count(1)
    await _shot(page, size, "29-summary-change")

    # -- discharge with the paper, printed ----------------------------------------------------------------
    await page.goto(f"{base}/adt/discharge/{hoa['enc']}")
    await page.get_by_role("link", name="Lập giấy ra viện và cho ra viện").click()
    await page.locator("#f-admission_codes").fill("J18.9")
    await page.locator("#f-discharge_codes").fill("J18.9")
    await expect(page.locator("#f-treatment")).to_have_value(
        "Nội khoa: Amoxicillin 500mg (demo), Omeprazol 20mg (demo), Paracetamol 500mg (demo)."
    )
    await page.get_by_label("Khỏi, ra viện", exact=True).check()
    await page.get_by_label("Tôi đã kiểm tra đúng bệnh nhân").check()
    await _shot(page, size, "30-discharge-paper-form")
    await page.get_by_role("button", name="Lưu và cho ra viện").click()
    paper = page.get_by_test_id("discharge-paper")
    await expect(paper).to_contain_text("Trần Thị Hoa")
    await expect(page.get_by_test_id("paper-discharge-diagnosis")).to_contain_text("J18.9")
    await expect(page.get_by_test_id("paper-result")).to_contain_text("Khỏi, ra viện")
    await page.emulate_media(media="print")
    await expect(page.get_by_role("button", name="In", exact=True)).to_be_hidden()  # print CSS hides the controls
    await _shot(page, size, "31-discharge-paper-print", full=True)
    folder = ARTIFACTS / size
    await page.pdf(path=str(folder / "giay-ra-vien.pdf"), format="A4")
    assert (folder / "giay-ra-vien.pdf").stat().st_size > 1000
    await ctx.close()
