"""Search through the REST API: type, POST _search, system, compartment, $everything, paging, strictness."""

from __future__ import annotations

import httpx

FJ = {"content-type": "application/fhir+json"}


async def post(client: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    resp = await client.post(f"/fhir/{body['resourceType']}", json=body, headers=FJ)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def seed(client: httpx.AsyncClient) -> tuple[str, str]:
    a = await post(client, {"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": ["Thị", "Dương"]}],
                            "identifier": [{"system": "https://benhan.vn/sid/cccd", "value": "096180001111"}],
                            "birthDate": "1980-01-01", "gender": "female"})
    b = await post(client, {"resourceType": "Patient", "name": [{"family": "Trần", "given": ["Văn", "Bình"]}],
                            "birthDate": "1975-05-05", "gender": "male"})
    for value in (80, 120):
        await post(client, {"resourceType": "Observation", "status": "final",
                            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                                      "code": "vital-signs"}]}],
                            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                            "subject": {"reference": f"Patient/{a['id']}"},
                            "effectiveDateTime": f"2026-11-2{value // 40}T08:00:00+07:00",
                            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org",
                                              "code": "/min"}})
    await post(client, {"resourceType": "Condition", "subject": {"reference": f"Patient/{b['id']}"},
                        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9"}]}})
    return str(a["id"]), str(b["id"])


async def test_type_search_accent_insensitive(client: httpx.AsyncClient) -> None:
    a, _b = await seed(client)
    bundle = (await client.get("/fhir/Patient", params={"name": "nguyen"})).json()
    assert bundle["type"] == "searchset"
    assert [e["resource"]["id"] for e in bundle["entry"]] == [a]
    assert bundle["entry"][0]["search"]["mode"] == "match"
    assert (await client.get("/fhir/Patient", params={"name": "duong"})).json()["entry"][0]["resource"]["id"] == a
    ident = (await client.get("/fhir/Patient", params={"identifier": "https://benhan.vn/sid/cccd|096180001111"})).json()
    assert [e["resource"]["id"] for e in ident["entry"]] == [a]


async def test_post_search_and_strict_handling(client: httpx.AsyncClient) -> None:
    _a, b = await seed(client)
    resp = await client.post("/fhir/Patient/_search", content=b"name=tran",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert [e["resource"]["id"] for e in resp.json()["entry"]] == [b]
    lenient = (await client.get("/fhir/Patient", params={"name": "tran", "colour": "blue"})).json()
    self_link = next(link["url"] for link in lenient["link"] if link["relation"] == "self")
    assert "colour" not in self_link
    assert "name=tran" in self_link
    strict = await client.get("/fhir/Patient", params={"colour": "blue"}, headers={"prefer": "handling=strict"})
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1013"


async def test_paging_count_and_include(client: httpx.AsyncClient) -> None:
    a, _b = await seed(client)
    page1 = (await client.get("/fhir/Observation", params={"patient": a, "_count": "1", "_sort": "-date"})).json()
    assert len(page1["entry"]) == 1
    assert page1["entry"][0]["resource"]["valueQuantity"]["value"] == 120
    nxt = next(link["url"] for link in page1["link"] if link["relation"] == "next")
    page2 = (await client.get(nxt.replace("http://testserver", ""))).json()
    assert page2["entry"][0]["resource"]["valueQuantity"]["value"] == 80
    count = (await client.get("/fhir/Observation", params={"_summary": "count"})).json()
    assert count["total"] == 2
    assert "entry" not in count
    inc = (await client.get("/fhir/Observation", params={"patient": a, "_include": "Observation:subject"})).json()
    modes = sorted(e["search"]["mode"] for e in inc["entry"])
    assert modes == ["include", "match", "match"]


async def test_system_and_compartment_search(client: httpx.AsyncClient) -> None:
    a, b = await seed(client)
    system = (await client.get("/fhir", params={"_type": "Patient,Condition"})).json()
    assert {e["resource"]["resourceType"] for e in system["entry"]} == {"Patient", "Condition"}
    comp = (await client.get(f"/fhir/Patient/{a}/Observation")).json()
    assert len(comp["entry"]) == 2
    assert (await client.get(f"/fhir/Patient/{b}/Observation")).json().get("entry") is None
    assert (await client.get("/fhir/Patient/nobody/Observation")).status_code == 404


async def test_everything(client: httpx.AsyncClient) -> None:
    a, _b = await seed(client)
    everything = (await client.get(f"/fhir/Patient/{a}/$everything")).json()
    types = [e["resource"]["resourceType"] for e in everything["entry"]]
    assert types.count("Patient") == 1
    assert types.count("Observation") == 2
    assert "Condition" not in types
    paged = (await client.get(f"/fhir/Patient/{a}/$everything", params={"_count": "2"})).json()
    assert len(paged["entry"]) == 2
    assert any(link["relation"] == "next" for link in paged["link"])
    only = (await client.get(f"/fhir/Patient/{a}/$everything", params={"_type": "Observation"})).json()
    assert {e["resource"]["resourceType"] for e in only["entry"]} <= {"Observation", "Patient"}
