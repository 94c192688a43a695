"""Form parsing shared by the routes: text values as typed (kept on errors) and messages per field."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from benhan.clinical.records import ClinicalError, NeedsConfirmation
from benhan.web.templating import language


async def form_of(request: Request) -> dict[str, str]:
    data: FormData = await request.form()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def errors_of(request: Request, exc: ClinicalError) -> dict[str, str]:
    """Messages by field in the user's language; messages for the whole form under ``""``; ``_confirm`` set
    when the action may go ahead once confirmed (the page then shows the confirmation box)."""
    out = exc.by_field(language(request))
    if isinstance(exc, NeedsConfirmation):
        out["_confirm"] = "1"
    return out


def needs_confirmation(exc: ClinicalError) -> bool:
    return isinstance(exc, NeedsConfirmation)


def checked(form: dict[str, str], name: str) -> bool:
    return form.get(name) in ("1", "on", "true", "yes")
