"""What every operation handler shares: the request it reads, the result it returns, parameter parsing.

Operations sit beside the router in the layering (``router | operations`` in pyproject's import-linter
contract), so they do not import it: a handler reads any request shaped like
``benhan.fhir.router.types.FhirRequest`` (:class:`OpRequest`) and returns an :class:`OperationResult`
that the router renders. FHIR R4 operations.html#request: inputs come from the query string (GET, or
POST form) or from a ``Parameters`` body (POST).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

JsonObj = dict[str, Any]


class OpRequest(Protocol):
    """The parts of a FHIR request an operation reads (``FhirRequest`` satisfies it)."""

    @property
    def method(self) -> str: ...

    @property
    def query(self) -> list[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...

    @property
    def ctx(self) -> RequestContext: ...


@dataclass(frozen=True, slots=True)
class OperationResult:
    """HTTP status and the resource to send (Parameters, ValueSet, OperationOutcome …)."""

    status: int
    resource: JsonObj


#: (request, repository, instance id or None) -> result
Handler = Callable[[OpRequest, Repository, "str | None"], Awaitable[OperationResult]]


@dataclass(slots=True)
class OpParams:
    """Operation inputs by name: strings from the query, strings or objects from a Parameters body."""

    values: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.values.setdefault(name, []).append(value)

    def text(self, name: str) -> str | None:
        for value in self.values.get(name, []):
            if isinstance(value, str) and value != "":
                return value
            if isinstance(value, bool | int | float):
                return str(value).lower() if isinstance(value, bool) else str(value)
        return None

    def obj(self, name: str) -> JsonObj | None:
        for value in self.values.get(name, []):
            if isinstance(value, dict):
                return value
        return None

    def integer(self, name: str, default: int, *, low: int = 0, high: int = 10_000) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name} must be an integer, not {raw!r}") from None
        if not low <= value <= high:
            raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name} must be between {low} and {high}")
        return value

    def flag(self, name: str) -> bool:
        return (self.text(name) or "").lower() == "true"


def read_params(req: OpRequest) -> OpParams:
    """Merge query parameters and, for POST, a Parameters body (FHIR R4 parameters.html)."""
    params = OpParams()
    for key, value in req.query:
        if not key.startswith("_"):
            params.add(key, value)
    if req.method == "POST" and req.body.strip():
        try:
            body = orjson.loads(req.body)
        except orjson.JSONDecodeError:
            raise BenhanError(ErrorCode.MALFORMED_JSON, "The body is not valid JSON") from None
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise BenhanError(ErrorCode.INVALID_PARAMETER, "POST to an operation takes a Parameters resource")
        for entry in body.get("parameter") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                params.add(entry["name"], _param_value(entry))
    return params


def _param_value(entry: JsonObj) -> Any:
    if "resource" in entry:
        return entry["resource"]
    for key, value in entry.items():
        if key.startswith("value"):
            return value
    return None


def parameters(*parts: tuple[str, Any]) -> JsonObj:
    """A Parameters resource from (name, value) pairs: str → valueString, bool → valueBoolean, dict with
    ``part`` → nested, other dicts as they are (already ``{"valueX": ...}``)."""
    rendered = [param(name, value) for name, value in parts if value is not None]
    return {"resourceType": "Parameters", "parameter": rendered}


def param(name: str, value: Any) -> JsonObj:
    if isinstance(value, bool):
        return {"name": name, "valueBoolean": value}
    if isinstance(value, str):
        return {"name": name, "valueString": value}
    if isinstance(value, int):
        return {"name": name, "valueInteger": value}
    if isinstance(value, list):
        return {"name": name, "part": [param(n, v) for n, v in value if v is not None]}
    if isinstance(value, dict):
        return {"name": name, **value}
    raise TypeError(f"cannot render parameter {name!r} of type {type(value).__name__}")
