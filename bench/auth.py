"""A Bearer token for the load process, when the server asks for one.

If ``/.well-known/smart-configuration`` exists (SMART App Launch v2; access-control issue 4), the bench
takes a token with the OAuth2 client-credentials grant from its ``token_endpoint``, with the client named
by ``BENCH_CLIENT_ID`` / ``BENCH_CLIENT_SECRET``.  When they are unset, it registers a client in the
bench's own database (``BENCH_PROVISION_CMD`` if set, a command printing ``client_id`` and
``client_secret`` as JSON; else a row in ``oauth_client``).  Without the discovery document the bench runs
unauthenticated.  Tokens are taken per load process, so short token lifetimes do not matter.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson

SCOPE = "system/*.cruds"


class AuthUnavailableError(RuntimeError):
    """The server requires a token, but the bench cannot get one; the message says what to set."""


@dataclass
class Credentials:
    token_path: str  # each server of a run listens on its own port: keep the path, add the base per call
    client_id: str
    client_secret: str

    database_url: str = ""
    fallback_reason: str = ""

    def token(self, base: str) -> str:
        resp = httpx.post(base + self.token_path, data={"grant_type": "client_credentials", "scope": SCOPE},
                          auth=(self.client_id, self.client_secret), timeout=30)
        if resp.status_code == 200:
            return str(resp.json()["access_token"])
        if not self.database_url:
            raise AuthUnavailableError(f"token endpoint answered {resp.status_code}: {resp.text[:300]}")
        # The token endpoint refused our client: store a token the way the server would issue one, so the
        # measurement still covers the per-request token check.  Recorded in the result (``auth``).
        self.fallback_reason = f"token endpoint answered {resp.status_code}; token stored directly"
        return asyncio.run(_stored_token(self.database_url, self.client_id))


def discover(base: str, database_url: str) -> Credentials | None:
    """None when the server has no SMART configuration (the FHIR API is open)."""
    resp = httpx.get(f"{base}/.well-known/smart-configuration", timeout=10)
    if resp.status_code == 404:
        resp = httpx.get(f"{base}/fhir/.well-known/smart-configuration", timeout=10)
    if resp.status_code != 200:
        return None
    endpoint = str(resp.json().get("token_endpoint", ""))
    if not endpoint:
        raise AuthUnavailableError("smart-configuration has no token_endpoint")
    client_id, secret = os.environ.get("BENCH_CLIENT_ID"), os.environ.get("BENCH_CLIENT_SECRET")
    if not (client_id and secret):
        client_id, secret = provision(database_url)
    return Credentials(urlsplit(endpoint).path, client_id, secret, database_url)


def provision(database_url: str) -> tuple[str, str]:
    """A client-credentials client in the bench's own database: ``BENCH_PROVISION_CMD`` when set, else a row
    in ``oauth_client`` (schema of migration 0003; the secret hashed by ``benhan.access.identity``)."""
    command = os.environ.get("BENCH_PROVISION_CMD")
    if command:
        env = {**os.environ, "DATABASE_URL": database_url}
        out = subprocess.run(shlex.split(command), capture_output=True, text=True, env=env, check=False)
        try:
            made = orjson.loads(out.stdout)
            return str(made["client_id"]), str(made["client_secret"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise AuthUnavailableError(f"{command!r} failed (exit {out.returncode}): {out.stderr[-300:]}") from None
    try:
        return asyncio.run(_insert_client(database_url))
    except (ImportError, asyncpg.PostgresError) as exc:
        raise AuthUnavailableError(
            f"the server requires a Bearer token and the bench could not register a client ({exc}). "
            "Set BENCH_CLIENT_ID/BENCH_CLIENT_SECRET, or BENCH_PROVISION_CMD (a command printing "
            '{"client_id": ..., "client_secret": ...}).'
        ) from None


async def _insert_client(database_url: str) -> tuple[str, str]:
    from benhan.access.identity import hash_password

    client_id, secret = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO oauth_client (client_id, name, secret_hash, auth_method, grant_types, scope) "
            "VALUES ($1, 'benhan bench load generator', $2, 'client_secret_basic', '{client_credentials}', $3)",
            client_id, hash_password(secret), SCOPE)
    finally:
        await conn.close()
    return client_id, secret


async def _stored_token(database_url: str, client_id: str, seconds: int = 3600) -> str:
    from datetime import timedelta

    from benhan.access import identity as ident
    from benhan.fhir.storage.pg.identity import IdentityStore
    from benhan.kernel import clock

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        token, now = ident.new_secret(), clock.now()
        await IdentityStore(pool).save_token({
            "access_hash": ident.secret_hash(token), "client_id": client_id, "user_id": None, "scope": SCOPE,
            "facility_id": None, "department_id": None, "patient_id": None, "issued": now,
            "expires": now + timedelta(seconds=seconds)})
    finally:
        await pool.close()
    return token
