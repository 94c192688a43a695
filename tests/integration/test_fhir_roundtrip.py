"""Round trip: every R4 resource type, generated from the official definitions, is stored and read back
equal (ignoring meta and the server-assigned id).  AuditEvent is the exception: ``/fhir/AuditEvent`` is the
read-only audit log (test_access_audit_fhir.py), so writing one is refused."""

from __future__ import annotations

import httpx
import pytest

from benhan.fhir.model.examples import example_resource
from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.model.validate import validate_resource

NAMED = ["Patient", "Practitioner", "Organization", "Location", "Encounter", "Condition", "Observation",
         "MedicationRequest", "MedicationAdministration", "ServiceRequest", "DiagnosticReport", "ImagingStudy",
         "AllergyIntolerance", "Procedure", "DocumentReference", "Composition", "Coverage", "Claim", "Consent",
         "Provenance", "Bundle", "EpisodeOfCare", "Flag", "PractitionerRole", "Medication",
         "Specimen", "CarePlan", "Immunization", "ExplanationOfBenefit", "Questionnaire", "QuestionnaireResponse"]


def strip(resource: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


def test_named_types_are_r4_types() -> None:
    assert len(NAMED) >= 30
    assert set(NAMED) <= RESOURCE_TYPES


#: AuditEvent: the audit log, written only by the server (a POST answers 405, see below)
STORED = sorted(RESOURCE_TYPES - {"AuditEvent"})


async def test_audit_event_is_not_writable(client: httpx.AsyncClient) -> None:
    r = await client.post("/fhir/AuditEvent", json=example_resource("AuditEvent", seed=0),
                          headers={"content-type": "application/fhir+json"})
    assert r.status_code == 405
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("resource_type", STORED)
async def test_round_trip(client: httpx.AsyncClient, resource_type: str) -> None:
    for seed in (0, 1) if resource_type in NAMED else (0,):
        example = example_resource(resource_type, seed=seed)
        assert validate_resource(example) == []
        created = await client.post(f"/fhir/{resource_type}", json=example,
                                    headers={"content-type": "application/fhir+json"})
        assert created.status_code == 201, created.text
        back = await client.get(f"/fhir/{resource_type}/{created.json()['id']}")
        assert back.status_code == 200
        assert strip(back.json()) == strip(example)
