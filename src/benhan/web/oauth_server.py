"""Authlib's authorization server adapted to benhan (issue 4): request wrappers, the client model, the grants
(authorization code + PKCE, refresh token with rotation, client credentials), ``private_key_jwt`` client
authentication and RFC 7009 revocation.  Authlib is synchronous: everything it may ask for is loaded into a
``Work`` before it runs, and what it decides is recorded there and applied afterwards (``benhan.web.oauth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import JSONResponse, RedirectResponse, Response

from benhan.access import identity as ident
from benhan.access.scopes import narrow
from benhan.kernel import clock

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
SIGNING_ALGS = ["RS384", "ES384", "RS256", "ES256"]


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self._data.items()}


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], form: dict[str, str], args: dict[str, str]
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
class Work:
    """What Authlib asked for and decided during one request."""

    clients: dict[str, Any] = field(default_factory=dict)
    code: Any = None
    refresh: Any = None
    jti: str | None = None  # "client:jti" of a JWT assertion, recorded once the request succeeds
    new_code: tuple[str, OAuthRequest] | None = None
    tokens: list[tuple[dict[str, Any], OAuthRequest]] = field(default_factory=list)
    use_code: bool = False
    rotate: bool = False
    revoke: bytes | None = None


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
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
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


class _PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: BenhanAuthServer) -> None:
        super().__init__(leeway=30)
        self.server = server

    def get_audiences(self) -> list[str]:
        return [self.server.token_url]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        # SMART Backend Services require RS384 and ES384, which joserfc does not allow by default.
        try:
            token = jose_jwt.decode(assertion, resolve_key, algorithms=SIGNING_ALGS)
        except JoseError as err:
            raise InvalidClientError(description=err.description) from err
        self.verify_claims(token.claims)
        return token.claims

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

    def revoke_token(self, token: _Record, request: OAuthRequest) -> None:
        self.server.work.revoke = ident.secret_hash(request.form.get("token", ""))


class BenhanAuthServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, work: Work, token_url: str, access_seconds: int) -> None:
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

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        self.work.tokens.append((token, request))

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        hdrs = dict(headers or [])
        if status in (301, 302, 303):
            return RedirectResponse(hdrs["Location"], status_code=302)
        hdrs.pop("Content-Type", None)
        return JSONResponse(body if body != "" else {}, status_code=status, headers=hdrs)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
