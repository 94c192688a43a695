"""A SMART app's standalone launch in Debian Chromium at phone size (390×844, issue 4): the doctor signs in from
the app's authorization request, picks the patient, sees the consent screen (every control at least 44 px,
nothing wider than the screen), allows, and the app receives its code; a second request is denied and the
app receives ``error=access_denied``.  Screenshots go to ``test-artifacts/e2e/phone/``."""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import pytest
from playwright.async_api import Browser, Page, Route, expect
from tests.e2e.conftest import screenshot
from tests.e2e.e2e_staff import hospital_with_staff, setup_repo, sign_in

from benhan.access import identity as ident
from benhan.clinical import adt, registration
from benhan.clinical.facility import bed_map
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.e2e
CTX = RequestContext.system("e2e")
REDIRECT = "https://app.example/cb"


async def _small_targets(page: Page) -> list[str]:
    sizes = await page.eval_on_selector_all(
        "main button, main input:not([type=hidden]), main a",
        "els => els.map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])",
    )
    return [html for html, height in sizes if height < 44]


async def _fits(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_standalone_launch_on_a_phone(browser: Browser, live_server_login: str, db: asyncpg.Pool) -> None:
    repo = setup_repo(db)
    icu = (await hospital_with_staff(db)).wards["icu"].id
    pid = await registration.register_patient(repo, CTX, registration.RegistrationForm(
        "Trần Thị Hoa", date(1990, 4, 15), "female"))
    bed = next(b for b in await bed_map(repo, CTX, icu) if b.state == "free")
    await adt.admit(repo, CTX, pid, department_id=icu, bed_id=bed.id)
    await IdentityStore(db).add_client("duong-huyet", "Theo dõi đường huyết", None, None, "none", [REDIRECT],
                                       ["authorization_code"], "launch/patient patient/*.rs openid fhirUser", None)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(ident.new_secret(48).encode()).digest()).rstrip(b"=")
    query = urlencode({"response_type": "code", "client_id": "duong-huyet", "redirect_uri": REDIRECT,
                       "scope": "launch/patient patient/*.rs openid", "state": "s1",
                       "aud": f"{live_server_login}/fhir", "code_challenge": challenge.decode(),
                       "code_challenge_method": "S256"})
    landed: list[str] = []

    async def app_callback(route: Route) -> None:  # the app's redirect URI, answered here
        landed.append(route.request.url)
        await route.fulfill(status=200, body="ok")

    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.route("https://app.example/**", app_callback)
    await sign_in(page, live_server_login, "bs.hstc", f"/oauth2/authorize?{query}")
    await expect(page.get_by_role("heading", name="Chọn bệnh nhân")).to_be_visible()
    await page.get_by_label("Họ tên bệnh nhân").fill("Trần")
    await page.get_by_role("button", name="Tìm").click()
    await expect(page.get_by_test_id("pick-patient")).to_have_count(1)
    assert await _small_targets(page) == []
    assert await _fits(page)
    await screenshot(page, "phone", "60-app-patient-picker", guide_size="tablet")
    await page.get_by_test_id("pick-patient").click()
    await expect(page.get_by_test_id("consent-patient")).to_contain_text("Trần Thị Hoa")
    await expect(page.get_by_test_id("consent-scopes")).to_contain_text("Xem, tìm kiếm mọi dữ liệu")
    assert await _small_targets(page) == []
    assert await _fits(page)
    await screenshot(page, "phone", "61-app-consent", guide_size="tablet", full=True)
    await page.get_by_role("button", name="Cho phép").click()
    await page.wait_for_url(f"{REDIRECT}?**")
    assert "code" in parse_qs(urlsplit(landed[0]).query)
    await page.goto(f"{live_server_login}/oauth2/authorize?{query}&patient={pid}")
    await page.get_by_role("button", name="Từ chối").click()
    await page.wait_for_url(f"{REDIRECT}?*error=access_denied*")
    assert len(landed) == 2
    assert parse_qs(urlsplit(landed[1]).query)["error"] == ["access_denied"]
    await context.close()
