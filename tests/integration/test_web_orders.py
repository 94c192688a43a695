"""Issue 7 pages through the ASGI app: orders with an alert to override, lab/imaging, the daily summary (and its
SQL query budget), eMAR with the wrong-patient block, the wristband, and the discharge paper."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration import test_web_pages as pages
from tests.integration.access_support import audit_rows
from tests.integration.test_web_pages import BUDGETS, CTX, _count

from benhan.clinical import adt, orders, registration, service_orders, summary
from benhan.clinical.facility import bed_map
from benhan.clinical.records import identifier, today_vn
from benhan.fhir.search import systems
from benhan.kernel.clock import VN_TZ

web = pages.web  # the fixture: wards, the app's client and the SQL counter

HX = {"HX-Request": "true"}
_SEQ = itertools.count()


async def _patients(web: dict[str, Any], n: int, dept: str = "icu") -> list[dict[str, str]]:
    repo = web["repo"]
    out = []
    free = [b for b in await bed_map(repo, CTX, web["wards"][dept].id) if b.state == "free"]
    for bed in free[:n]:
        i = next(_SEQ)
        form = registration.RegistrationForm(
            full_name=f"Đỗ Văn Nam {'ABCDEFGHIJKLMNOP'[i % 16]}", birth_date=date(1975, 5, i % 28 + 1), sex="male"
        )
        pid = await registration.register_patient(repo, CTX, form)
        enc = await adt.admit(repo, CTX, pid, department_id=web["wards"][dept].id, bed_id=bed.id)
        code = identifier((await repo.read(CTX, "Patient", pid)).json(), systems.MA_BN) or ""
        out.append({"pid": pid, "enc": enc, "code": code})
    return out


async def test_orders_page_alert_override_and_services(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    [p] = await _patients(web, 1)
    page = await c.get(f"/orders/{p['enc']}")
    assert page.status_code == 200
    assert "Y lệnh thuốc" in page.text
    typeahead = await c.get(f"/orders/{p['enc']}/drugs", params={"drug": "amoxi"}, headers=HX)
    assert 'id="drug-list"' in typeahead.text
    assert "DEMO.0003 Amoxicillin 500mg" in typeahead.text
    allergy = await c.post(f"/orders/{p['enc']}/allergies", data={"substance": "Amoxicillin"})
    assert allergy.status_code == 303
    form = {"drug": "DEMO.0003 Amoxicillin 500mg (demo)", "frequency": "ngày 3 lần", "dose": "1"}
    alerted = await c.post(f"/orders/{p['enc']}/medications", data=form)
    assert alerted.status_code == 422
    key = re.search(r'name="(override_ALGY_0)"', alerted.text)
    assert key is not None
    assert 'data-testid="order-alerts"' in alerted.text
    assert 'value="ngày 3 lần"' in alerted.text  # the form keeps what was typed
    saved = await c.post(f"/orders/{p['enc']}/medications", data={**form, key.group(1): "Bệnh nhân đã dùng không sao"})
    assert saved.status_code == 303
    bad = await c.post(
        f"/orders/{p['enc']}/medications", data={"drug": "DEMO.0001", "frequency": "ngày 2 lần", "dose": "abc"}
    )
    assert bad.status_code == 422
    assert 'id="m-dose" class="msg" role="alert">Liều phải là số dương.' in bad.text
    svc = await c.post(
        f"/orders/{p['enc']}/services",
        data={"panel": "cong-thuc-mau-crp", "service": "DEMO.CD01 Chụp X-quang ngực thẳng", "priority": "stat"},
    )
    assert svc.status_code == 303
    page = await c.get(f"/orders/{p['enc']}")
    assert page.text.count('data-testid="med-order"') == 1
    assert "Chụp X-quang ngực thẳng" in page.text
    assert "Số accession" in page.text
    req_id = (await orders.encounter_medications(web["repo"], CTX, p["enc"]))[0].id
    edit = await c.get(f"/orders/{p['enc']}/medications/{req_id}/edit")
    assert f'name="replaces" value="{req_id}"' in edit.text
    stopped = await c.post(f"/orders/{p['enc']}/medications/{req_id}/stop", data={"reason": "Hết chỉ định"})
    assert stopped.status_code == 303


async def test_summary_page_changes_and_query_budget(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    repo, dept = web["repo"], web["wards"]["icu"].id
    first = await _patients(web, 1)
    # Ordered at the start of today (Vietnam time): every dose of today is still due, whatever the hour the
    # test runs at (ordered "now" after the evening dose, today held no dose and the disclosure no line).
    start = datetime.combine(today_vn(), time(0, 5), VN_TZ)
    await orders.order_medication(
        repo, CTX, first[0]["enc"], orders.MedicationOrderInput("DEMO.0001", "sáng 1 viên, tối 1 viên"), now=start
    )
    url = f"/summary?dept={dept}"
    resp, one = await _count(web, url)
    assert resp.status_code == 200
    assert "Chưa lập phiếu" in resp.text
    gen = await c.post("/summary/generate", data={"dept": dept, "date": f"{today_vn():%d/%m/%Y}"})
    assert gen.status_code == 303
    more = await _patients(web, 3)
    for p in more:
        for code in ("DEMO.0005", "DEMO.0009"):
            await orders.order_medication(
                repo, CTX, p["enc"], orders.MedicationOrderInput(code, "ngày 2 lần", dose="1"), now=start
            )
    resp, many = await _count(web, url)
    assert resp.status_code == 200
    assert resp.text.count('data-testid="summary-patient"') == 4
    assert resp.text.count('data-testid="change-new"') >= 6  # listed in the changes box and on each line
    assert 'data-testid="total-DEMO.0001"' in resp.text
    assert many == one, web["counter"].queries  # reading the snapshot costs the same whether it exists or not
    assert many <= BUDGETS["summary"], f"summary: {many} queries > budget {BUDGETS['summary']}"
    disclosure = await c.get(f"/summary/disclosure/{first[0]['enc']}")
    assert disclosure.status_code == 200
    assert "Paracetamol 500mg (demo)" in disclosure.text


async def test_emar_scan_give_and_wrong_patient(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    repo, dept = web["repo"], web["wards"]["icu"].id
    a, b = await _patients(web, 2)
    await orders.order_medication(
        repo, CTX, a["enc"], orders.MedicationOrderInput("DEMO.0001", "khi sốt, tối đa 4 lần/ngày", dose="1")
    )
    listing = await c.get(f"/emar?dept={dept}")
    assert listing.status_code == 200
    assert listing.text.count('data-testid="emar-row"') == 2
    unknown = await c.post("/emar/scan", data={"dept": dept, "scan": "000"})
    assert unknown.status_code == 422
    assert "Không tìm thấy bệnh nhân" in unknown.text
    scanned = await c.post("/emar/scan", data={"dept": dept, "scan": a["code"]})
    assert scanned.status_code == 303
    assert scanned.headers["location"] == f"/emar/{a['enc']}?scan={a['code']}"
    page = await c.get(scanned.headers["location"])
    assert 'data-testid="identified"' in page.text
    dose = re.search(r'name="dose" value="([^"]+)"', page.text)
    assert dose is not None
    wrong = await c.post(
        f"/emar/{a['enc']}/give", data={"dose": dose.group(1), "scanned_patient": b["code"], "outcome": "given"}
    )
    assert wrong.status_code == 422
    assert "SAI BỆNH NHÂN" in wrong.text
    ok = await c.post(
        f"/emar/{a['enc']}/give",
        data={"dose": dose.group(1), "scanned_patient": a["code"], "scanned_drug": "DEMO.0001", "outcome": "given"},
    )
    assert ok.status_code == 303
    admins = await repo.search_json(CTX, "MedicationAdministration", [("subject", f"Patient/{a['pid']}")])
    assert len(admins) == 1
    vit = await c.post(
        f"/emar/{a['enc']}/vitals",
        data={
            "pulse": "88",
            "systolic": "120",
            "diastolic": "70",
            "temperature": "37",
            "respiration": "16",
            "spo2": "97",
            "consciousness": "A",
        },
    )
    assert vit.status_code == 303
    assert "NEWS2: <b>0</b>" in (await c.get(f"/emar/{a['enc']}")).text
    band = await c.get(f"/papers/wristband/{a['pid']}")
    assert band.status_code == 200
    assert "<svg" in band.text
    assert f'data-code="{a["code"]}"' in band.text


@pytest.mark.parametrize("confirm", [False, True])
async def test_discharge_paper_page(web: dict[str, Any], confirm: bool, db: asyncpg.Pool) -> None:
    c: httpx.AsyncClient = web["client"]
    [p] = await _patients(web, 1)
    await service_orders.order_care(web["repo"], CTX, p["enc"], diet="chao")
    form_page = await c.get(f"/papers/discharge/{p['enc']}")
    assert form_page.status_code == 200
    assert "Giấy ra viện" in form_page.text
    data = {
        "patient_id": p["pid"],
        "admission_codes": "J18.9",
        "discharge_codes": "J18.9",
        "treatment": "Kháng sinh 7 ngày",
        "discharge_type": "recovered",
        "follow_up": "01/01/2000",
    }
    if confirm:
        data["confirm_patient"] = "1"
    resp = await c.post(f"/papers/discharge/{p['enc']}", data=data)
    assert resp.status_code == 422
    assert ("Ngày hẹn đã qua" if confirm else 'id="m-confirm_patient"') in resp.text
    if confirm:
        data["follow_up"] = ""
        done = await c.post(f"/papers/discharge/{p['enc']}", data=data)
        assert done.status_code == 303
        printed = await c.get(done.headers["location"])
        assert 'data-testid="discharge-paper"' in printed.text
        assert "Khỏi, ra viện" in printed.text
        summary_page = await c.get(f"/papers/summary/{p['enc']}")
        assert summary_page.status_code == 200
        assert "Tóm tắt bệnh án" in summary_page.text
        # issue 4: printing is audited (the discharge paper and the transfer summary of this stay)
        printed_rows = await audit_rows(db, action="print", patient_id=p["pid"])
        assert [r["entity"] for r in printed_rows] == [[f"Encounter/{p['enc']}"]] * 2
        assert (await summary.daily_summary(web["repo"], CTX, web["wards"]["icu"].id, today_vn())).patients == []
