"""Search interactions (FHIR R4 search.html) — wired to the search engine."""

from __future__ import annotations

from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.errors import BenhanError, ErrorCode


async def search_type(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "search is not wired yet")


async def search_post(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "search is not wired yet")


async def search_system(req: FhirRequest, repo: Repository) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "search is not wired yet")


async def compartment(req: FhirRequest, repo: Repository, patient_id: str, type_: str) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "search is not wired yet")


async def type_operation(req: FhirRequest, repo: Repository, type_: str, op: str) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{op} is not supported on {type_}")


async def instance_operation(req: FhirRequest, repo: Repository, type_: str, id_: str, op: str) -> FhirResponse:
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{op} is not supported on {type_}")
