"""What the OAuth2 endpoints share (``benhan.web.oauth`` and ``benhan.web.oauth_authorize``): the request
wrapper Authlib sees, the server for one request, and the prefetch of what Authlib may ask for.

Authlib's server is synchronous and our store is asyncpg, so each request first loads what Authlib may
ask for (client, code, refresh token), runs Authlib, then applies what it decided.
"""

from __future__ import annotations

import base64

import orjson
from starlette.requests import Request

from benhan.access import identity as ident
from benhan.web.oauth_server import BenhanAuthServer, OAuthRequest, Work
from benhan.web.session import Authenticator


def auth_of(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def base_url(request: Request) -> str:
    settings = request.app.state.settings
    base = settings.base_url.rstrip("/").removesuffix("/fhir") if settings.base_url else str(request.base_url)
    return base.rstrip("/")


def public_uri(request: Request) -> str:
    # Authlib refuses http:// URLs; TLS is the reverse proxy's job and production mode always means HTTPS.
    url = str(request.url)
    return "https://" + url.split("://", 1)[1] if url.startswith("http://") else url


async def oauth_request(request: Request) -> OAuthRequest:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)} if request.method == "POST" else {}
    # Starlette's Headers: case-insensitive, as Authlib expects ("Authorization").
    return OAuthRequest(request.method, public_uri(request), request.headers, form, dict(request.query_params))


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


async def prefetch(auth: Authenticator, req: OAuthRequest, work: Work, *, any_token: bool = False) -> None:
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


def auth_server(request: Request, work: Work) -> BenhanAuthServer:
    seconds = auth_of(request).cfg.tokens.get("access_seconds", 300)
    return BenhanAuthServer(work, f"{base_url(request)}/oauth2/token", seconds)
