"""SMART App Launch v2 (issue 4): standalone launch with the patient picker, EHR launch contexts (single-use,
short-lived), the consent screen, OpenID id_token verified against the published JWKS, and patient/ scopes
confined to the launch patient on every FHIR call."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from tests.integration.access_support import (
    SYSTEM,
    Province,
    add_user,
    audit_rows,
    build_province,
    encounter,
    observation,
    patient,
    sign_in,
)

from benhan.access import identity as ident
from benhan.access.roles import Grant
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.kernel.ids import new_id

REDIRECT = "https://app.example/cb"


@dataclass
class World:
    prov: Province
    p1: str
    p2: str
    far: str  # a patient of the other facility: not visible to the doctor
    enc1: str
    obs1: str
    obs2: str


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> World:
    repo = app.state.repo
    p = await build_province(repo)
    await add_user(db, repo, p, "bs.an", [Grant("doctor", p.fac_a, p.dep_a1)])
    ids = {}
    for key, name, org in (("p1", "Trần Thị Bình", p.dep_a1), ("p2", "Lê Văn Cường", p.dep_a1),
                           ("far", "Trần Văn Xa", p.dep_b1)):
        ids[key] = (await repo.create(SYSTEM, patient(name))).resource.id
        ids[f"enc_{key}"] = (await repo.create(SYSTEM, encounter(ids[key], org))).resource.id
        ids[f"obs_{key}"] = (await repo.create(SYSTEM, observation(ids[key]))).resource.id
    return World(p, ids["p1"], ids["p2"], ids["far"], ids["enc_p1"], ids["obs_p1"], ids["obs_p2"])


async def _app(db: asyncpg.Pool, scope: str) -> str:
    client_id = f"app-{new_id()[:8]}"
    await IdentityStore(db).add_client(client_id, "Ứng dụng theo dõi đường huyết", None, None, "none", [REDIRECT],
                                       ["authorization_code", "refresh_token"], scope, None)
    return client_id


def _pkce() -> tuple[str, str]:
    verifier = ident.new_secret(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _params(cid: str, scope: str, challenge: str, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": cid, "redirect_uri": REDIRECT, "scope": scope, "state": "st-1",
            "aud": "http://testserver/fhir", "code_challenge": challenge, "code_challenge_method": "S256", **extra}


def _query(resp: httpx.Response) -> dict[str, list[str]]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


async def _decide(c: httpx.AsyncClient, csrf: str, params: dict[str, str], decision: str,
                  **extra: str) -> httpx.Response:
    return await c.post("/oauth2/authorize", data={**params, **extra, "csrf_token": csrf, "decision": decision})


async def _exchange(c: httpx.AsyncClient, cid: str, code: str, verifier: str) -> dict[str, Any]:
    r = await c.post("/oauth2/token", data={"grant_type": "authorization_code", "code": code, "client_id": cid,
                                            "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _audit_details(db: asyncpg.Pool, action: str, user_id: str) -> list[str]:
    return [orjson.loads(r["content"])["outcomeDesc"] for r in await audit_rows(db, action=action, user_id=user_id)]


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "include"}


async def test_standalone_launch_with_patient_picker(app: Any, anon_client: httpx.AsyncClient, db: asyncpg.Pool,
                                                     world: World) -> None:
    scope = "launch/patient patient/*.rs openid fhirUser"
    cid = await _app(db, scope + " offline_access")
    verifier, challenge = _pkce()
    params = _params(cid, scope, challenge, nonce="n-0S6_WzA2Mj")
    csrf = await sign_in(anon_client, "bs.an")
    picker = await anon_client.get("/oauth2/authorize", params=params)
    assert picker.status_code == 200
    assert "Chọn bệnh nhân" in picker.text
    assert "Ứng dụng theo dõi đường huyết" in picker.text
    found = await anon_client.get("/oauth2/authorize", params={**params, "q": "Trần"})
    assert world.p1 in found.text
    assert world.far not in found.text  # only patients the user may see
    searches = await audit_rows(db, action="search", user_id=world.prov.users["bs.an"])
    assert any(r["outcome"] == "success" for r in searches)  # the picker's search is audited
    hidden = await anon_client.get("/oauth2/authorize", params={**params, "patient": world.far})
    assert hidden.status_code == 200
    assert "không được phép" in hidden.text  # back to the picker, nothing about that patient shown
    assert "Trần Văn Xa" not in hidden.text
    consent = await anon_client.get("/oauth2/authorize", params={**params, "patient": world.p1})
    assert consent.status_code == 200
    assert "Trần Thị Bình" in consent.text
    assert "Xem, tìm kiếm mọi dữ liệu của bệnh nhân đã chọn" in consent.text
    assert consent.headers["x-frame-options"] == "DENY"  # no clickjacking of the consent
    code = _query(await _decide(anon_client, csrf, params, "allow", patient=world.p1))["code"][0]
    body = await _exchange(anon_client, cid, code, verifier)
    assert body["patient"] == world.p1
    fhir_user = f"http://testserver/fhir/Practitioner/{world.prov.practitioners['bs.an']}"
    assert body["fhirUser"] == fhir_user
    # The id_token verifies against the published JWKS (RS256) and names the user, app, issuer and nonce.
    conf = (await anon_client.get("/.well-known/smart-configuration")).json()
    keys = KeySet.import_key_set((await anon_client.get(conf["jwks_uri"])).json())
    claims = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == conf["issuer"] == "http://testserver"
    assert claims["aud"] == cid
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["fhirUser"] == fhir_user
    assert claims["sub"] == world.prov.users["bs.an"]
    oidc = (await anon_client.get("/.well-known/openid-configuration")).json()
    assert oidc["issuer"] == conf["issuer"]
    assert oidc["jwks_uri"] == conf["jwks_uri"]
    # patient/*.rs: confined to the launch patient's compartment on every call.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
        h = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await api.get(f"/fhir/Patient/{world.p1}", headers=h)).status_code == 200
        assert (await api.get(f"/fhir/Observation/{world.obs1}", headers=h)).status_code == 200
        assert (await api.get(f"/fhir/Patient/{world.p2}", headers=h)).status_code == 404
        assert (await api.get(f"/fhir/Observation/{world.obs2}", headers=h)).status_code == 404
        every = await api.get("/fhir/Observation", headers=h)
        assert _ids(every.json()) == {world.obs1}
        other = await api.get("/fhir/Observation", params={"patient": world.p2}, headers=h)
        assert _ids(other.json()) == set()
        write = await api.post("/fhir/Observation", json=observation(world.p1), headers=h)
        assert write.status_code == 403  # .rs: no create
    denied = await audit_rows(db, action="read", outcome="denied", patient_id=world.p2)
    assert denied  # the refusals are audited


async def test_ehr_launch_is_single_use_and_short_lived(anon_client: httpx.AsyncClient, db: asyncpg.Pool,
                                                        world: World) -> None:
    scope = "launch patient/*.rs openid fhirUser"
    cid = await _app(db, scope)
    csrf = await sign_in(anon_client, "bs.an")
    no_csrf = await anon_client.post("/oauth2/launch", json={"patient_id": world.p1})
    assert no_csrf.status_code == 403
    odd = await anon_client.post("/oauth2/launch", content=b"[1]",
                                 headers={"Content-Type": "application/json", "X-CSRF-Token": csrf})
    assert odd.status_code == 400
    hidden = await anon_client.post("/oauth2/launch", json={"patient_id": world.far}, headers={"X-CSRF-Token": csrf})
    assert hidden.status_code == 404
    minted = await anon_client.post("/oauth2/launch", json={"patient_id": world.p1, "encounter_id": world.enc1},
                                    headers={"X-CSRF-Token": csrf})
    assert minted.status_code == 200, minted.text
    assert minted.json()["iss"] == "http://testserver/fhir"
    launch = minted.json()["launch"]
    verifier, challenge = _pkce()
    params = _params(cid, scope, challenge, launch=launch)
    consent = await anon_client.get("/oauth2/authorize", params=params)
    assert consent.status_code == 200
    assert "Trần Thị Bình" in consent.text  # no picker: the launch names the patient
    code = _query(await _decide(anon_client, csrf, params, "allow"))["code"][0]
    body = await _exchange(anon_client, cid, code, verifier)
    assert body["patient"] == world.p1
    assert body["encounter"] == world.enc1
    again = _query(await anon_client.get("/oauth2/authorize", params=params))
    assert again["error"] == ["invalid_request"]  # used
    assert again["state"] == ["st-1"]
    second = await anon_client.post("/oauth2/launch", json={"patient_id": world.p1}, headers={"X-CSRF-Token": csrf})
    async with db.acquire() as conn:
        await conn.execute("UPDATE oauth_launch SET expires = now() - interval '1 second'")
    late = _query(await anon_client.get("/oauth2/authorize", params={**params, "launch": second.json()["launch"]}))
    assert late["error"] == ["invalid_request"]  # expired
    forged = _query(await anon_client.get("/oauth2/authorize", params={**params, "launch": ident.new_secret()}))
    assert forged["error"] == ["invalid_request"]


async def test_consent_deny_returns_access_denied(anon_client: httpx.AsyncClient, db: asyncpg.Pool,
                                                  world: World) -> None:
    cid = await _app(db, "user/*.rs openid")
    _verifier, challenge = _pkce()
    params = _params(cid, "user/Patient.rs openid", challenge)
    csrf = await sign_in(anon_client, "bs.an")
    page = await anon_client.get("/oauth2/authorize", params=params)
    assert page.status_code == 200
    assert "Xem, tìm kiếm Patient mà bạn được phép truy cập" in page.text
    forged = await anon_client.post("/oauth2/authorize", data={**params, "decision": "allow", "csrf_token": "x"})
    assert forged.status_code == 403  # the consent form needs the session's CSRF token
    query = _query(await _decide(anon_client, csrf, params, "deny"))
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-1"]
    assert "code" not in query
    anon_client.cookies.set("lang", "en")
    english = await anon_client.get("/oauth2/authorize", params=params)
    assert "Read, search Patient that you may access" in english.text


async def test_remembered_approval_skips_consent_until_broader_revoked_or_expired(
    app: Any, anon_client: httpx.AsyncClient, db: asyncpg.Pool, world: World
) -> None:
    cid = await _app(db, "user/*.rs openid fhirUser")
    verifier, challenge = _pkce()
    params = _params(cid, "user/Patient.rs openid", challenge)
    csrf = await sign_in(anon_client, "bs.an")
    user = world.prov.users["bs.an"]
    first = await anon_client.get("/oauth2/authorize", params=params)
    assert "trong 90 ngày tới bạn sẽ không được hỏi lại" in first.text
    assert "code" in _query(await _decide(anon_client, csrf, params, "allow"))
    assert await _audit_details(db, "app-approve", user) == [f"{cid}: openid user/Patient.rs"]
    remembered = _query(await anon_client.get("/oauth2/authorize", params=params))  # no screen: a code at once
    assert remembered["state"] == ["st-1"]
    token = (await _exchange(anon_client, cid, remembered["code"][0], verifier))["access_token"]
    broader = await anon_client.get("/oauth2/authorize", params={**params, "scope": "user/*.rs openid"})
    assert broader.status_code == 200
    assert "Xem, tìm kiếm mọi dữ liệu mà bạn được phép truy cập" in broader.text  # asked again
    page = await anon_client.get("/account/apps")
    assert "Ứng dụng theo dõi đường huyết" in page.text
    assert "Xem, tìm kiếm Patient mà bạn được phép truy cập" in page.text
    assert (await anon_client.post(f"/account/apps/{cid}/revoke", data={})).status_code == 403  # CSRF
    revoked = await anon_client.post(f"/account/apps/{cid}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 200
    assert "Ứng dụng theo dõi đường huyết" not in revoked.text
    assert await _audit_details(db, "app-revoke", user) == [cid]
    assert (await anon_client.get("/oauth2/authorize", params=params)).status_code == 200  # asked again
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
        gone = await api.get(f"/fhir/Patient/{world.p1}", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401  # the app's tokens for the user are revoked with the approval
    store = IdentityStore(db)
    await _decide(anon_client, csrf, params, "allow")
    async with db.acquire() as conn:
        await conn.execute("UPDATE oauth_approval SET expires = now() - interval '1 second'")
    assert (await anon_client.get("/oauth2/authorize", params=params)).status_code == 200  # expired
    await _decide(anon_client, csrf, params, "allow")
    assert await store.set_client_disabled(cid, True) == 1  # an administrator disables the app …
    await store.set_client_disabled(cid, False)
    assert (await anon_client.get("/oauth2/authorize", params=params)).status_code == 200  # … approvals are gone


async def test_remembered_standalone_launch_still_lets_the_user_pick(anon_client: httpx.AsyncClient,
                                                                     db: asyncpg.Pool, world: World) -> None:
    scope = "launch/patient patient/*.rs"
    cid = await _app(db, scope)
    _verifier, challenge = _pkce()
    params = _params(cid, scope, challenge)
    csrf = await sign_in(anon_client, "bs.an")
    await _decide(anon_client, csrf, params, "allow", patient=world.p1)
    named = await anon_client.get("/oauth2/authorize", params={**params, "patient": world.p2})
    assert named.status_code == 200  # a patient named by the app's URL: the user still decides
    assert "Lê Văn Cường" in named.text
    assert 'data-testid="consent-scopes"' in named.text
    picker = await anon_client.get("/oauth2/authorize", params={**params, "q": "Lê"})
    assert 'data-testid="approval-remembered"' in picker.text
    assert 'method="post"' in picker.text
    picked = _query(await _decide(anon_client, csrf, params, "allow", patient=world.p2))  # the picker's POST
    assert "code" in picked
    assert len(await audit_rows(db, action="app-approve")) == 1  # a pick does not renew the approval
