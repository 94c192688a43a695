"""Stable error codes and their mapping to FHIR OperationOutcome.

Every error a client can see is a :class:`BenhanError` with a stable code ``BH-nnnn``
(documented in docs/errors.md) and the HTTP status the FHIR spec asks for
(FHIR R4 http.html#summary "HTTP Status Codes").  One place turns them into an
OperationOutcome, so no stack trace ever reaches a client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ErrorCode(Enum):
    """(code, HTTP status, FHIR IssueType, short English meaning)."""

    MALFORMED_JSON = ("BH-1001", 400, "structure", "The body is not valid JSON")
    INVALID_RESOURCE = ("BH-1002", 400, "structure", "The resource does not conform to FHIR R4")
    RESOURCE_TYPE_MISMATCH = ("BH-1003", 400, "invalid", "resourceType does not match the URL")
    ID_MISMATCH = ("BH-1004", 400, "invalid", "The id in the body does not match the URL")
    BODY_TOO_LARGE = ("BH-1005", 413, "too-costly", "The request body is larger than allowed")
    INVALID_ID = ("BH-1006", 400, "value", "The id is not a valid FHIR id")
    MISSING_BODY = ("BH-1007", 400, "required", "A request body is required")
    INVALID_PARAMETER = ("BH-1008", 400, "invalid", "A request parameter is not valid")
    INVALID_PATCH = ("BH-1009", 400, "invalid", "The patch document is not valid")
    PATCH_FAILED = ("BH-1010", 422, "processing", "The patch could not be applied")
    UNPROCESSABLE = ("BH-1011", 422, "processing", "The resource failed a business rule")
    INVALID_BUNDLE = ("BH-1012", 400, "invalid", "The Bundle is not a valid batch or transaction")
    UNKNOWN_SEARCH_PARAMETER = ("BH-1013", 400, "not-supported", "Unknown or unsupported search parameter")
    INVALID_FHIRPATH_PATCH = ("BH-1040", 400, "invalid", "The FHIRPath Patch Parameters are not valid")
    FHIRPATH_UNSUPPORTED = ("BH-1041", 400, "not-supported", "Unsupported FHIRPath in a patch path")
    PATCH_PATH_NO_MATCH = ("BH-1042", 422, "processing", "The patch path matches no element")
    PATCH_PATH_AMBIGUOUS = ("BH-1043", 422, "multiple-matches", "The patch path matches more than one element")
    PATCH_INDEX_OUT_OF_RANGE = ("BH-1044", 422, "processing", "The patch index is outside the list")
    PATCH_TYPE_MISMATCH = ("BH-1045", 422, "processing", "The patch value or target has the wrong type")
    PATCH_RESULT_INVALID = ("BH-1047", 422, "processing", "The patched resource does not conform to FHIR R4")
    UNSUPPORTED_SEARCH_MODIFIER = ("BH-1046", 400, "not-supported", "The search modifier is not supported here")
    EXPORT_NOT_SUPPORTED = ("BH-1060", 400, "not-supported", "The bulk export request or parameter is not supported")
    UNKNOWN_RESOURCE_TYPE = ("BH-2001", 404, "not-supported", "Unknown resource type")
    NOT_FOUND = ("BH-2002", 404, "not-found", "The resource was not found")
    VERSION_NOT_FOUND = ("BH-2003", 404, "not-found", "The resource version was not found")
    GONE = ("BH-2004", 410, "deleted", "The resource has been deleted")
    METHOD_NOT_ALLOWED = ("BH-2005", 405, "not-supported", "This interaction is not supported here")
    NOT_ACCEPTABLE = ("BH-2006", 406, "not-supported", "Only FHIR JSON is supported")
    UNSUPPORTED_MEDIA_TYPE = ("BH-2007", 415, "not-supported", "Only FHIR JSON bodies are supported")
    VERSION_CONFLICT = ("BH-3001", 412, "conflict", "If-Match does not match the current version")
    CONFLICT = ("BH-3002", 409, "conflict", "The request conflicts with the current state")
    MULTIPLE_MATCHES = ("BH-3003", 412, "multiple-matches", "The conditional request matched more than one")
    VERSION_REQUIRED = ("BH-3004", 428, "conflict", "This server requires If-Match for this interaction")
    UNAUTHENTICATED = ("BH-4001", 401, "login", "Authentication is required")
    FORBIDDEN = ("BH-4003", 403, "forbidden", "Access is denied")
    INTERNAL = ("BH-5000", 500, "exception", "An internal error occurred")
    DATABASE_UNAVAILABLE = ("BH-5001", 503, "transient", "The database is not available")
    EXPORT_FAILED = ("BH-5002", 500, "exception", "The bulk export job failed")
    SEARCH_TOO_COSTLY = ("BH-5003", 503, "too-costly", "The search ran longer than BENHAN_SEARCH_TIMEOUT allows")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def status(self) -> int:
        return self.value[1]

    @property
    def issue_type(self) -> str:
        return self.value[2]

    @property
    def meaning(self) -> str:
        return self.value[3]


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    code: str
    message: str
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def to_fhir(self, error_code: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if error_code:
            out["details"] = {
                "coding": [{"system": "https://benhan.vn/fhir/CodeSystem/error", "code": error_code}],
                "text": self.message,
            }
        out["diagnostics"] = self.message
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass
class BenhanError(Exception):
    """An error with a stable code, shown to clients as an OperationOutcome."""

    error: ErrorCode
    message: str = ""
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message:
            self.message = self.error.meaning
        super().__init__(f"{self.error.code}: {self.message}")

    @property
    def status(self) -> int:
        return self.error.status

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.error.code, self.message, self.error.issue_type, self.issues)


def operation_outcome(
    code: str | None, message: str, issue_type: str = "processing", issues: list[Issue] | None = None,
    severity: str = "error",
) -> dict[str, Any]:
    """Build an OperationOutcome (FHIR R4 operationoutcome.html)."""
    rendered = [Issue(issue_type, message, severity).to_fhir(code)]
    rendered.extend(i.to_fhir(code) for i in issues or [])
    return {"resourceType": "OperationOutcome", "issue": rendered}


def all_codes() -> list[ErrorCode]:
    return list(ErrorCode)
