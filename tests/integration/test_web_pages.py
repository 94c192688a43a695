"""The web app through the ASGI app: pages render, HTMX partials, messages at the field, and the SQL query
budget of each page (NetBox habit: a committed baseline in ``web_query_budgets.json``)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import httpx
import pytest

from benhan.clinical import adt, diagnoses, facility, registration, vitals
from benhan.clinical.demo_wards import create_demo_wards
from benhan.kernel.context import RequestContext

CTX = RequestContext.system("test")
QR = "001090001234|123456789|Nguyễn Văn An|01021990|Nam|12 Hàng Bài, Hoàn Kiếm, Hà Nội|15082021"
BUDGETS = json.loads((Path(__file__).parent / "web_query_budgets.json").read_text())
HX = {"HX-Request": "true"}


#: Transaction control and the searches' settings (custom plans and timeout, set in the session or with SET
#: LOCAL: kernel.db.custom_plans) are bookkeeping, not queries: the budgets count statements that read or
#: write data, which is what grows when a page does one query per row.  Each search also asks once whether a
#: Consent opt-out applies to the viewer (storage.pg.access_sql.consent_applies): board 2 searches → 4.
BOOKKEEPING = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET LOCAL", "SET PLAN_CACHE_MODE",
               "RESET PLAN_CACHE_MODE")


class CountingPool:
    """Counts the data statements sent through the app's pool (asyncpg query loggers)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.queries: list[str] = []

    def _log(self, record: Any) -> None:
        query = str(record.query).lstrip()
        if not query.upper().startswith(BOOKKEEPING):
            self.queries.append(query)

    async def clear(self) -> None:
        """Forget what was counted so far.  asyncpg calls query loggers with ``loop.call_soon`` after each
        statement, so the last statements' calls may still be pending (a release needs no await): they run
        first."""
        await asyncio.sleep(0)
        self.queries.clear()

    async def counted(self) -> list[str]:
        """The data statements counted since :meth:`clear`, once the pending logger calls have run."""
        await asyncio.sleep(0)
        return list(self.queries)

    def acquire(self) -> _Acquire:
        return _Acquire(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class _Acquire:
    def __init__(self, owner: CountingPool) -> None:
        self.owner = owner
        self.conn: Any = None

    async def __aenter__(self) -> Any:
        self.conn = await self.owner._pool.acquire()
        self.conn.add_query_logger(self.owner._log)
        return self.conn

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.conn.remove_query_logger(self.owner._log)
        await self.owner._pool.release(self.conn)


@pytest.fixture
async def web(app: Any, client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    repo = app.state.repo
    wards = await create_demo_wards(repo, CTX)
    counter = CountingPool(repo.pool)
    repo.pool = counter
    yield {"repo": repo, "wards": wards, "client": client, "counter": counter}
    repo.pool = counter._pool


async def _admitted(repo: Any, wards: dict[str, facility.Department], n: int = 1) -> list[tuple[str, str]]:
    """``n`` more patients admitted to free ICU beds, each with a diagnosis and a calm set of vital signs."""
    out = []
    free = [b for b in await facility.bed_map(repo, CTX, wards["icu"].id) if b.state == "free"]
    for bed in free[:n]:
        form = registration.RegistrationForm(
            full_name=f"Lê Thị Mai {'ABCDEF'[int(bed.name[-1]) - 1]}",
            birth_date=date(1970, 1, int(bed.name[-1])),
            sex="female",
        )
        pid = await registration.register_patient(repo, CTX, form)
        enc = await adt.admit(repo, CTX, pid, department_id=wards["icu"].id, bed_id=bed.id)
        await diagnoses.add_diagnosis(repo, CTX, enc, "J18.9", main=True)
        calm = {"pulse": 80, "systolic": 120, "diastolic": 80, "temperature": 37, "respiration": 16, "spo2": 98}
        await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput(calm))
        out.append((pid, enc))
    return out


async def _count(web: dict[str, Any], url: str, **kw: Any) -> tuple[httpx.Response, int]:
    await web["counter"].clear()
    resp = await web["client"].get(url, **kw)
    return resp, len(await web["counter"].counted())


async def test_reception_search_qr_register_flow(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    page = await c.get("/reception")
    assert page.status_code == 200
    assert "Tiếp đón" in page.text
    assert 'lang="vi"' in page.text
    filled = await c.post("/reception/qr", data={"qr": QR}, headers=HX)
    assert filled.status_code == 200
    assert 'value="Nguyễn Văn An"' in filled.text
    assert 'value="01/02/1990"' in filled.text
    assert "<html" not in filled.text  # the partial only
    bad = await c.post("/reception/qr", data={"qr": "hello"}, headers=HX)
    assert "CCCD" in bad.text
    assert "alert-error" in bad.text
    wrong = await c.post(
        "/reception/register",
        data={"full_name": "Nguyễn Văn An", "birth_date": "31/02/1990", "sex": "male"},
        headers=HX,
    )
    assert wrong.status_code == 422
    assert 'value="31/02/1990"' in wrong.text
    assert "dd/mm/yyyy" in wrong.text
    form = {"full_name": "Nguyễn Văn An", "birth_date": "01/02/1990", "sex": "male", "cccd": "001090001234"}
    done = await c.post("/reception/register", data=form, headers=HX)
    assert done.status_code == 204
    assert done.headers["HX-Redirect"].startswith("/reception/patients/")
    again = await c.post("/reception/register", data=form, headers=HX)
    assert again.status_code == 422
    assert 'data-testid="duplicates"' in again.text
    found = await c.get("/reception/search", params={"q": "nguyen van"}, headers=HX)
    assert "Nguyễn Văn An" in found.text
    assert "01/02/1990" in found.text
    start = await c.get(done.headers["HX-Redirect"])
    assert start.status_code == 200
    assert 'data-testid="patient-banner"' in start.text


async def test_language_switch_to_english(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    switched = await c.get("/lang/en", params={"next": "/reception"})
    assert switched.status_code == 303
    c.cookies.set("lang", "en")
    page = await c.get("/reception")
    assert "Reception" in page.text
    assert "Tiếp đón" not in page.text
    assert 'lang="en"' in page.text
    assert (await c.get("/lang/en", params={"next": "//evil.example"})).headers["location"] == "/"


async def test_admit_transfer_discharge_pages(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    repo, wards = web["repo"], web["wards"]
    pid = await registration.register_patient(repo, CTX, registration.form_from_qr(QR)[0])
    page = await c.get("/adt/admit", params={"patient": pid, "dept": wards["icu"].id})
    assert page.status_code == 200
    assert "Giường 1" in page.text
    bed = re.search(r'name="bed_id" value="([^"]+)"', page.text)
    assert bed is not None
    form = {"patient_id": pid, "dept": wards["icu"].id, "bed_id": bed.group(1)}
    refused = await c.post("/adt/admit", data=form)
    assert refused.status_code == 422
    assert 'id="m-confirm_patient"' in refused.text
    assert "has-error" in refused.text
    ok = await c.post("/adt/admit", data={**form, "confirm_patient": "1"})
    assert ok.status_code == 303
    chart = await c.get(ok.headers["location"])
    assert "Khoa Hồi sức tích cực · Giường 1" in chart.text
    enc = re.search(r"/adt/transfer/([^\"]+)\"", chart.text)
    assert enc is not None
    t_page = await c.get(f"/adt/transfer/{enc.group(1)}", params={"dept": wards["medicine"].id})
    new_bed = re.search(r'name="bed_id" value="([^"]+)"', t_page.text)
    assert new_bed is not None
    moved = await c.post(
        f"/adt/transfer/{enc.group(1)}",
        data={"patient_id": pid, "dept": wards["medicine"].id, "bed_id": new_bed.group(1), "confirm_patient": "1"},
    )
    assert moved.status_code == 303
    beds = await c.get("/adt/beds", params={"dept": wards["icu"].id}, headers=HX)
    assert "Đang dọn" in beds.text
    assert "<html" not in beds.text
    other = await registration.register_patient(
        repo,
        CTX,
        registration.RegistrationForm(
            full_name="Phạm Văn Bình", birth_date=registration.parse_vn_date("02/03/1980"), sex="male"
        ),
    )
    wrong = await c.post(
        f"/adt/discharge/{enc.group(1)}",
        data={"patient_id": other, "confirm_patient": "1", "discharge_type": "recovered"},
    )
    assert wrong.status_code == 422
    out = await c.post(
        f"/adt/discharge/{enc.group(1)}",
        data={"patient_id": pid, "confirm_patient": "1", "discharge_type": "recovered"},
    )
    assert out.status_code == 303
    assert (await repo.read(CTX, "Encounter", enc.group(1))).json()["status"] == "finished"


async def test_chart_writes_with_messages_at_the_field(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    [(pid, enc)] = await _admitted(web["repo"], web["wards"])
    base = {"patient_id": pid, "encounter_id": enc}
    typeahead = await c.get("/icd10", params={"code": "viem phoi"}, headers=HX)
    assert "J18" in typeahead.text
    bad = await c.post(f"/patients/{pid}/vitals", data={**base, "temperature": "375", "pulse": "8o"}, headers=HX)
    assert bad.status_code == 422
    assert 'value="375"' in bad.text
    assert 'value="8o"' in bad.text
    assert 'id="m-v-temperature" class="msg" role="alert">Nhiệt độ 375' in bad.text
    unusual = await c.post(f"/patients/{pid}/vitals", data={**base, "pulse": "190"}, headers=HX)
    assert unusual.status_code == 422
    assert 'name="confirmed"' in unusual.text
    sick = {
        "pulse": "125",
        "systolic": "95",
        "diastolic": "60",
        "temperature": "39,2",
        "respiration": "26",
        "spo2": "91",
        "on_oxygen": "1",
        "consciousness": "A",
    }
    saved = await c.post(f"/patients/{pid}/vitals", data={**base, **sick}, headers=HX)
    assert saved.status_code == 200
    assert "band-red" in saved.text
    assert 'id="vitals"' in saved.text
    dx = await c.post(f"/patients/{pid}/diagnoses", data={**base, "code": "I10 Tăng huyết áp"}, headers=HX)
    assert dx.status_code == 200
    assert "I10" in dx.text
    note = await c.post(
        f"/patients/{pid}/notes", data={**base, "progress": "Khó thở tăng", "orders": "Thở oxy"}, headers=HX
    )
    assert note.status_code == 200
    assert "Khó thở tăng" in note.text
    forged = await c.post(
        f"/patients/{pid}/notes", data={"patient_id": "other", "encounter_id": enc, "progress": "x"}, headers=HX
    )
    assert forged.status_code == 422
    missing = await c.get("/patients/does-not-exist")
    assert missing.status_code == 404
    assert "BH-2002" in missing.text


async def test_board_alerts_and_new_marks(web: dict[str, Any]) -> None:
    c: httpx.AsyncClient = web["client"]
    repo, wards = web["repo"], web["wards"]
    [(_pid, enc), _second] = await _admitted(repo, wards, 2)
    page = await c.get("/board", params={"dept": wards["icu"].id})
    assert page.status_code == 200
    assert page.text.count('data-testid="board-row"') == 2
    assert 'hx-trigger="every 20s"' in page.text
    assert 'data-testid="board-alert"' not in page.text
    sick = {"pulse": 135, "systolic": 88, "diastolic": 50, "temperature": 39.5, "respiration": 28, "spo2": 90}
    await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput(sick, on_oxygen=True), confirmed=True)
    poll = await c.get("/board", params={"dept": wards["icu"].id}, headers=HX)
    assert "<html" not in poll.text
    assert 'data-testid="board-alert"' in poll.text
    assert poll.text.count("tag-new") == 1  # the cookie set on the first look marks only the changed row


@pytest.mark.parametrize("page", ["board", "chart"])
async def test_query_budget(web: dict[str, Any], page: str) -> None:
    """The chart and the board cost a fixed number of SQL statements whatever the number of patients."""
    repo, wards = web["repo"], web["wards"]
    small = await _admitted(repo, wards, 1)
    url = f"/board?dept={wards['icu'].id}" if page == "board" else f"/patients/{small[0][0]}"
    resp, one = await _count(web, url)
    assert resp.status_code == 200
    more = await _admitted(repo, wards, 3) if page == "board" else small
    if page == "chart":
        for _ in range(5):
            await vitals.record_vitals(repo, CTX, small[0][1], vitals.VitalsInput({"pulse": 90, "spo2": 97}))
    resp, many = await _count(web, url)
    assert resp.status_code == 200
    assert len(more) >= 1
    assert many == one, web["counter"].queries
    assert many <= BUDGETS[page], f"{page}: {many} queries > budget {BUDGETS[page]}"
