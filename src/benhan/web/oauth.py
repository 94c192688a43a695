"""The OAuth2 authorization server for the FHIR API (Authlib; SMART App Launch v2, issue 4).

- ``/oauth2/authorize``: authorization code with PKCE S256 (required), for a signed-in user;
- ``/oauth2/token``: ``authorization_code``, ``refresh_token`` (rotated), ``client_credentials`` with a client
  secret (basic/post) or a signed JWT assertion (``private_key_jwt``, RFC 7523, jti replay refused);
- ``/oauth2/revoke``: RFC 7009; ``/.well-known/smart-configuration``.

Authlib's server is synchronous and our store is asyncpg, so each request first loads what Authlib may
ask for (client, code, refresh token), runs Authlib, then applies what it decided (save the token, use up
the code, rotate the refresh token) — the single-use checks happen in those final statements.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import orjson
from authlib.oauth2 import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benhan.access import identity as ident
from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.web.auth import login_redirect, resolved_of
from benhan.web.oauth_server import SIGNING_ALGS, BenhanAuthServer, OAuthRequest, Work
from benhan.web.session import Authenticator


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _base(request: Request) -> str:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/").removesuffix("/fhir") if settings.base_url else str(request.base_url)
    return base.rstrip("/")


def _uri(request: Request) -> str:
    # Authlib refuses http:// URLs; TLS is the reverse proxy's job and production mode always means HTTPS.
    url = str(request.url)
    return "https://" + url.split("://", 1)[1] if url.startswith("http://") else url


async def _oauth_request(request: Request) -> OAuthRequest:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)} if request.method == "POST" else {}
    # Starlette's Headers: case-insensitive, as Authlib expects ("Authorization").
    return OAuthRequest(request.method, _uri(request), request.headers, form, dict(request.query_params))


def _basic_client(header: str) -> str:
    if not header.lower().startswith("basic "):
        return ""
    try:
        return base64.b64decode(header[6:]).decode().split(":", 1)[0]
    except ValueError:
        return ""


def _assertion_sub(assertion: str) -> str:
    """The client named by a JWT assertion, read before verification only to load that client's keys."""
    try:
        payload = assertion.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, orjson.JSONDecodeError):
        return ""
    return str(claims.get("sub", "")) if isinstance(claims, dict) else ""


async def _prefetch(auth: Authenticator, req: OAuthRequest, work: Work, *, any_token: bool = False) -> None:
    """Load what Authlib may ask for: the client(s) named, the code, the refresh (or any) token."""
    names = {
        req.form.get("client_id", ""),
        req.args.get("client_id", ""),
        _basic_client(req.headers.get("authorization", "")),
        _assertion_sub(req.form.get("client_assertion", "")),
    }
    for name in names - {""}:
        row = await auth.store.client(name)
        if row is not None:
            work.clients[name] = row
    if req.form.get("code"):
        work.code = await auth.store.peek_code(ident.secret_hash(req.form["code"]))
    token = req.form.get("token" if any_token else "refresh_token")
    if token:
        lookup = auth.store.token_by_any if any_token else auth.store.token_by_refresh
        work.refresh = await lookup(ident.secret_hash(token))


def _server(request: Request, work: Work) -> BenhanAuthServer:
    seconds = _auth(request).cfg.tokens.get("access_seconds", 300)
    return BenhanAuthServer(work, f"{_base(request)}/oauth2/token", seconds)


