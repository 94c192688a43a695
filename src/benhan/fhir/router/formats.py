"""Content negotiation, ``_pretty``, ``_summary``/``_elements`` and ``Prefer`` handling (FHIR R4 http.html)."""

from __future__ import annotations

from typing import Any

import orjson

from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.kernel.errors import BenhanError, ErrorCode, operation_outcome

JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir", "json", "text/json"}
ANY_TYPES = {"*/*", "application/*", ""}
# Formats a FHIR client may ask for that this server does not produce: answer 406 (http.html#mime-type).
KNOWN_OTHER = {"xml", "ttl", "html", "text/html", "application/fhir+xml", "application/xml", "text/xml",
               "application/fhir+turtle", "text/turtle", "application/xml+fhir"}


def _media(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def check_accept(req: FhirRequest) -> None:
    """JSON only: an explicit request for XML/Turtle gets 406 with an OperationOutcome."""
    fmt = req.param("_format")
    if fmt is not None:
        if _media(fmt) not in JSON_TYPES:
            raise BenhanError(ErrorCode.NOT_ACCEPTABLE, f"_format={fmt} is not supported; use json")
        return
    accept = req.header("accept") or ""
    if not accept:
        return
    offered = [_media(a) for a in accept.split(",")]
    if any(m in JSON_TYPES or m in ANY_TYPES for m in offered):
        return
    raise BenhanError(ErrorCode.NOT_ACCEPTABLE, f"Accept: {accept} is not supported; use application/fhir+json")


def media_type(req: FhirRequest) -> str:
    """The request's Content-Type without parameters, lower case ("" when absent)."""
    return _media(req.header("content-type") or "")


def check_content_type(req: FhirRequest, allowed: set[str] | None = None) -> None:
    ctype = _media(req.header("content-type") or "")
    if ctype and ctype not in (allowed or JSON_TYPES):
        raise BenhanError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {ctype} is not supported")


def parse_json_body(req: FhirRequest) -> dict[str, Any]:
    if not req.body.strip():
        raise BenhanError(ErrorCode.MISSING_BODY)
    try:
        data = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BenhanError(ErrorCode.MALFORMED_JSON, f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BenhanError(ErrorCode.INVALID_RESOURCE, "The body must be a JSON object (a FHIR resource)")
    return data


def is_pretty(req: FhirRequest) -> bool:
    return (req.param("_pretty") or "").lower() == "true"


def render(req: FhirRequest, status: int, body: bytes, headers: dict[str, str] | None = None) -> FhirResponse:
    if is_pretty(req) and body:
        body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    return FhirResponse(status, body, headers or {})


def render_obj(
    req: FhirRequest, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None
) -> FhirResponse:
    option = orjson.OPT_INDENT_2 if is_pretty(req) else 0
    return FhirResponse(status, orjson.dumps(obj, option=option), headers or {})


def shape(req: FhirRequest, content: bytes) -> bytes:
    """Apply ``_summary`` and ``_elements`` to a single resource (search.html#summary, #elements)."""
    summary = req.param("_summary")
    elements = req.param("_elements")
    if not summary and not elements:
        return content
    from benhan.fhir.model.shaping import apply_elements, apply_summary

    data = orjson.loads(content)
    if summary and summary != "false":
        data = apply_summary(data, summary)
    if elements:
        data = apply_elements(data, [e.strip() for e in elements.split(",") if e.strip()])
    return orjson.dumps(data)


def prefer_return(req: FhirRequest) -> str:
    prefer = req.header("prefer") or ""
    for part in prefer.split(";"):
        part = part.strip()
        if part.startswith("return="):
            return part.split("=", 1)[1].strip()
    return "representation"


def write_response(
    req: FhirRequest, status: int, content: bytes, headers: dict[str, str], message: str
) -> FhirResponse:
    """Honour ``Prefer: return=minimal|representation|OperationOutcome`` (http.html#ops)."""
    mode = prefer_return(req)
    if mode == "minimal":
        return FhirResponse(status, b"", headers, content_type=None)
    if mode == "OperationOutcome":
        outcome = operation_outcome(None, message, "informational", severity="information")
        return render_obj(req, status, outcome, headers)
    return render(req, status, content, headers)
