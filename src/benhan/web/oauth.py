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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from benhan.access import identity as ident
from benhan.access.scopes import narrow
from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.web.auth import login_redirect, resolved_of
from benhan.web.session import Authenticator

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self._data.items()}


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self, method: str, uri: str, headers: dict[str, str], form: dict[str, str], args: dict[str, str]
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._form, self._args = form, args
        self.payload = _Payload({**args, **form})

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return self._args


class Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: Any) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return str(self.row["client_id"])

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row["redirect_uris"]
        return str(uris[0]) if uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        return narrow(scope, self.row["scope"]) if scope else str(self.row["scope"])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.row["redirect_uris"] or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.row["secret_hash"]) and ident.verify_password(self.row["secret_hash"], client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return bool(method == self.row["auth_method"])

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row["grant_types"] or [])


@dataclass
class _Record:
    """A code or refresh token row as Authlib sees it."""

    row: Any

    def get_redirect_uri(self) -> str:
        return str(self.row["redirect_uri"])

    def get_scope(self) -> str:
        return str(self.row["scope"])

    def check_client(self, client: Client) -> bool:
        return bool(self.row["client_id"] == client.get_client_id())

    @property
    def code_challenge(self) -> str:
        return str(self.row["code_challenge"])

    @property
    def code_challenge_method(self) -> str:
        return str(self.row["code_challenge_method"])


@dataclass
class _Work:
    """What Authlib asked for and decided during one request."""

    clients: dict[str, Any] = field(default_factory=dict)
    code: Any = None
    refresh: Any = None
    jti: str | None = None  # "client:jti" of a JWT assertion, recorded once the request succeeds
    new_code: tuple[str, _Request] | None = None
    tokens: list[tuple[dict[str, Any], _Request]] = field(default_factory=list)
    use_code: bool = False
    rotate: bool = False
    revoke: bytes | None = None


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: _Request) -> None:
        self.server.work.new_code = (code, request)

    def query_authorization_code(self, code: str, client: Client) -> _Record | None:
        row = self.server.work.code
        if row is None or row["client_id"] != client.get_client_id() or row["expires"] <= clock.now():
            return None
        return _Record(row)

    def delete_authorization_code(self, authorization_code: _Record) -> None:
        self.server.work.use_code = True

    def authenticate_user(self, authorization_code: _Record) -> dict[str, Any]:
        return {"user_id": authorization_code.row["user_id"]}


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: each refresh token is used once (OAuth 2.0 Security BCP)

    def authenticate_refresh_token(self, refresh_token: str) -> _Record | None:
        row = self.server.work.refresh
        if row is None or row["revoked"] or (row["refresh_expires"] and row["refresh_expires"] <= clock.now()):
            return None
        return _Record(row)

    def authenticate_user(self, credential: _Record) -> dict[str, Any]:
        return {"user_id": credential.row["user_id"]}

    def revoke_old_credential(self, credential: _Record) -> None:
        self.server.work.rotate = True


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class _PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: _Server) -> None:
        super().__init__(leeway=30)
        self.server = server

    def get_audiences(self) -> list[str]:
        return [self.server.token_url]

    def validate_jti(self, claims: Any, jti: str) -> bool:
        # Recorded (and a replay refused) when the request is applied: see ``_apply``.
        self.server.work.jti = f"{claims['sub']}:{jti}"
        return True

    def resolve_client_public_key(self, client: Client) -> KeySet:
        raw = client.row["jwks"]
        return KeySet.import_key_set(orjson.loads(raw) if isinstance(raw, str | bytes) else raw)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Record | None:
        row = self.server.work.refresh
        return _Record(row) if row is not None else None

    def revoke_token(self, token: _Record, request: _Request) -> None:
        self.server.work.revoke = ident.secret_hash(request.form.get("token", ""))


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, work: _Work, token_url: str, access_seconds: int) -> None:
        super().__init__()
        self.work, self.token_url = work, token_url
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_kw: ident.new_secret(),
                refresh_token_generator=lambda **_kw: ident.new_secret(),
                expires_generator=lambda _client, _grant: access_seconds,
            ),
        )
        self.register_grant(_CodeGrant, [CodeChallenge(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_grant(_ClientCredentials)
        self.register_client_auth_method(_PrivateKeyJWT.CLIENT_AUTH_METHOD, _PrivateKeyJWT(self))
        self.register_endpoint(_Revocation)

    def query_client(self, client_id: str) -> Client | None:
        row = self.work.clients.get(client_id)
        return Client(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        self.work.tokens.append((token, request))

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        hdrs = dict(headers or [])
        if status in (301, 302, 303):
            return RedirectResponse(hdrs["Location"], status_code=302)
        hdrs.pop("Content-Type", None)
        return JSONResponse(body if body != "" else {}, status_code=status, headers=hdrs)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


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


async def _oauth_request(request: Request) -> _Request:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)} if request.method == "POST" else {}
    return _Request(request.method, _uri(request), dict(request.headers), form, dict(request.query_params))


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


async def _prefetch(auth: Authenticator, req: _Request, work: _Work, *, any_token: bool = False) -> None:
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


def _server(request: Request, work: _Work) -> _Server:
    seconds = _auth(request).cfg.tokens.get("access_seconds", 300)
    return _Server(work, f"{_base(request)}/oauth2/token", seconds)


async def authorize(request: Request) -> Response:
    """Authorization code + PKCE for the signed-in user (registered clients are trusted: no consent page)."""
    resolved = resolved_of(request)
    if resolved is None or resolved.session_hash is None or resolved.ctx.user_id is None:
        return login_redirect(request)
    req, work = await _oauth_request(request), _Work()
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
    auth, work = _auth(request), _Work()
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


async def _apply(auth: Authenticator, work: _Work) -> bool:
    """The single-use checks, atomically in the database: a code, a refresh token, a JWT id."""
    if work.use_code and work.code is not None and await auth.store.take_code(work.code["code_hash"]) is None:
        return False
    if work.rotate and work.refresh is not None and not await auth.store.revoke(work.refresh["refresh_hash"]):
        return False
    if work.jti is not None:
        ttl = clock.now() + timedelta(minutes=10)
        if not await auth.store.use_jti(work.jti, ttl, clock.now()):
            return False
    return True


async def _save_token(auth: Authenticator, body: dict[str, Any], treq: _Request, context: Any) -> RequestContext:
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
    auth, work = _auth(request), _Work()
    req = await _oauth_request(request)
    await _prefetch(auth, req, work, any_token=True)
    response: Response = _server(request, work).create_endpoint_response("revocation", req)
    if work.revoke is not None:
        await auth.store.revoke(work.revoke)
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
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
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
