"""Progress notes (tờ điều trị): one Composition per entry, LOINC 11506-3, with two sections, the course of
the illness (diễn biến) and the orders (y lệnh), author and time. Orders become structured in issue 7; the
section is where they will be referenced from.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from benhan.clinical.records import PROGRESS_NOTE_LOINC, ClinicalError, FieldMessage, JsonObj, now_instant
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext

XHTML = "http://www.w3.org/1999/xhtml"
SECTION_PROGRESS = "progress"
SECTION_ORDERS = "orders"
_TAGS = re.compile(r"<[^>]+>")

#: Templates offered on the form; the text is a starting point the doctor edits.
TEMPLATES: dict[str, tuple[str, str, str]] = {
    "daily": (
        "Theo dõi hằng ngày",
        "Daily review",
        "Bệnh nhân tỉnh, tiếp xúc tốt.\nDấu hiệu sinh tồn ổn định.\nTim đều, phổi không ran.\nBụng mềm.",
    ),
    "admission": (
        "Khám vào viện",
        "Admission examination",
        "Lý do vào viện: \nBệnh sử: \nTiền sử: \nKhám toàn thân: \nKhám các cơ quan: \nTóm tắt: ",
    ),
    "worse": (
        "Diễn biến nặng",
        "Deterioration",
        "Bệnh nhân diễn biến nặng lên: \nDấu hiệu sinh tồn: \nXử trí: \nĐã báo cáo: ",
    ),
}


@dataclass(frozen=True, slots=True)
class ProgressNote:
    id: str
    date: str
    author: str
    progress: str
    orders: str


def _div(text: str) -> str:
    return f'<div xmlns="{XHTML}">{html.escape(text)}</div>'


def _plain(div: str) -> str:
    return html.unescape(_TAGS.sub("", div))


async def add_progress_note(
    repo: Repository, ctx: RequestContext, encounter_id: str, *, progress: str, orders: str = ""
) -> str:
    """Write one dated progress-note entry by the current user; returns the Composition id."""
    if not progress.strip():
        raise ClinicalError(FieldMessage("progress", "Nhập diễn biến bệnh.", "Enter the clinical course."))
    author: JsonObj = (
        {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
        if ctx.practitioner_id
        else {"display": ctx.username or "—"}
    )
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        sections = [
            {
                "title": "Diễn biến bệnh",
                "code": {"text": SECTION_PROGRESS},
                "text": {"status": "generated", "div": _div(progress.strip())},
            }
        ]
        if orders.strip():
            sections.append(
                {
                    "title": "Y lệnh",
                    "code": {"text": SECTION_ORDERS},
                    "text": {"status": "generated", "div": _div(orders.strip())},
                }
            )
        comp: JsonObj = {
            "resourceType": "Composition",
            "status": "final",
            "type": {
                "coding": [{"system": "http://loinc.org", "code": PROGRESS_NOTE_LOINC, "display": "Progress note"}],
                "text": "Tờ điều trị",
            },
            "subject": enc["subject"],
            "encounter": {"reference": f"Encounter/{encounter_id}"},
            "date": now_instant(),
            "author": [author],
            "title": "Tờ điều trị",
            "section": sections,
        }
        created = (await uow.create(ctx, comp)).resource
    return created.id


def note_of(comp: JsonObj) -> ProgressNote:
    texts = {
        str((s.get("code") or {}).get("text", "")): _plain(s.get("text", {}).get("div", ""))
        for s in comp.get("section") or []
    }
    author = ", ".join(str(a.get("display", "")) for a in comp.get("author") or [])
    return ProgressNote(
        str(comp["id"]),
        str(comp.get("date", "")),
        author,
        texts.get(SECTION_PROGRESS, ""),
        texts.get(SECTION_ORDERS, ""),
    )
