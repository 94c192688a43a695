"""Search through the REST API: composites, :in/:not-in, own-base absolute references, :exact, several sort
keys, _total=estimate and the self link of a lenient search (issue 3)."""

from __future__ import annotations

from typing import Any

import httpx

FJ = {"content-type": "application/fhir+json"}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    resp = await client.post(f"/fhir/{body['resourceType']}", json=body, headers=FJ)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _bp(patient: str, systolic: int, diastolic: int, day: int) -> dict[str, Any]:
    def comp(code: str, value: int) -> dict[str, Any]:
        return {"code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": {"value": value, "system": UCUM, "code": "mm[Hg]"}}

    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "effectiveDateTime": f"2026-11-{day:02d}T08:00:00+07:00",
            "component": [comp("8480-6", systolic), comp("8462-4", diastolic)]}


def _hr(patient: str, value: int, day: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
            "effectiveDateTime": f"2026-11-{day:02d}T08:00:00+07:00",
            "valueQuantity": {"value": value, "system": UCUM, "code": "/min"}}


async def ids(client: httpx.AsyncClient, path: str, **params: str) -> list[str]:
    resp = await client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return [e["resource"]["id"] for e in resp.json().get("entry", []) if e["search"]["mode"] == "match"]


async def test_composite_parameters(client: httpx.AsyncClient) -> None:
    pat = await post(client, {"resourceType": "Patient", "name": [{"family": "Lê"}]})
    high = await post(client, _bp(pat, 150, 90, 1))
    crossed = await post(client, _bp(pat, 120, 145, 2))  # 145 is diastolic: must not match systolic > 140
    hr = await post(client, _hr(pat, 72, 3))
    q = "component-code-value-quantity"
    assert await ids(client, "/fhir/Observation", **{q: f"{LOINC}|8480-6$gt140"}) == [high]
    assert await ids(client, "/fhir/Observation", **{q: "8462-4$gt140"}) == [crossed]
    assert await ids(client, "/fhir/Observation", **{"code-value-quantity": f"{LOINC}|8867-4$ge72|{UCUM}|/min"}) == [hr]
    assert await ids(client, "/fhir/Observation", **{"code-value-quantity": f"{LOINC}|8867-4$gt72"}) == []
    combo = sorted(await ids(client, "/fhir/Observation", **{"combo-code-value-quantity": "8480-6$gt100,8867-4$lt80"}))
    assert combo == sorted([high, crossed, hr])
    assert await ids(client, "/fhir/Observation", **{q: "http://other|8480-6$gt140"}) == []


async def test_in_and_not_in_value_sets(client: httpx.AsyncClient) -> None:
    pat = await post(client, {"resourceType": "Patient", "name": [{"family": "Phạm"}]})
    hr = await post(client, _hr(pat, 80, 4))  # 8867-4 is in loinc-vital-signs
    lab = await post(client, {**_hr(pat, 5, 5), "code": {"coding": [{"system": LOINC, "code": "2339-0"}]}})
    vs = "https://benhan.vn/fhir/ValueSet/loinc-vital-signs"
    assert await ids(client, "/fhir/Observation", **{"code:in": vs}) == [hr]
    assert await ids(client, "/fhir/Observation", **{"code:not-in": vs}) == [lab]
    bp = await post(client, _bp(pat, 110, 70, 6))
    # A stored ValueSet (not packaged) works the same way.
    await post(client, {"resourceType": "ValueSet", "url": "https://example.vn/vs/bp", "status": "active",
                        "compose": {"include": [{"system": LOINC, "concept": [{"code": "85354-9"}]}]}})
    assert await ids(client, "/fhir/Observation", **{"code:in": "https://example.vn/vs/bp"}) == [bp]
    unknown = await client.get("/fhir/Observation", params={"code:in": "https://example.vn/vs/none"})
    assert unknown.status_code == 400


async def test_absolute_reference_to_own_base_is_local(client: httpx.AsyncClient) -> None:
    pat = await post(client, {"resourceType": "Patient", "name": [{"family": "Võ"}]})
    obs = await post(client, _hr(pat, 60, 6))
    assert await ids(client, "/fhir/Observation", subject=f"http://testserver/fhir/Patient/{pat}") == [obs]
    assert await ids(client, "/fhir/Observation", patient=f"http://testserver/fhir/Patient/{pat}") == [obs]
    assert await ids(client, "/fhir/Observation", subject=f"http://elsewhere.vn/fhir/Patient/{pat}") == []


async def test_exact_sort_keys_estimate_and_lenient_self_link(client: httpx.AsyncClient) -> None:
    a = await post(client, {"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": ["An"]}],
                            "birthDate": "1990-01-01"})
    b = await post(client, {"resourceType": "Patient", "name": [{"family": "Nguyen", "given": ["Bình"]}],
                            "birthDate": "1980-01-01"})
    c = await post(client, {"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": ["Cúc"]}],
                            "birthDate": "1990-01-01"})
    assert sorted(await ids(client, "/fhir/Patient", name="nguyen")) == sorted([a, b, c])
    assert sorted(await ids(client, "/fhir/Patient", **{"family:exact": "Nguyễn"})) == sorted([a, c])
    assert await ids(client, "/fhir/Patient", **{"family:exact": "Nguyen"}) == [b]
    assert await ids(client, "/fhir/Patient", _sort="-birthdate,given") == [a, c, b]
    assert await ids(client, "/fhir/Patient", _sort="birthdate,-given") == [b, c, a]
    estimate = (await client.get("/fhir/Patient", params={"_total": "estimate", "name": "nguyen"})).json()
    assert isinstance(estimate["total"], int)
    assert estimate["total"] >= 1
    lenient = (await client.get("/fhir/Patient", params={"name": "nguyen", "colour": "blue", "_sort": "given"})).json()
    self_link = next(link["url"] for link in lenient["link"] if link["relation"] == "self")
    assert self_link == "http://testserver/fhir/Patient?name=nguyen&_sort=given"


async def _walk(client: httpx.AsyncClient, first: str, relation: str) -> list[list[str]]:
    pages, url = [], first
    while url:
        bundle = (await client.get(url)).json()
        pages.append([e["resource"]["id"] for e in bundle.get("entry", [])])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == relation), "")
    return pages


async def test_paging_across_resources_missing_the_sort_key(client: httpx.AsyncClient) -> None:
    """Resources without the sort key come last in either direction (search.html#sort), and next/previous
    pages walk through them without a skip or a duplicate."""
    born = ["1990-01-01", "1980-01-01", None, "2000-01-01", None]
    pats = [await post(client, {"resourceType": "Patient", "name": [{"family": "Lý", "given": [f"Sort{i}"]}],
                                **({"birthDate": b} if b else {})}) for i, b in enumerate(born)]
    for sort, order in (("birthdate", [1, 0, 3, 2, 4]), ("-birthdate", [3, 0, 1, 2, 4])):
        expected = [pats[i] for i in order]
        forward = await _walk(client, f"/fhir/Patient?family=ly&_sort={sort}&_count=2", "next")
        assert [p for page in forward for p in page] == expected, sort
        last = (await client.get(f"/fhir/Patient?family=ly&_sort={sort}&_count=2")).json()
        for _ in range(len(forward) - 1):
            last = (await client.get(next(x["url"] for x in last["link"] if x["relation"] == "next"))).json()
        prev = next(x["url"] for x in last["link"] if x["relation"] == "previous")
        backward = await _walk(client, prev, "previous")
        assert [p for page in reversed(backward) for p in page] == expected[: -len(forward[-1])], sort
