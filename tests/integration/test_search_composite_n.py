"""Composite parameters of three components (R4 MolecularSequence coordinates, search.html#composite)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.db
FJ = {"content-type": "application/fhir+json"}
CHR = "http://hl7.org/fhir/chromosome-human"


def sequence(chromosome: str, window: tuple[int, int], variants: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "resourceType": "MolecularSequence", "coordinateSystem": 0,
        "referenceSeq": {"chromosome": {"coding": [{"system": CHR, "code": chromosome}]},
                         "referenceSeqId": {"coding": [{"system": "http://www.ncbi.nlm.nih.gov/nuccore",
                                                        "code": f"NC_0000{chromosome}"}]},
                         "windowStart": window[0], "windowEnd": window[1]},
        "variant": [{"start": s, "end": e, "observedAllele": "T", "referenceAllele": "G"} for s, e in variants],
    }


@pytest.fixture
async def sequences(client: httpx.AsyncClient) -> dict[str, str]:
    made = {
        # two variants: (100, 200) and (300, 400) — a query pairing 300 with 200 must not match
        "a": sequence("1", (0, 1000), [(100, 200), (300, 400)]),
        "b": sequence("1", (500, 1500), [(150, 160)]),
        "c": sequence("2", (0, 1000), [(100, 200)]),
    }
    ids = {}
    for key, body in made.items():
        resp = await client.post("/fhir/MolecularSequence", json=body, headers=FJ)
        assert resp.status_code == 201, resp.text
        ids[key] = resp.json()["id"]
    return ids


async def found(client: httpx.AsyncClient, ids: dict[str, str], query: str) -> set[str]:
    resp = await client.get(f"/fhir/MolecularSequence?{query}", headers={"prefer": "handling=strict"})
    assert resp.status_code == 200, resp.text
    names = {v: k for k, v in ids.items()}
    return {names[e["resource"]["id"]] for e in resp.json().get("entry", [])}


async def test_three_part_composites_match_within_one_element(client: httpx.AsyncClient,
                                                              sequences: dict[str, str]) -> None:
    q = "chromosome-variant-coordinate"
    assert await found(client, sequences, f"{q}=1$ge100$le200") == {"a", "b"}
    assert await found(client, sequences, f"{q}={CHR}|1$ge300$le400") == {"a"}
    # start 300 and end 200 exist on "a", but in different variants: no match (same-element rule)
    assert await found(client, sequences, f"{q}=1$ge300$le200") == set()
    assert await found(client, sequences, f"{q}=2$100$200") == {"c"}
    assert await found(client, sequences, f"{q}=1$gt1000$lt2000,2$100$200") == {"c"}  # OR by comma
    assert await found(client, sequences, f"{q}=1$ne100$le400") == {"a", "b"}
    assert await found(client, sequences, "chromosome-window-coordinate=1$ge500$le1500") == {"b"}
    assert await found(client, sequences, "referenceseqid-window-coordinate=NC_00001$0$1000") == {"a"}
    assert await found(client, sequences, "referenceseqid-variant-coordinate=NC_00002$100$200") == {"c"}


async def test_three_part_composite_errors(client: httpx.AsyncClient) -> None:
    for bad in ("chromosome-variant-coordinate=1$100", "chromosome-variant-coordinate=1$abc$200",
                "chromosome-variant-coordinate=$100$200"):
        resp = await client.get(f"/fhir/MolecularSequence?{bad}")
        assert resp.status_code == 400, bad
        assert resp.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1008"