async def authorize(request: Request) -> Response:
    """Authorization code + PKCE for the signed-in user (registered clients are trusted: no consent page)."""
    resolved = resolved_of(request)
    if resolved is None or resolved.session_hash is None or resolved.ctx.user_id is None:
        return login_redirect(request)
    req, work = await _oauth_request(request), Work()
    if req.args.get("code_challenge_method") != "S256" or not req.args.get("code_challenge"):
        return JSONResponse({"error": "invalid_request", "error_description": "PKCE with S256 is required"}, 400)
    aud = req.args.get("aud")
    if aud and aud.rstrip("/") != f"{_base(request)}/fhir":  # SMART v2: aud names this FHIR server
        return JSONResponse({"error": "invalid_request", "error_description": "aud is not this FHIR server"}, 400)
    await _prefetch(_auth(request), req, work)
    server = _server(request, work)
    try:
        grant = server.get_consent_grant(req, end_user={"user_id": resolved.ctx.user_id})
    except OAuth2Error as err:  # never redirect to an unvalidated redirect_uri
        return JSONResponse({"error": err.error, "error_description": err.description}, status_code=400)
    response: Response = server.create_authorization_response(
        req, grant_user={"user_id": resolved.ctx.user_id}, grant=grant
    )
    if work.new_code is not None:
        code, creq = work.new_code
        ttl = _auth(request).cfg.tokens.get("code_seconds", 60)
        await _auth(request).store.save_code(
            ident.secret_hash(code),
            {
                "client_id": creq.payload.client_id,
                "user_id": resolved.ctx.user_id,
                "redirect_uri": creq.payload.redirect_uri or "",
                "scope": grant.request.scope or "",
                "code_challenge": creq.payload.data.get("code_challenge"),
                "code_challenge_method": "S256",
                "facility_id": resolved.ctx.facility_id,
                "department_id": resolved.ctx.department_id,
                "patient_id": None,
                "expires": clock.now() + timedelta(seconds=ttl),
            },
        )
    return response


async def token(request: Request) -> Response:
    auth, work = _auth(request), Work()
    req = await _oauth_request(request)
    await _prefetch(auth, req, work)
    response: Response = _server(request, work).create_token_response(req)
    if response.status_code != 200 or not work.tokens:
        return response
    if not await _apply(auth, work):
        return JSONResponse({"error": "invalid_grant", "error_description": "already used"}, status_code=400)
    body, treq = work.tokens[0]
    context = work.code if work.code is not None else work.refresh
    saved = await _save_token(auth, body, treq, context)
    body = {**body, **({"patient": saved.extra["patient"]} if "patient" in saved.extra else {})}
    await auth.audit(saved, AuditInfo("token-issue", detail=str(body.get("scope", ""))))
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


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
        "issued": now,
        "expires": now + timedelta(seconds=int(body.get("expires_in", 300))),
        "refresh_expires": now + timedelta(days=refresh_days) if body.get("refresh_token") else None,
    }
    await auth.store.save_token(values)
    extra = {"patient": values["patient_id"]} if values["patient_id"] else {}
    return RequestContext(
        user_id=values["user_id"],
        username=values["user_id"] or client_id,
        client_id=client_id,
        facility_id=values["facility_id"],
        extra=extra,
    )


async def revoke(request: Request) -> Response:
    auth, work = _auth(request), Work()
    req = await _oauth_request(request)
    await _prefetch(auth, req, work, any_token=True)
    response: Response = _server(request, work).create_endpoint_response("revocation", req)
    if work.revoke is not None:
        await auth.store.revoke(work.revoke)
        auth.forget_tokens()  # the hash may be a refresh token's: forget every remembered check
        who = RequestContext(username=work.refresh["client_id"], client_id=work.refresh["client_id"])
        await auth.audit(who, AuditInfo("token-revoke"))
    return response


async def smart_configuration(request: Request) -> Response:
    """SMART App Launch v2 discovery (hl7.org/fhir/smart-app-launch/conformance.html)."""
    base = _base(request)
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [
                "openid",
                "fhirUser",
                "offline_access",
                "online_access",
                "patient/*.rs",
                "user/*.cruds",
                "user/*.rs",
                "system/*.rs",
                "system/*.cruds",
            ],
            "capabilities": [
                "launch-standalone",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "permission-v1",
                "permission-v2",
                "permission-user",
                "permission-offline",
                "permission-online",
            ],
        }
    )


def oauth_routes() -> list[Route]:
    return [
        Route("/oauth2/authorize", authorize, methods=["GET"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/revoke", revoke, methods=["POST"]),
        Route("/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
    ]
