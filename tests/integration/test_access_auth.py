"""Sessions and authentication (issue 4): CSRF, lockout, TOTP, idle timeout, logout everywhere, bearer
tokens (expired, revoked, scopes) and the OAuth2 server (client credentials, private_key_jwt, PKCE, refresh)."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.routing import Route
from tests.integration.access_support import (
    FJ,
    PASSWORD,
    Province,
    add_user,
    build_province,
    login,
    patient,
    system_token,
)

from benhan.access import identity as ident
from benhan.access.roles import Grant
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.kernel.ids import new_id


@pytest.fixture
async def prov(app: Any, db: asyncpg.Pool) -> Province:
    p = await build_province(app.state.repo)
    await add_user(db, app.state.repo, p, "bs.an", [Grant("doctor", p.fac_a, p.dep_a1)])
    return p


async def test_fhir_needs_credentials_on_every_route(app: Any, anon_client: httpx.AsyncClient) -> None:
    assert app.state.repo.access is not None
    assert app.state.repo.audit is not None
    r = await anon_client.get("/fhir/Patient")
    assert r.status_code == 401
    assert "BH-4001" in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert (await anon_client.get("/fhir/metadata")).status_code == 200
    assert (await anon_client.get("/.well-known/smart-configuration")).status_code == 200
    # /fhir is served by benhan.fhir.api ahead of Starlette's router (the lean path): no Starlette route under it
    assert not [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/fhir")]
    assert app.fhir is not None
    for path in ("/fhir", "/fhir/Patient/x", "/fhir/Patient/x/_history", "/fhir/_history", "/fhir/Patient/$x"):
        for method in ("GET", "POST", "PUT", "DELETE"):
            resp = await anon_client.request(method, path)
            assert resp.status_code == 401, (method, path)
    bad = await anon_client.get("/fhir/Patient", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


async def test_csrf_is_required_for_cookie_writes(app: Any, anon_client: httpx.AsyncClient, prov: Province) -> None:
    r = await login(anon_client, "bs.an")
    csrf = r.json()["csrf_token"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    no_token = await anon_client.post("/fhir/Patient", json=patient(), headers=FJ)
    assert no_token.status_code == 403
    assert "BH-4003" in no_token.text
    wrong = await anon_client.post("/fhir/Patient", json=patient(), headers={**FJ, "X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert (await anon_client.post("/logout", json={})).status_code == 403
    assert (await anon_client.post("/session/switch", json={"facility_id": prov.fac_a})).status_code == 403
    # a cross-site login form post (no double-submit cookie) is refused too
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        form = await other.post("/login", data={"username": "bs.an", "password": PASSWORD, "csrf_token": "x"})
        assert form.status_code == 403
        assert "benhan_session" not in form.headers.get("set-cookie", "")
        page = await other.get("/login")
        assert page.status_code == 200
        assert "Đăng nhập" in page.text
        assert 'for="username"' in page.text
        token = other.cookies.get("benhan_login_csrf")
        ok = await other.post("/login", data={"username": "bs.an", "password": PASSWORD, "csrf_token": token,
                                              "next": "//evil.example/"})
        assert ok.status_code == 303
        assert ok.headers["location"] == "/"
    made = await anon_client.post("/fhir/Patient", json=patient(), headers={**FJ, "X-CSRF-Token": csrf})
    assert made.status_code == 201


async def test_lockout_with_back_off(anon_client: httpx.AsyncClient, db: asyncpg.Pool, prov: Province) -> None:
    for _ in range(5):
        assert (await login(anon_client, "bs.an", password="sai-mat-khau-1")).status_code == 401
    locked = await login(anon_client, "bs.an")
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["error"] == "locked"
    unknown = await login(anon_client, "khong-ai", password="x")
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "bad_credentials"
    async with db.acquire() as conn:
        await conn.execute("UPDATE app_user SET locked_until = now() - interval '1 second' WHERE username = 'bs.an'")
    assert (await login(anon_client, "bs.an")).status_code == 200  # after the wait, the right password works
    failed = await db.fetch("SELECT * FROM audit_event WHERE action = 'login-failed'")
    assert len(failed) >= 7


async def test_totp_required_for_administrators(app: Any, anon_client: httpx.AsyncClient, db: asyncpg.Pool,
                                                prov: Province) -> None:
    await add_user(db, app.state.repo, prov, "qt.khoa", [Grant("facility_admin", prov.fac_a)])
    r = await login(anon_client, "qt.khoa")
    assert r.status_code == 403
    assert r.json()["error"] == "totp_enrolment"
    secret = pyotp.random_base32()
    await IdentityStore(db).set_totp(prov.users["qt.khoa"], secret)
    assert (await login(anon_client, "qt.khoa")).json()["error"] == "totp_required"
    assert (await login(anon_client, "qt.khoa", totp="000000" if pyotp.TOTP(secret).now() != "000000"
                        else "111111")).json()["error"] == "totp_invalid"
    code = pyotp.TOTP(secret).now()
    assert (await login(anon_client, "qt.khoa", totp=code)).status_code == 200
    replay = await login(anon_client, "qt.khoa", totp=code)
    assert replay.status_code == 401
    assert replay.json()["error"] == "totp_invalid"


async def test_idle_timeout_and_logout_everywhere(app: Any, db: asyncpg.Pool, prov: Province) -> None:
    def new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    async with new_client() as phone, new_client() as desk:
        assert (await login(phone, "bs.an")).status_code == 200
        csrf = (await login(desk, "bs.an")).json()["csrf_token"]
        token = await system_token(db, scope="user/*.rs", user_id=prov.users["bs.an"], facility_id=prov.fac_a)
        assert (await phone.get("/fhir/Patient")).status_code == 200
        async with db.acquire() as conn:
            await conn.execute("UPDATE auth_session SET last_seen = now() - interval '31 minutes'")
        assert (await phone.get("/fhir/Patient")).status_code == 401  # idle too long
        assert (await desk.get("/fhir/Patient")).status_code == 401
        csrf = (await login(desk, "bs.an")).json()["csrf_token"]
        assert (await login(phone, "bs.an")).status_code == 200
        out = await desk.post("/logout", json={"everywhere": True}, headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        assert (await phone.get("/fhir/Patient")).status_code == 401
        bearer = await phone.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401  # tokens of the user end too


async def test_expired_and_revoked_tokens_and_scopes(
    anon_client: httpx.AsyncClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A revocation made by another process reaches this worker when its token cache entry lapses;
    # with no cache lifetime that is at once (test_token_cache_* covers the cache itself).
    monkeypatch.setattr("benhan.web.session.TOKEN_CACHE_TTL", timedelta(0))
    expired = await system_token(db, seconds=-1)
    assert (await anon_client.get("/fhir/Patient", headers={"Authorization": f"Bearer {expired}"})).status_code == 401
    narrow = await system_token(db, scope="system/Patient.rs")
    h = {"Authorization": f"Bearer {narrow}"}
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 200
    assert (await anon_client.get("/fhir/Observation", headers=h)).status_code == 403
    assert (await anon_client.post("/fhir/Patient", json=patient(), headers={**FJ, **h})).status_code == 403
    store = IdentityStore(db)
    assert await store.revoke(ident.secret_hash(narrow)) == 1
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 401


async def _client(db: asyncpg.Pool, **kw: Any) -> str:
    client_id = f"app-{new_id()[:8]}"
    values = {"name": "test", "secret_hash": None, "jwks": None, "auth_method": "client_secret_basic",
              "redirect_uris": [], "grant_types": ["client_credentials"], "scope": "system/*.rs", "facility_id": None}
    values.update(kw)
    await IdentityStore(db).add_client(client_id, **values)  # type: ignore[arg-type]
    return client_id


async def test_client_credentials_with_secret_and_revocation(anon_client: httpx.AsyncClient,
                                                              db: asyncpg.Pool) -> None:
    secret = ident.new_secret()
    cid = await _client(db, secret_hash=ident.hash_password(secret))
    bad = await anon_client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(cid, "wrong"))
    assert bad.status_code in (400, 401)
    assert bad.json()["error"] == "invalid_client"
    r = await anon_client.post("/oauth2/token", data={"grant_type": "client_credentials",
                                                      "scope": "system/Patient.rs system/Patient.cruds"},
                               auth=(cid, secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "system/Patient.rs"
    assert body["expires_in"] == 300
    assert "refresh_token" not in body
    h = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 200
    rv = await anon_client.post("/oauth2/revoke", data={"token": body["access_token"]}, auth=(cid, secret))
    assert rv.status_code == 200
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 401


async def test_client_credentials_with_private_key_jwt(anon_client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    import orjson

    cid = await _client(db, auth_method="private_key_jwt", jwks=orjson.dumps({"keys": [key.as_dict(private=False)]})
                        .decode())
    now = int(time.time())
    claims = {"iss": cid, "sub": cid, "aud": "http://testserver/oauth2/token", "exp": now + 60, "jti": new_id()}
    assertion = jwt.encode({"alg": "RS384", "kid": "k1"}, claims, key, algorithms=["RS384"])
    form = {"grant_type": "client_credentials", "scope": "system/Observation.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    r = await anon_client.post("/oauth2/token", data=form)
    assert r.status_code == 200, r.text
    replay = await anon_client.post("/oauth2/token", data=form)
    assert replay.status_code == 400  # the same assertion (jti) twice
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged = jwt.encode({"alg": "RS384", "kid": "k1"}, {**claims, "jti": new_id()}, other, algorithms=["RS384"])
    refused = await anon_client.post("/oauth2/token", data={**form, "client_assertion": forged})
    assert refused.status_code in (400, 401)


async def test_authorization_code_pkce_and_refresh_rotation(app: Any, anon_client: httpx.AsyncClient,
                                                            db: asyncpg.Pool, prov: Province) -> None:
    cid = await _client(db, auth_method="none", redirect_uris=["https://app.example/cb"],
                        grant_types=["authorization_code", "refresh_token"], scope="user/*.rs openid offline_access")
    verifier = ident.new_secret(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": cid, "redirect_uri": "https://app.example/cb",
              "scope": "user/Patient.rs offline_access", "state": "s1", "aud": "http://testserver/fhir",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    first = await anon_client.get("/oauth2/authorize", params=params)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?next=")
    csrf = (await login(anon_client, "bs.an")).json()["csrf_token"]
    no_pkce = await anon_client.get("/oauth2/authorize", params={**params, "code_challenge": ""})
    assert no_pkce.status_code == 400
    consent = await anon_client.get("/oauth2/authorize", params=params)
    assert consent.status_code == 200  # the user approves the app (test_access_smart_launch covers the screen)
    r = await anon_client.post("/oauth2/authorize", data={**params, "csrf_token": csrf, "decision": "allow"})
    assert r.status_code == 302, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["s1"]
    code = query["code"][0]
    token_form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/cb",
                  "client_id": cid}
    wrong = await anon_client.post("/oauth2/token", data={**token_form, "code_verifier": ident.new_secret(48)})
    assert wrong.status_code == 400
    tok = await anon_client.post("/oauth2/token", data={**token_form, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    body = tok.json()
    again = await anon_client.post("/oauth2/token", data={**token_form, "code_verifier": verifier})
    assert again.status_code == 400  # a code is used once
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
        h = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await api.get("/fhir/Patient", headers=h)).status_code == 200
        assert (await api.get("/fhir/Observation", headers=h)).status_code == 403  # scope: Patient only
        refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": cid}
        new = await api.post("/oauth2/token", data=refresh)
        assert new.status_code == 200, new.text
        assert new.json()["refresh_token"] != body["refresh_token"]
        assert (await api.post("/oauth2/token", data=refresh)).status_code == 400  # rotated: old one is spent
        h2 = {"Authorization": f"Bearer {new.json()['access_token']}"}
        assert (await api.get("/fhir/Patient", headers=h2)).status_code == 200


async def test_smart_configuration(anon_client: httpx.AsyncClient) -> None:
    conf = (await anon_client.get("/.well-known/smart-configuration")).json()
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert "private_key_jwt" in conf["token_endpoint_auth_methods_supported"]
    assert conf["token_endpoint"].endswith("/oauth2/token")
    assert "permission-v2" in conf["capabilities"]


async def test_token_cache_forgets_on_logout_and_lapses(app: Any, anon_client: httpx.AsyncClient,
                                                         db: asyncpg.Pool) -> None:
    token = await system_token(db)
    h = {"Authorization": f"Bearer {token}"}
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 200
    assert await IdentityStore(db).revoke(ident.secret_hash(token)) == 1
    # another process revoked it: this worker still trusts its remembered check for a few seconds ...
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 200
    # ... until the entry lapses or is forgotten (revocation through this worker forgets at once)
    app.state.auth.forget_tokens()
    assert (await anon_client.get("/fhir/Patient", headers=h)).status_code == 401
