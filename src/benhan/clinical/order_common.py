"""What the order use-cases share: code systems, order numbers safe under concurrency, and the day's progress
note (tờ điều trị) that every order is written into.

Order numbers (placer order numbers, imaging accession numbers) come from a per-day counter kept as a FHIR
``Basic`` resource with a fixed id: the counter is incremented with ``If-Match`` (FHIR R4 http.html#concurrency),
so two doctors ordering at the same moment never draw the same number; the loser retries. Numbers are drawn in
their own short transaction, so a failed order leaves a gap, never a duplicate.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
from datetime import date, datetime, time

from benhan.clinical.records import BASE, PROGRESS_NOTE_LOINC, JsonObj, now_instant, parse_instant
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

INGREDIENT_SYSTEM = f"{BASE}/CodeSystem/hoat-chat"  # the active ingredient, as the catalogue names it
ROUTE_SYSTEM = f"{BASE}/CodeSystem/duong-dung"  # XML2 DUONG_DUNG
PLACER_SYSTEM = f"{BASE}/sid/so-y-lenh"  # placer order number (HL7 v2 ORC-2)
ACCESSION_SYSTEM = f"{BASE}/sid/accession"  # imaging accession number (DICOM (0008,0050), ≤ 16 characters)
REQUISITION_SYSTEM = f"{BASE}/sid/phieu-chi-dinh"  # one requisition groups the tests of a panel
ORDER_KIND_SYSTEM = f"{BASE}/CodeSystem/loai-y-lenh"  # lab | imaging | procedure | care
COUNTER_URL = f"{BASE}/StructureDefinition/counter-value"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_ATTEMPTS = 60


def _counter_id(series: str, day: date) -> str:
    return f"counter-{series}-{day:%Y%m%d}"


def _counter(series: str, day: date, value: int) -> JsonObj:
    return {
        "resourceType": "Basic",
        "code": {"coding": [{"system": f"{BASE}/CodeSystem/basic-type", "code": "counter"}], "text": series},
        "created": day.isoformat(),
        "extension": [{"url": COUNTER_URL, "valueInteger": value}],
    }


async def next_number(repo: Repository, ctx: RequestContext, series: str, day: date) -> int:
    """The next number of ``series`` on ``day`` (1, 2, …), unique even when drawn concurrently."""
    cid = _counter_id(series, day)
    for _ in range(_ATTEMPTS):
        try:
            async with repo.unit_of_work() as uow:
                try:
                    stored = await uow.read(ctx, "Basic", cid)
                except BenhanError as exc:
                    if exc.error is not ErrorCode.NOT_FOUND:
                        raise
                    await uow.create(ctx, _counter(series, day, 1), assigned_id=cid)
                    return 1
                value = int(stored.json()["extension"][0]["valueInteger"]) + 1
                await uow.update(ctx, "Basic", cid, _counter(series, day, value), if_match=stored.version)
                return value
        except BenhanError as exc:
            if exc.error is not ErrorCode.VERSION_CONFLICT:
                raise
        except Exception:
            await _counter_exists(repo, ctx, cid)
        await asyncio.sleep(random.uniform(0.001, 0.01))
    raise BenhanError(ErrorCode.CONFLICT, f"could not draw a number of {series}")


async def _counter_exists(repo: Repository, ctx: RequestContext, cid: str) -> None:
    await repo.read(ctx, "Basic", cid)  # re-raises the real problem if the counter is still missing


def local_day(when: datetime) -> date:
    return when.astimezone(VN_TZ).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), VN_TZ)


def _div(lines: list[str]) -> str:
    # One line per order, as notes.py writes its sections (the chart shows them with white-space: pre-wrap).
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(chr(10).join(lines))}</div>'


def _author(ctx: RequestContext) -> JsonObj:
    if ctx.practitioner_id:
        return {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
    return {"display": ctx.username or "—"}


def _same_author(comp: JsonObj, ctx: RequestContext) -> bool:
    mine = _author(ctx)
    return any(
        a.get("reference") == mine.get("reference") and a.get("display") == mine.get("display")
        for a in comp.get("author") or []
    )


async def write_in_day_note(
    repo: Repository, ctx: RequestContext, enc: JsonObj, refs: list[str], lines: list[str], now: datetime
) -> str:
    """Add order lines (and references to the orders) to the doctor's progress note of the day for this stay;
    starts that day's note when there is none yet. Returns the Composition id."""
    day = local_day(now)
    notes = await repo.search_json(
        ctx,
        "Composition",
        [("encounter", f"Encounter/{enc['id']}"), ("type", f"http://loinc.org|{PROGRESS_NOTE_LOINC}")],
    )
    today = [
        n
        for n in notes
        if (when := parse_instant(n.get("date"))) is not None and local_day(when) == day and _same_author(n, ctx)
    ]
    entries = [{"reference": r} for r in refs]
    if today:
        note = max(today, key=lambda n: str(n.get("date", "")))
        stored = await repo.read(ctx, "Composition", note["id"])
        comp = stored.json()
        section = next((s for s in comp.get("section") or [] if (s.get("code") or {}).get("text") == "orders"), None)
        if section is None:
            section = {"title": "Y lệnh", "code": {"text": "orders"}, "text": {"status": "generated", "div": _div([])}}
            comp.setdefault("section", []).append(section)
        old = _paragraphs(section.get("text", {}).get("div", ""))
        section["text"] = {"status": "generated", "div": _div([*old, *lines])}
        section["entry"] = [*(section.get("entry") or []), *entries]
        await repo.update(ctx, "Composition", note["id"], comp, if_match=stored.version)
        return str(note["id"])
    comp = {
        "resourceType": "Composition",
        "status": "final",
        "type": {
            "coding": [{"system": "http://loinc.org", "code": PROGRESS_NOTE_LOINC, "display": "Progress note"}],
            "text": "Tờ điều trị",
        },
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "date": now_instant(now),
        "author": [_author(ctx)],
        "title": "Tờ điều trị",
        "section": [
            {
                "title": "Diễn biến bệnh",
                "code": {"text": "progress"},
                "text": {"status": "generated", "div": _div(["(Y lệnh trong ngày)"])},
            },
            {
                "title": "Y lệnh",
                "code": {"text": "orders"},
                "text": {"status": "generated", "div": _div(lines)},
                "entry": entries,
            },
        ],
    }
    return (await repo.create(ctx, comp)).resource.id


def _paragraphs(div: str) -> list[str]:
    return [line for line in html.unescape(re.sub(r"<[^>]+>", "", div)).splitlines() if line.strip()]
