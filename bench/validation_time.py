"""Mean FHIR R4 structure-validation time per resource, by resource type.

Run: ``.venv/bin/python bench/validation_time.py [--repeat N]``. Inputs: a hand-shaped Patient and
Observation (typical clinical size) plus generated examples (``example_resource``, seeds 0-3) of
ten common types. Prints a Markdown table (µs per validation, resource size in bytes).
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson

from benhan.fhir.model import example_resource, validate_resource

TYPES = (
    "Patient",
    "Observation",
    "Encounter",
    "Condition",
    "MedicationRequest",
    "DiagnosticReport",
    "Practitioner",
    "Organization",
    "Procedure",
    "AllergyIntolerance",
    "Claim",
    "Bundle",
)

TYPICAL_PATIENT: dict[str, object] = {
    "resourceType": "Patient",
    "id": "pat-1",
    "meta": {"versionId": "1", "lastUpdated": "2024-05-01T10:00:00.123+07:00"},
    "identifier": [
        {"system": "urn:oid:2.16.840.1.113883.2.25.1", "value": "079203000123"},
        {"system": "http://example.org/bhyt", "value": "HC4790123456789"},
    ],
    "active": True,
    "name": [{"use": "official", "family": "Nguyễn", "given": ["Văn", "An"]}],
    "telecom": [{"system": "phone", "value": "+84 90 1234567", "use": "mobile"}],
    "gender": "male",
    "birthDate": "1980-02-29",
    "address": [{"line": ["12 Lê Lợi"], "city": "Huế", "district": "Phú Hội", "country": "VN"}],
    "managingOrganization": {"reference": "Organization/org-1"},
}
TYPICAL_OBSERVATION: dict[str, object] = {
    "resourceType": "Observation",
    "id": "obs-1",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
    "subject": {"reference": "Patient/pat-1"},
    "effectiveDateTime": "2024-05-01T08:15:00+07:00",
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {
                "value": 120,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {
                "value": 80,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
    ],
}


def _mean_us(resources: list[dict[str, object]], repeat: int) -> float:
    for r in resources:
        assert validate_resource(r) == [], r["resourceType"]
    start = time.perf_counter()
    for _ in range(repeat):
        for r in resources:
            validate_resource(r)
    return (time.perf_counter() - start) / (repeat * len(resources)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    rows = [("Patient (typical)", [TYPICAL_PATIENT]), ("Observation (typical BP)", [TYPICAL_OBSERVATION])]
    rows += [(f"{t} (generated)", [example_resource(t, s) for s in range(4)]) for t in TYPES]
    print("| resource | mean µs | bytes |")
    print("|---|---:|---:|")
    means = []
    for label, resources in rows:
        mean = _mean_us(resources, args.repeat)
        means.append(mean)
        size = statistics.mean(len(orjson.dumps(r)) for r in resources)
        print(f"| {label} | {mean:.1f} | {size:.0f} |")
    print(f"\nmedian over rows: {statistics.median(means):.1f} µs")


if __name__ == "__main__":
    main()
