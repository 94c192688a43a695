"""OAuth2 clients of the FHIR API (issue 4): list, register, rotate the secret, disable.

Three kinds (docs/security.md): a system integration with a client secret (RFC 6749 §2.3.1,
``client_secret_basic``), a system integration signing a JWT assertion with a key from its JWKS (RFC 7523,
SMART Backend Services ``private_key_jwt``), and a public app using the authorization code with PKCE and
registered redirect URIs (RFC 7636, SMART App Launch v2).  A secret is shown once and stored as argon2id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from benhan.access import identity as ident
from benhan.access.scopes import is_known
from benhan.admin.scope import AdminDeps, AdminScope, admin_scope, refuse
from benhan.clinical.records import ClinicalError, FieldMessage
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.admin_types import ClientRow
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import ErrorCode

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
#: kind → (token endpoint auth method, grant types)
KINDS = {
    "secret": ("client_secret_basic", ["client_credentials"]),
    "jwks": ("private_key_jwt", ["client_credentials"]),
    "public": ("none", ["authorization_code", "refresh_token"]),
}


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    name: str
    kind: str
    scope: str
    jwks: str = ""
    redirect_uris: tuple[str, ...] = ()
    #: the facility the client acts for; None: provincial (provincial administrators only)
    facility_id: str | None = None
    #: overrides of the kind's defaults (the CLI's ``--auth`` and ``--grant-type``)
    auth_method: str | None = None
    grant_types: tuple[str, ...] = ()


def redirect_ok(uri: str) -> bool:
    """Absolute https URIs, or http on the loopback interface for native apps (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


def client_problems(form: NewClient) -> list[FieldMessage]:
    out: list[FieldMessage] = []
    if not CLIENT_ID.match(form.client_id):
        out.append(FieldMessage("client_id", "Mã ứng dụng 3–64 ký tự: chữ, số, . _ -",
                                "Client id: 3-64 characters, letters, digits, . _ -"))
    if not form.name.strip():
        out.append(FieldMessage("name", "Nhập tên ứng dụng.", "Enter the client's name."))
    if form.kind not in KINDS:
        out.append(FieldMessage("kind", "Chọn loại ứng dụng.", "Choose the kind of client."))
    if not form.scope.split() or not all(is_known(s) for s in form.scope.split()):
        out.append(FieldMessage("scope", "Phạm vi SMART không hợp lệ, ví dụ: system/*.rs",
                                "Invalid SMART scopes, e.g. system/*.rs"))
    if form.kind == "jwks":
        try:
            keys = json.loads(form.jwks).get("keys")
        except (ValueError, AttributeError):
            keys = None
        if not isinstance(keys, list) or not keys:
            out.append(FieldMessage("jwks", "Dán JWKS (JSON có danh sách \"keys\").",
                                    'Paste the JWKS (JSON with a "keys" list).'))
    if form.kind == "public" and (not form.redirect_uris or not all(map(redirect_ok, form.redirect_uris))):
        out.append(FieldMessage("redirect_uris", "Mỗi dòng một địa chỉ https:// (http chỉ cho localhost).",
                                "One https:// address per line (http only for localhost)."))
    return out


async def list_clients(deps: AdminDeps, ctx: RequestContext) -> list[ClientRow]:
    scope = await admin_scope(deps, ctx)
    return await deps.users.list_clients(scope.facility_id)


async def register_client(deps: AdminDeps, ctx: RequestContext, form: NewClient) -> str | None:
    """Register a client; returns its secret (to show once) for the ``secret`` kind."""
    scope = await admin_scope(deps, ctx)
    facility = form.facility_id if scope.province else scope.facility_id
    problems = client_problems(form)
    if problems:
        raise ClinicalError(*problems)
    if await deps.users.client_row(form.client_id) is not None:
        raise ClinicalError.one("client_id", "Mã ứng dụng đã có.", "This client id is taken.")
    auth_method, grants = KINDS[form.kind]
    auth_method, grants = form.auth_method or auth_method, list(form.grant_types) or grants
    secret = ident.new_secret() if auth_method.startswith("client_secret") else None
    await deps.users.add_client(
        form.client_id, form.name.strip(), ident.hash_password(secret) if secret else None,
        form.jwks if form.kind == "jwks" else None, auth_method,
        list(form.redirect_uris) if form.kind == "public" else [], grants, " ".join(form.scope.split()), facility,
    )
    await _audit(deps, ctx, form.client_id, f"register ({form.kind})")
    return secret


async def _client_in_scope(deps: AdminDeps, ctx: RequestContext, scope: AdminScope, client_id: str) -> ClientRow:
    client = await deps.users.client_row(client_id)
    if client is None or not scope.covers(client.facility_id):
        await refuse(deps, ctx, f"no client {client_id} of your facility", ErrorCode.NOT_FOUND)
    return client


async def rotate_secret(deps: AdminDeps, ctx: RequestContext, client_id: str) -> str:
    """A new client secret (shown once); the old one and the tokens issued with it stop working at once."""
    client = await _client_in_scope(deps, ctx, await admin_scope(deps, ctx), client_id)
    if not client.auth_method.startswith("client_secret"):
        raise ClinicalError.one("", "Ứng dụng này không dùng mật khẩu ứng dụng.", "This client uses no secret.")
    secret = ident.new_secret()
    await deps.users.set_client_secret(client.client_id, ident.hash_password(secret))
    await _audit(deps, ctx, client.client_id, "rotate secret")
    return secret


async def set_disabled(deps: AdminDeps, ctx: RequestContext, client_id: str, disabled: bool) -> None:
    """Disable (its tokens are revoked and its users' remembered approvals removed at once) or enable a client."""
    client = await _client_in_scope(deps, ctx, await admin_scope(deps, ctx), client_id)
    forgotten = await deps.users.set_client_disabled(client.client_id, disabled)
    await _audit(deps, ctx, client.client_id, f"disable ({forgotten} app approvals revoked)" if disabled else "enable")


async def _audit(deps: AdminDeps, ctx: RequestContext, client_id: str, what: str) -> None:
    await deps.audit(ctx, AuditInfo("admin", detail=f"{what} client {client_id}"))
