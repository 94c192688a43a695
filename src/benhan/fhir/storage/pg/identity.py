"""SQL for identity: users and role grants, web sessions, OAuth2 clients, codes and tokens (migration 0003).

Secrets (session ids, codes, tokens) are stored as SHA-256 hashes, passwords and client secrets as argon2id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from benhan.fhir.storage.admin_types import ClientRow, UserRow
from benhan.kernel.db import Conn

_USER_ROW = (
    "SELECT u.id, u.username, u.display_name, u.practitioner_id, u.disabled, u.locked_until, u.failed_logins,"
    " u.totp_secret IS NOT NULL AS totp, coalesce((SELECT array_agg(ARRAY[g.role, g.facility_id, g.department_id]"
    " ORDER BY g.facility_id, g.department_id, g.role) FROM user_grant g WHERE g.user_id = u.id), '{}') AS grants"
    " FROM app_user u"
)


def _user(row: asyncpg.Record) -> UserRow:
    return UserRow(
        id=row["id"], username=row["username"], display_name=row["display_name"],
        practitioner_id=row["practitioner_id"], disabled=row["disabled"], locked_until=row["locked_until"],
        failed_logins=row["failed_logins"], totp=row["totp"],
        grants=tuple((g[0], g[1], g[2] or None) for g in row["grants"]),
    )


def _client(row: asyncpg.Record) -> ClientRow:
    return ClientRow(
        client_id=row["client_id"], name=row["name"], auth_method=row["auth_method"],
        grant_types=tuple(row["grant_types"]), redirect_uris=tuple(row["redirect_uris"]), scope=row["scope"],
        facility_id=row["facility_id"], disabled=row["disabled"], has_secret=row["secret_hash"] is not None,
        has_jwks=row["jwks"] is not None, created=row["created"],
    )


class IdentityStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> str:
        async with self.pool.acquire() as conn:
            result: str = await conn.execute(sql, *args)
            return result

    # -- users --------------------------------------------------------------------------------------
    async def add_user(
        self, user_id: str, username: str, password_hash: str, display_name: str, practitioner_id: str | None
    ) -> None:
        await self._execute(
            "INSERT INTO app_user (id, username, password_hash, display_name, practitioner_id)"
            " VALUES ($1, $2, $3, $4, $5)", user_id, username, password_hash, display_name, practitioner_id,
        )

    async def user_by_name(self, username: str) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM app_user WHERE lower(username) = lower($1)", username)

    async def user_by_id(self, user_id: str) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM app_user WHERE id = $1", user_id)

    async def find_users(self, text: str | None, facility_id: str | None, limit: int) -> list[UserRow]:
        """Users whose username or name contains ``text``, holding a role at ``facility_id`` (None: any)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"{_USER_ROW} WHERE ($1::text IS NULL OR u.username ILIKE '%' || $1 || '%'"
                " OR u.display_name ILIKE '%' || $1 || '%') AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM"
                " user_grant g WHERE g.user_id = u.id AND g.facility_id = $2)) ORDER BY u.username LIMIT $3",
                text, facility_id, limit,
            )
        return [_user(r) for r in rows]

    async def user_row(self, user_id: str) -> UserRow | None:
        row = await self._fetchrow(f"{_USER_ROW} WHERE u.id = $1", user_id)
        return _user(row) if row else None

    async def user_row_by_name(self, username: str) -> UserRow | None:
        row = await self._fetchrow(f"{_USER_ROW} WHERE lower(u.username) = lower($1)", username)
        return _user(row) if row else None

    async def unlock(self, user_id: str) -> None:
        await self._execute("UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = $1", user_id)

    async def remove_grant(self, user_id: str, role: str, facility_id: str, department_id: str | None) -> bool:
        """Revoke a grant; sessions of the user pick the change up on their next request."""
        result = await self._execute(
            "DELETE FROM user_grant WHERE user_id = $1 AND role = $2 AND facility_id = $3 AND department_id = $4",
            user_id, role, facility_id, department_id or "",
        )
        return result.endswith(" 1")

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE app_user SET disabled = $2 WHERE id = $1", user_id, disabled)
            if disabled:  # a disabled user is logged out everywhere at once
                await _end_everything(conn, user_id)

    async def add_grant(self, user_id: str, role: str, facility_id: str, department_id: str | None) -> None:
        await self._execute(
            "INSERT INTO user_grant VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            user_id, role, facility_id, department_id or "",
        )

    async def grants(self, user_id: str) -> list[tuple[str, str, str | None]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT role, facility_id, department_id FROM user_grant WHERE user_id = $1",
                                    user_id)
        return [(r["role"], r["facility_id"], r["department_id"] or None) for r in rows]

    async def login_failed(self, user_id: str, locked_until: datetime | None) -> None:
        await self._execute(
            "UPDATE app_user SET failed_logins = failed_logins + 1, locked_until = $2 WHERE id = $1",
            user_id, locked_until,
        )

    async def login_succeeded(self, user_id: str, totp_step: int | None) -> None:
        await self._execute(
            "UPDATE app_user SET failed_logins = 0, locked_until = NULL,"
            " totp_last_step = coalesce($2, totp_last_step) WHERE id = $1", user_id, totp_step,
        )

    async def set_totp(self, user_id: str, secret: str | None) -> None:
        await self._execute("UPDATE app_user SET totp_secret = $2, totp_last_step = NULL WHERE id = $1",
                            user_id, secret)

    async def set_password(self, user_id: str, password_hash: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", user_id, password_hash)
            await _end_everything(conn, user_id)

    # -- sessions -------------------------------------------------------------------------------------
    async def create_session(
        self, id_hash: bytes, user_id: str, csrf: str, now: datetime, expires: datetime,
        facility_id: str | None, department_id: str | None, remote_addr: str | None, user_agent: str | None,
    ) -> None:
        await self._execute(
            "INSERT INTO auth_session (id_hash, user_id, csrf, created, last_seen, expires, facility_id,"
            " department_id, remote_addr, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
            id_hash, user_id, csrf, now, expires, facility_id, department_id, remote_addr, user_agent,
        )

    async def load_session(self, id_hash: bytes) -> asyncpg.Record | None:
        """The session with its user and grants, in one query (runs on every request)."""
        return await self._fetchrow(
            """SELECT s.*, u.username, u.practitioner_id, u.disabled,
                      coalesce((SELECT array_agg(ARRAY[g.role, g.facility_id, g.department_id])
                                FROM user_grant g WHERE g.user_id = u.id), '{}') AS grants
               FROM auth_session s JOIN app_user u ON u.id = s.user_id WHERE s.id_hash = $1""", id_hash,
        )

    async def touch_session(self, id_hash: bytes, now: datetime) -> None:
        await self._execute("UPDATE auth_session SET last_seen = $2 WHERE id_hash = $1", id_hash, now)

    async def switch_session(self, id_hash: bytes, facility_id: str, department_id: str | None) -> None:
        # Switching facility ends break-the-glass: it was granted for the work at the previous one.
        await self._execute(
            "UPDATE auth_session SET facility_id = $2, department_id = $3, btg_reason = NULL, btg_patient = NULL,"
            " btg_until = NULL WHERE id_hash = $1", id_hash, facility_id, department_id,
        )

    async def break_glass(self, id_hash: bytes, reason: str, patient_id: str | None, until: datetime) -> None:
        await self._execute(
            "UPDATE auth_session SET btg_reason = $2, btg_patient = $3, btg_until = $4 WHERE id_hash = $1",
            id_hash, reason, patient_id, until,
        )

    async def end_session(self, id_hash: bytes) -> None:
        await self._execute("DELETE FROM auth_session WHERE id_hash = $1", id_hash)

    async def end_everything(self, user_id: str) -> None:
        """Logout everywhere: every session and every token of the user."""
        async with self.pool.acquire() as conn, conn.transaction():
            await _end_everything(conn, user_id)

    # -- OAuth2 clients, codes, tokens ------------------------------------------------------------
    async def add_client(
        self, client_id: str, name: str, secret_hash: str | None, jwks: str | None, auth_method: str,
        redirect_uris: list[str], grant_types: list[str], scope: str, facility_id: str | None,
    ) -> None:
        await self._execute(
            "INSERT INTO oauth_client (client_id, name, secret_hash, jwks, auth_method, redirect_uris, grant_types,"
            " scope, facility_id) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)",
            client_id, name, secret_hash, jwks, auth_method, redirect_uris, grant_types, scope, facility_id,
        )

    async def list_clients(self, facility_id: str | None) -> list[ClientRow]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM oauth_client WHERE $1::text IS NULL OR facility_id = $1 ORDER BY client_id",
                facility_id,
            )
        return [_client(r) for r in rows]

    async def client_row(self, client_id: str) -> ClientRow | None:
        row = await self._fetchrow("SELECT * FROM oauth_client WHERE client_id = $1", client_id)
        return _client(row) if row else None

    async def set_client_secret(self, client_id: str, secret_hash: str) -> None:
        """Rotate: the old secret stops working at once, and so do the tokens issued with it."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE oauth_client SET secret_hash = $2 WHERE client_id = $1", client_id,
                               secret_hash)
            await conn.execute("UPDATE oauth_token SET revoked = true WHERE client_id = $1 AND NOT revoked",
                               client_id)

    async def set_client_disabled(self, client_id: str, disabled: bool) -> int:
        """Disabling revokes the client's tokens and removes its remembered approvals (how many: returned)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE oauth_client SET disabled = $2 WHERE client_id = $1", client_id, disabled)
            if not disabled:
                return 0
            await conn.execute("UPDATE oauth_token SET revoked = true WHERE client_id = $1 AND NOT revoked",
                               client_id)
            result: str = await conn.execute("DELETE FROM oauth_approval WHERE client_id = $1", client_id)
        return int(result.split()[-1])

    async def client(self, client_id: str) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM oauth_client WHERE client_id = $1 AND NOT disabled", client_id)

    async def save_code(self, code_hash: bytes, values: dict[str, Any]) -> None:
        cols = ["code_hash", *values]
        marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
        await self._execute(f"INSERT INTO oauth_code ({', '.join(cols)}) VALUES ({marks})", code_hash,
                            *values.values())

    async def take_code(self, code_hash: bytes) -> asyncpg.Record | None:
        """Codes are single use: taking one deletes it (RFC 6749 §4.1.2)."""
        return await self._fetchrow("DELETE FROM oauth_code WHERE code_hash = $1 RETURNING *", code_hash)

    async def peek_code(self, code_hash: bytes) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM oauth_code WHERE code_hash = $1", code_hash)

    async def save_token(self, values: dict[str, Any]) -> None:
        cols = list(values)
        marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
        await self._execute(f"INSERT INTO oauth_token ({', '.join(cols)}) VALUES ({marks})", *values.values())

    async def token_by_access(self, access_hash: bytes) -> asyncpg.Record | None:
        """The token with its user and grants (runs on every API request)."""
        return await self._fetchrow(
            """SELECT t.*, u.username, u.practitioner_id, coalesce(u.disabled, false) OR c.disabled AS disabled,
                      c.facility_id AS client_facility,
                      coalesce((SELECT array_agg(ARRAY[g.role, g.facility_id, g.department_id])
                                FROM user_grant g WHERE g.user_id = t.user_id), '{}') AS grants
               FROM oauth_token t JOIN oauth_client c ON c.client_id = t.client_id
               LEFT JOIN app_user u ON u.id = t.user_id WHERE t.access_hash = $1""", access_hash,
        )

    async def token_by_refresh(self, refresh_hash: bytes) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM oauth_token WHERE refresh_hash = $1", refresh_hash)

    async def token_by_any(self, token_hash: bytes) -> asyncpg.Record | None:
        return await self._fetchrow("SELECT * FROM oauth_token WHERE access_hash = $1 OR refresh_hash = $1",
                                    token_hash)

    async def revoke(self, token_hash: bytes) -> int:
        """Revoke the token whose access or refresh secret hashes to ``token_hash`` (RFC 7009)."""
        result = await self._execute(
            "UPDATE oauth_token SET revoked = true WHERE (access_hash = $1 OR refresh_hash = $1) AND NOT revoked",
            token_hash,
        )
        return int(result.split()[-1])

    async def use_jti(self, jti: str, expires: datetime, now: datetime) -> bool:
        """Record a client assertion id; False if it was seen before (replay, RFC 7523 §3)."""
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM oauth_jti WHERE expires < $1", now)
            status = await conn.execute("INSERT INTO oauth_jti VALUES ($1, $2) ON CONFLICT DO NOTHING", jti, expires)
        return status.endswith(" 1")

    # -- SMART launch contexts and the OpenID signing key (migration 0005) ------------------------------
    async def save_launch(self, launch_hash: bytes, values: dict[str, Any], now: datetime) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM oauth_launch WHERE expires < $1", now)
            await conn.execute(
                "INSERT INTO oauth_launch (launch_hash, user_id, patient_id, encounter_id, expires)"
                " VALUES ($1, $2, $3, $4, $5)", launch_hash, values["user_id"], values["patient_id"],
                values.get("encounter_id"), values["expires"],
            )

    async def launch(self, launch_hash: bytes, user_id: str, now: datetime, *, take: bool) -> asyncpg.Record | None:
        """A live launch context opened by ``user_id``.  Single-use: ``take`` deletes it (the approval does)."""
        verb = "DELETE FROM oauth_launch" if take else "SELECT * FROM oauth_launch"
        return await self._fetchrow(
            f"{verb} WHERE launch_hash = $1 AND user_id = $2 AND expires > $3{' RETURNING *' if take else ''}",
            launch_hash, user_id, now,
        )

    # -- remembered app approvals (migration 0006) -------------------------------------------------------
    async def approval(self, user_id: str, client_id: str, now: datetime) -> asyncpg.Record | None:
        """The user's unexpired approval of an enabled client."""
        return await self._fetchrow(
            "SELECT a.* FROM oauth_approval a JOIN oauth_client c USING (client_id) WHERE a.user_id = $1"
            " AND a.client_id = $2 AND a.expires > $3 AND NOT c.disabled", user_id, client_id, now,
        )

    async def save_approval(self, user_id: str, client_id: str, scopes: list[str], now: datetime,
                            expires: datetime) -> None:
        await self._execute(
            "INSERT INTO oauth_approval VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, client_id)"
            " DO UPDATE SET scopes = EXCLUDED.scopes, approved = EXCLUDED.approved, expires = EXCLUDED.expires",
            user_id, client_id, scopes, now, expires,
        )

    async def approvals(self, user_id: str, now: datetime) -> list[asyncpg.Record]:
        """The user's unexpired approvals with the client's name, newest first."""
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(
                "SELECT a.*, c.name FROM oauth_approval a JOIN oauth_client c USING (client_id)"
                " WHERE a.user_id = $1 AND a.expires > $2 AND NOT c.disabled ORDER BY a.approved DESC",
                user_id, now,
            ))

    async def revoke_approval(self, user_id: str, client_id: str) -> bool:
        """Forget the approval and revoke the tokens the client holds for the user (False: there was none)."""
        async with self.pool.acquire() as conn, conn.transaction():
            result: str = await conn.execute(
                "DELETE FROM oauth_approval WHERE user_id = $1 AND client_id = $2", user_id, client_id)
            await conn.execute("UPDATE oauth_token SET revoked = true WHERE user_id = $1 AND client_id = $2"
                               " AND NOT revoked", user_id, client_id)
        return result.endswith(" 1")

    async def signing_keys(self) -> list[str]:
        """The id_token signing keys (private JWKs), oldest first: the oldest signs, all are published."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT private_jwk::text FROM oauth_signing_key ORDER BY created, kid")
        return [str(r[0]) for r in rows]

    async def add_signing_key(self, kid: str, private_jwk: str, now: datetime) -> None:
        """Two workers starting together may both add one; both then sign with the oldest."""
        await self._execute("INSERT INTO oauth_signing_key VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING",
                            kid, now, private_jwk)

async def _end_everything(conn: Conn, user_id: str) -> None:
    await conn.execute("DELETE FROM auth_session WHERE user_id = $1", user_id)
    await conn.execute("UPDATE oauth_token SET revoked = true WHERE user_id = $1 AND NOT revoked", user_id)
