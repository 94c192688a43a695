"""Facility catalogues (issues 5 and 7) against real PostgreSQL: ``benhan catalogue import`` (stored and versioned;
an invalid row stores nothing), the import screen (who may use it, the per-row report), the type-ahead through
``ValueSet/$expand``, and orders that only accept the drugs of the facility treating the patient."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.access_support import SYSTEM, add_user, build_province, session_client
from typer.testing import CliRunner

from benhan.access.roles import Grant
from benhan.clinical import adt, orders, registration
from benhan.clinical.demo_wards import create_demo_wards
from benhan.clinical.facility import bed_map
from benhan.clinical.records import ClinicalError
from benhan.fhir.operations.valueset_expand import expand_url
from benhan.terminology.catalogue_fhir import codesystem_url, valueset_url

HEADER = "MA_THUOC,TEN_HOAT_CHAT,TEN_THUOC,DON_VI_TINH,HAM_LUONG,DUONG_DUNG,DON_GIA\n"
VALID = HEADER + "TH.01,Paracetamol,Panadol 500mg,viên,500mg,1.01,1200\n" \
                 "TH.02,Amoxicilin,Amoxicilin 500mg,viên,500mg,1.01,2500\n" \
                 "TH.03,Sắt fumarat,Viên sắt Ferrovit,viên,162mg,1.01,1500\n"  # fmt: skip
INVALID = HEADER + 'TH.01,Paracetamol,Panadol 500mg,viên,500mg,1.01,"12,5"\nTH.03,Ibuprofen,,viên,400mg,uống qua,900\n'


def _cli(database_url: str, *args: str) -> Any:
    from benhan.cli import app
    from benhan.settings import get_settings

    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url, "BENHAN_MODE": "test"})


async def test_cli_import_stores_versions_and_refuses_invalid_rows(
    app: Any, database_url: str, tmp_path: Path
) -> None:
    repo = app.state.repo
    prov = await build_province(repo)
    good, bad = tmp_path / "thuoc.csv", tmp_path / "thuoc-loi.csv"
    good.write_text(VALID, encoding="utf-8")
    bad.write_text(INVALID, encoding="utf-8")
    run = lambda *a: asyncio.to_thread(_cli, database_url, "catalogue", "import", *a)  # noqa: E731

    checked = await run("--facility", "02001", "--kind", "drug", "--dry-run", str(good))
    assert checked.exit_code == 0, checked.output
    assert "--dry-run" in checked.output
    stored = await repo.search_json(SYSTEM, "CodeSystem", [("url", codesystem_url("drug", prov.fac_a))])
    assert stored == []  # a dry run stores nothing

    first = await run("--facility", "02001", "--kind", "drug", str(good))
    assert first.exit_code == 0, first.output
    cs = (await repo.read(SYSTEM, "CodeSystem", f"thuoc-{prov.fac_a}")).json()
    assert [c["code"] for c in cs["concept"]] == ["TH.01", "TH.02", "TH.03"]
    assert cs["meta"]["versionId"] == "1"
    vs = (await repo.read(SYSTEM, "ValueSet", f"thuoc-{prov.fac_a}")).json()
    assert vs["compose"]["include"][0]["system"] == cs["url"]
    same = await run("--facility", "02001", "--kind", "drug", str(good))
    assert "unchanged" in same.output

    refused = await run("--facility", "02001", "--kind", "drug", str(bad))
    assert refused.exit_code == 1
    assert 'dòng/row 2, DON_GIA "12,5": Không phải số hợp lệ' in refused.output
    assert "dòng/row 3, TEN_THUOC: Thiếu giá trị bắt buộc / Required value is missing" in refused.output
    assert "Nothing stored" in refused.output
    assert (await repo.read(SYSTEM, "CodeSystem", f"thuoc-{prov.fac_a}")).version == 1

    good.write_text(VALID.replace("1200", "1300"), encoding="utf-8")
    second = await run("--facility", prov.fac_a, "--kind", "drug", str(good))
    assert second.exit_code == 0, second.output
    current = await repo.read(SYSTEM, "CodeSystem", f"thuoc-{prov.fac_a}")
    assert current.version == 2
    assert (await repo.vread(SYSTEM, "CodeSystem", f"thuoc-{prov.fac_a}", 1)).json()["concept"][0]["property"]


async def test_import_screen_permission_and_row_messages(app: Any, db: asyncpg.Pool) -> None:
    repo = app.state.repo
    prov = await build_province(repo)
    await add_user(db, repo, prov, "ds.kho", [Grant("pharmacist", prov.fac_a, None)])
    await add_user(db, repo, prov, "dd.lan", [Grant("nurse", prov.fac_a, prov.dep_a1)])
    nurse, _ = await session_client(app, "dd.lan")
    try:
        assert (await nurse.get("/catalogues")).status_code == 403
    finally:
        await nurse.aclose()
    c, csrf = await session_client(app, "ds.kho")
    try:
        page = await c.get("/catalogues")
        assert page.status_code == 200
        assert 'for="f-file"' in page.text
        files = {"file": ("thuoc-loi.csv", INVALID.encode(), "text/csv")}
        bad = await c.post("/catalogues", data={"kind": "drug", "csrf_token": csrf}, files=files)
        assert bad.status_code == 422
        assert bad.text.count('data-testid="row-error"') == 3
        assert "<td>3</td><td>TEN_THUOC</td><td></td><td>Thiếu giá trị bắt buộc</td>" in bad.text
        assert "uống qua" in bad.text  # the offending value is shown with its row and column
        assert "thuoc-loi.csv" in bad.text
        assert await repo.search_json(SYSTEM, "CodeSystem", [("url", codesystem_url("drug", prov.fac_a))]) == []
        files = {"file": ("thuoc.csv", VALID.encode(), "text/csv")}
        ok = await c.post("/catalogues", data={"kind": "drug", "csrf_token": csrf}, files=files)
        assert ok.status_code == 200
        assert 'data-testid="stored-catalogues"' in ok.text
        source = await c.get("/catalogues/drug/file")  # the file in use, to correct and import again
        assert source.status_code == 200
        assert source.content == VALID.encode()
        assert source.headers["content-disposition"] == f'attachment; filename="thuoc-{prov.fac_a}.csv"'
        empty = await c.post("/catalogues", data={"kind": "drug", "csrf_token": csrf})
        assert empty.status_code == 422
        assert "Chọn tệp .csv hoặc .xlsx." in empty.text
    finally:
        await c.aclose()


async def _stay_at(repo: Any, facility: str | None = None) -> str:
    wards = await create_demo_wards(repo, SYSTEM, facility_id=facility)
    pid = await registration.register_patient(
        repo, SYSTEM, registration.RegistrationForm(full_name="Phạm Văn Bình", birth_date=date(1968, 3, 2), sex="male")
    )
    bed = next(b for b in await bed_map(repo, SYSTEM, wards["medicine"].id) if b.state == "free")
    return await adt.admit(repo, SYSTEM, pid, department_id=wards["medicine"].id, bed_id=bed.id)


async def test_type_ahead_expands_the_facility_catalogue(client: httpx.AsyncClient, app: Any) -> None:
    repo = app.state.repo
    enc = await _stay_at(repo)
    facility = (await repo.read(SYSTEM, "Organization", (await repo.read(SYSTEM, "Encounter", enc)).json()[
        "serviceProvider"]["reference"].split("/")[1])).json()["partOf"]["reference"].split("/")[1]  # fmt: skip
    url = valueset_url("drug", facility)
    for typed, expected in (("para", "DEMO.0001"), ("amox", "DEMO.0003"), ("natri", "DEMO.0021")):
        resp = await client.get("/fhir/ValueSet/$expand", params={"url": url, "filter": typed})
        assert resp.status_code == 200, resp.text
        codes = [c["code"] for c in resp.json()["expansion"]["contains"]]
        assert expected in codes, (typed, codes)
    lookup = await client.get("/fhir/CodeSystem/$lookup", params={"system": codesystem_url("drug", facility),
                                                                  "code": "DEMO.0003"})  # fmt: skip
    assert lookup.status_code == 200
    assert any(p.get("valueString", "").startswith("Amoxicillin") for p in lookup.json()["parameter"])
    page = await client.get(f"/orders/{enc}/drugs", params={"drug": "para"}, headers={"HX-Request": "true"})
    assert 'value="DEMO.0001 Paracetamol 500mg (demo)"' in page.text
    assert 'label="Paracetamol"' in page.text  # the active ingredient, a designation of the expansion
    services = await client.get(f"/orders/{enc}/services/search", params={"service": "chup x quang"})
    assert "Chụp X-quang ngực thẳng" in services.text


async def test_orders_only_accept_the_facility_catalogue(app: Any) -> None:
    from benhan.terminology.facility_catalogues import import_catalogue

    repo = app.state.repo
    prov = await build_province(repo)
    enc = await _stay_at(repo, prov.fac_b)  # the demo wards import the demo lists: replace with the facility's own
    await import_catalogue(repo, SYSTEM, prov.fac_b, "drug", VALID.encode(), "thuoc.csv")
    with pytest.raises(ClinicalError) as refused:  # a demo drug, not in this facility's list
        await orders.order_medication(repo, SYSTEM, enc, orders.MedicationOrderInput("DEMO.0003", "ngày 2 lần"))
    assert refused.value.by_field("vi") == {"drug": "Chọn thuốc trong danh mục."}
    rid = await orders.order_medication(repo, SYSTEM, enc, orders.MedicationOrderInput("TH.01", "ngày 2 lần", dose="1"))
    req = (await repo.read(SYSTEM, "MedicationRequest", rid)).json()
    assert req["medicationCodeableConcept"]["coding"][0]["system"] == codesystem_url("drug", prov.fac_b)
    assert orders.order_view(req).drug_code == "TH.01"
    # the type-ahead's expansion of this facility's list: typed without accents, found with them
    found = await expand_url(repo, SYSTEM, valueset_url("drug", prov.fac_b), "sat fu", designations=True)
    assert [(c["code"], c["designation"][0]["value"]) for c in found["expansion"]["contains"]] == [
        ("TH.03", "Sắt fumarat")
    ]
