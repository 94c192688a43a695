"""Real third-party clients (PyPI fhirpy and fhirclient), used as their documentation shows, against a
running benhan server."""

from __future__ import annotations

import asyncio

import pytest
from fhirclient import client as smart_client
from fhirclient.models.humanname import HumanName
from fhirclient.models.patient import Patient as FcPatient
from fhirpy import AsyncFHIRClient, SyncFHIRClient


def test_fhirpy_crud_history(live_server: str) -> None:
    client = SyncFHIRClient(f"{live_server}/fhir")
    patient = client.resource("Patient", name=[{"family": "Trần", "given": ["Thị", "Bình"]}], gender="female")
    patient.save()
    assert patient.id
    fetched = client.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Trần"
    fetched["birthDate"] = "1990-01-02"
    fetched.save()
    assert fetched["meta"]["versionId"] == "2"
    history = client.execute(f"Patient/{patient.id}/_history", method="get")
    assert len(history["entry"]) == 2
    fetched.delete()
    with pytest.raises(Exception, match=r"410|Gone|deleted"):
        client.reference("Patient", patient.id).to_resource()


def test_fhirpy_async(live_server: str) -> None:
    async def run() -> str:
        client = AsyncFHIRClient(f"{live_server}/fhir")
        org = client.resource("Organization", name="Trung tâm Y tế huyện Đầm Dơi")
        await org.save()
        again = await client.reference("Organization", org.id).to_resource()
        return str(again["name"])

    assert asyncio.run(run()) == "Trung tâm Y tế huyện Đầm Dơi"


def test_fhirclient_crud(live_server: str) -> None:
    smart = smart_client.FHIRClient(settings={"app_id": "benhan-test", "api_base": f"{live_server}/fhir"})
    patient = FcPatient({"gender": "male"})
    name = HumanName()
    name.family = "Lê"
    name.given = ["Minh", "Tuấn"]
    patient.name = [name]
    created = patient.create(smart.server)
    assert created is not None
    pid = created["id"]
    read = FcPatient.read(pid, smart.server)
    assert read.name[0].family == "Lê"
    read.gender = "other"
    read.update(smart.server)
    assert FcPatient.read(pid, smart.server).gender == "other"
    history = smart.server.request_json(f"Patient/{pid}/_history")
    assert len(history["entry"]) == 2
    read.delete(smart.server)
    with pytest.raises(Exception, match="410"):
        FcPatient.read(pid, smart.server)
