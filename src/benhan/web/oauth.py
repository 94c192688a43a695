"""The OAuth2 authorization server for the FHIR API (Authlib; SMART App Launch v2, issue 4).

- ``/oauth2/authorize``: authorization code with PKCE S256 (required), for a signed-in user, with the launch
  context, patient picker and consent screen (``benhan.web.oauth_authorize``);
- ``/oauth2/token``: ``authorization_code``, ``refresh_token`` (rotated), ``client_credentials`` with a client
  secret (basic/post) or a signed JWT assertion (``private_key_jwt``, RFC 7523, jti replay refused); the
  response carries the launch context (``patient``, ``encounter``), ``fhirUser`` and an OpenID ``id_token``;
- ``/oauth2/revoke``: RFC 7009; ``/oauth2/jwks``; ``/.well-known/smart-configuration`` and
  ``/.well-known/openid-configuration``.

Each request first loads what Authlib may ask for, runs Authlib, then applies what it decided (save the
token, use up the code, rotate the refresh token) — the single-use checks happen in those final statements.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benhan.access import identity as ident
from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.web.oauth_authorize import authorize_routes
from benhan.web.oauth_common import auth_of, auth_server, base_url, oauth_request, prefetch
from benhan.web.oauth_server import SIGNING_ALGS, OAuthRequest, Work
from benhan.web.oidc import SigningKeys
from benhan.web.session import Authenticator

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token(request: Request) -> Response:
    auth, work = auth_of(request), Work()
    req = await oauth_request(request)
    await prefetch(auth, req, work)
    response: Response = auth_server(request, work).create_token_response(req)
    if response.status_code != 200 or not work.tokens:
        return response
    if not await _apply(auth, work):
        return JSONResponse({"error": "invalid_grant", "error_description": "already used"}, status_code=400)
    body, treq = work.tokens[0]
    context = work.code if work.code is not None else work.refresh
    saved = await _save_token(auth, body, treq, context)
    body = {**body, **await _launch_context(request, body, saved, work)}
    info = AuditInfo("token-issue", patient_id=saved.extra.get("patient"), detail=str(body.get("scope", "")))
    await auth.audit(saved, info)
    return JSONResponse(body, headers=NO_STORE)


async def _launch_context(request: Request, body: dict[str, Any], saved: RequestContext, work: Work) -> dict[str, Any]:
    """SMART App Launch v2 token response (app-launch.html#response-5): the launch context (``patient``,
    ``encounter``), the user's FHIR resource (``fhirUser``) and, with ``openid``, a signed ``id_token``."""
    out: dict[str, Any] = {k: saved.extra[k] for k in ("patient", "encounter") if saved.extra.get(k)}
    scopes = set(str(body.get("scope", "")).split())
    if saved.user_id is None or not scopes & {"openid", "fhirUser"}:
        return out
    auth, base = auth_of(request), base_url(request)
    user = await auth.store.user_by_id(saved.user_id)
    fhir_user = f"{base}/fhir/Practitioner/{user['practitioner_id']}" if user and user["practitioner_id"] else None
    if "fhirUser" in scopes and fhir_user:
        out["fhirUser"] = fhir_user
    if "openid" in scopes:
        keys: SigningKeys = request.app.state.oidc_keys
        claims = {
            "iss": base, "sub": saved.user_id, "aud": saved.client_id,
            # OpenID Connect Core §3.1.3.6: the nonce of the authorization request, on the code exchange.
            "nonce": work.code["nonce"] if work.code is not None else None,
            "fhirUser": fhir_user if "fhirUser" in scopes else None,
            "preferred_username": user["username"] if user and "profile" in scopes else None,
        }
        out["id_token"] = await keys.id_token(auth, claims, int(body.get("expires_in", 300)))
    return out


