"""Plain request/response values passed between the ASGI adapter and the router."""

from __future__ import annotations

from dataclasses import dataclass, field

from benhan.kernel.context import RequestContext

FHIR_JSON = "application/fhir+json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class FhirRequest:
    method: str
    #: path below the FHIR base, split on "/" (no empty parts)
    parts: tuple[str, ...]
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str
    ctx: RequestContext

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class FhirResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = FHIR_JSON
