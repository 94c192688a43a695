"""``Repository.search_json_related``: a search and the resources related to its matches in one statement
(the board's and the nurses' summary's data), filtered per resource by the access policy and audited per
type like separate searches."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
from tests.integration.access_support import SYSTEM, audit_rows, build_province, encounter, observation, patient

from benhan.fhir.storage.protocol import Related
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError

VITAL = {"category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                   "code": "vital-signs"}]}]}
RELATED = (
    Related("Patient", "subject", reverse=False),
    Related("Observation", "encounter", params=(("category", "vital-signs"),)),
)


def _nurse(fac: str, dep: str) -> RequestContext:
    return RequestContext(user_id="u-nurse", username="dd.related", roles=frozenset({"nurse"}),
                          facility_id=fac, department_id=dep)


async def _ward(repo: Any) -> dict[str, Any]:
    p = await build_province(repo)
    ids: dict[str, Any] = {"p": p}
    for key in ("one", "two"):
        ids[key] = (await repo.create(SYSTEM, patient(f"Bệnh nhân {key}"))).resource.id
        enc = encounter(ids[key], p.dep_a1)
        ids[f"enc_{key}"] = (await repo.create(SYSTEM, enc)).resource.id
        obs = {**observation(ids[key]), **VITAL, "encounter": {"reference": f"Encounter/{ids[f'enc_{key}']}"}}
        ids[f"obs_{key}"] = (await repo.create(SYSTEM, obs)).resource.id
    # a patient cared for only at facility B, whose Observation (wrongly) names a stay of department A1:
    # the nurse of A1 sees the stay, not this Observation
    ids["outsider"] = (await repo.create(SYSTEM, patient("Bệnh nhân ngoài"))).resource.id
    await repo.create(SYSTEM, encounter(ids["outsider"], p.dep_b1))
    stray = {**observation(ids["outsider"]), **VITAL, "encounter": {"reference": f"Encounter/{ids['enc_one']}"}}
    ids["obs_stray"] = (await repo.create(SYSTEM, stray)).resource.id
    return ids


async def test_matches_and_related_in_one_statement_filtered_per_resource(app: Any, db: asyncpg.Pool) -> None:
    repo = app.state.repo
    w = await _ward(repo)
    p = w["p"]
    query = [("service-provider", f"Organization/{p.dep_a1}"), ("status", "in-progress")]
    nurse = _nurse(p.fac_a, p.dep_a1)
    stays, patients, obs = await repo.search_json_related(nurse, "Encounter", query, RELATED)
    assert sorted(e["id"] for e in stays) == sorted([w["enc_one"], w["enc_two"]])
    assert sorted(x["id"] for x in patients) == sorted([w["one"], w["two"]])
    assert sorted(x["id"] for x in obs) == sorted([w["obs_one"], w["obs_two"]])  # not the outsider's
    # the system context sees the stray Observation too: the filter above was the policy, not the join
    _s, _p, everything = await repo.search_json_related(SYSTEM, "Encounter", query, RELATED)
    assert w["obs_stray"] in {x["id"] for x in everything}
    # the same answers as separate searches
    assert sorted(e["id"] for e in stays) == sorted(e["id"] for e in await repo.search_json(nurse, "Encounter", query))
    # a nurse of another facility sees no stay, hence nothing related
    assert await repo.search_json_related(_nurse(p.fac_b, p.dep_b1), "Encounter", query, RELATED) == [[], [], []]


async def test_each_type_is_audited_as_a_search(app: Any, db: asyncpg.Pool) -> None:
    repo = app.state.repo
    w = await _ward(repo)
    p = w["p"]
    nurse = _nurse(p.fac_a, p.dep_a1)
    await repo.search_json_related(nurse, "Encounter", [("service-provider", f"Organization/{p.dep_a1}")], RELATED)
    await repo.audit.close()  # flush the batched read audit (later records are appended directly)
    events = [orjson.loads(r["content"]) for r in await audit_rows(db, action="search", user_name="dd.related")]
    described = {x["description"] for e in events for x in e["entity"] if "description" in x}
    assert f"Observation?encounter=[Encounter?service-provider=Organization/{p.dep_a1}]&category=vital-signs" \
        in described  # what the related arm searched, in the words of a search
    assert len(events) == 3  # Encounter, Patient, Observation: as three separate searches would be
    seen = {x["what"]["reference"] for e in events for x in e.get("entity", []) if "what" in x}
    assert {f"Observation/{w['obs_one']}", f"Observation/{w['obs_two']}", f"Patient/{w['one']}"} <= seen
    assert f"Observation/{w['obs_stray']}" not in seen


async def test_unknown_parameters_are_refused(app: Any) -> None:
    with pytest.raises(BenhanError):
        await app.state.repo.search_json_related(SYSTEM, "Encounter", [("status", "in-progress")],
                                                 (Related("Observation", "no-such-param"),))