async def _apply(auth: Authenticator, work: Work) -> bool:
    """The single-use checks, atomically in the database: a code, a refresh token, a JWT id."""
    if work.use_code and work.code is not None and await auth.store.take_code(work.code["code_hash"]) is None:
        return False
    if work.rotate and work.refresh is not None:
        revoked = await auth.store.revoke(work.refresh["refresh_hash"])
        auth.forget_tokens()
        if not revoked:
            return False
    if work.jti is not None:
        ttl = clock.now() + timedelta(minutes=10)
        if not await auth.store.use_jti(work.jti, ttl, clock.now()):
            return False
    return True


async def _save_token(auth: Authenticator, body: dict[str, Any], treq: OAuthRequest, context: Any) -> RequestContext:
    now = clock.now()
    user = treq.user or {}
    refresh_days = auth.cfg.tokens.get("refresh_days", 30)
    client_id = treq.client.get_client_id()
    values = {
        "access_hash": ident.secret_hash(body["access_token"]),
        "refresh_hash": ident.secret_hash(body["refresh_token"]) if body.get("refresh_token") else None,
        "client_id": client_id,
        "user_id": user.get("user_id"),
        "scope": body.get("scope") or "",
        "facility_id": context["facility_id"] if context is not None else None,
        "department_id": context["department_id"] if context is not None else None,
        "patient_id": context["patient_id"] if context is not None else None,
        "encounter_id": context["encounter_id"] if context is not None else None,
        "issued": now,
        "expires": now + timedelta(seconds=int(body.get("expires_in", 300))),
        "refresh_expires": now + timedelta(days=refresh_days) if body.get("refresh_token") else None,
    }
    await auth.store.save_token(values)
    extra = {k: values[f"{k}_id"] for k in ("patient", "encounter") if values[f"{k}_id"]}
    return RequestContext(
        user_id=values["user_id"],
        username=values["user_id"] or client_id,
        client_id=client_id,
        facility_id=values["facility_id"],
        extra=extra,
    )


async def revoke(request: Request) -> Response:
    auth, work = auth_of(request), Work()
    req = await oauth_request(request)
    await prefetch(auth, req, work, any_token=True)
    response: Response = auth_server(request, work).create_endpoint_response("revocation", req)
    if work.revoke is not None:
        await auth.store.revoke(work.revoke)
        auth.forget_tokens()  # the hash may be a refresh token's: forget every remembered check
        who = RequestContext(username=work.refresh["client_id"], client_id=work.refresh["client_id"])
        await auth.audit(who, AuditInfo("token-revoke"))
    return response


#: SMART App Launch v2 conformance.html#capabilities: exactly what works here.  Not listed: ``authorize-post``
#: (the authorize endpoint takes the app's request by GET; its POST is the user's consent form),
#: ``context-standalone-encounter`` (no encounter picker) and the ``context-*-style/banner`` passthroughs.
CAPABILITIES = [
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "sso-openid-connect", "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "permission-offline", "permission-online", "permission-patient",
    "permission-user", "permission-v1", "permission-v2",
]
SCOPES = ["openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access",
          "patient/*.rs", "user/*.cruds", "user/*.rs", "system/*.rs", "system/*.cruds"]


def _endpoints(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "jwks_uri": f"{base}/oauth2/jwks",
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
    }


async def smart_configuration(request: Request) -> Response:
    """SMART App Launch v2 discovery (conformance.html): ``issuer`` and ``jwks_uri`` are required with
    ``sso-openid-connect``."""
    return JSONResponse({**_endpoints(base_url(request)), "capabilities": CAPABILITIES})


async def openid_configuration(request: Request) -> Response:
    """OpenID Connect Discovery 1.0 §3 for the same issuer (SMART apps doing ``openid`` may fetch it)."""
    return JSONResponse({
        **_endpoints(base_url(request)),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "preferred_username"],
    })


async def jwks(request: Request) -> Response:
    keys: SigningKeys = request.app.state.oidc_keys
    return JSONResponse(await keys.jwks(auth_of(request)), headers={"Cache-Control": "max-age=3600"})


def oauth_routes() -> list[Route]:
    return [
        *authorize_routes(),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/revoke", revoke, methods=["POST"]),
        Route("/oauth2/jwks", jwks, methods=["GET"]),
        Route("/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    ]
