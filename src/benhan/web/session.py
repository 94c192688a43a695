"""Authentication (issue 4): password + optional TOTP login with lockout, server-side sessions, bearer tokens,
and the request context each yields.  HTTP routes are in ``benhan.web.auth``; SQL in ``storage.pg.identity``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from benhan.access import identity as ident
from benhan.access.audit import audit_record
from benhan.access.config import PolicyConfig
from benhan.access.policy import requires_totp
from benhan.access.roles import Grant
from benhan.demo.logins import is_demo_login
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.kernel import clock
from benhan.kernel.context import RequestContext

SESSION_COOKIE = "benhan_session"
TOUCH_EVERY = timedelta(seconds=60)  # idle tracking without a write on every request
#: A bearer token's check is remembered this long per worker process, saving a query on every API call.
#: Revocation and logout act at once on the worker that performs them and within this time on the others.
TOKEN_CACHE_TTL = timedelta(seconds=5)
TOKEN_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class LoginResult:
    ok: bool
    #: stable reason for the client: bad_credentials | locked | totp_required | totp_invalid | totp_enrolment
    #: | no_role
    reason: str = ""
    session_token: str | None = None
    csrf: str | None = None
    retry_after: int | None = None
    ctx: RequestContext | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    ctx: RequestContext
    #: web session (cookie) requests carry the CSRF token to check unsafe methods against
    csrf: str | None = None
    session_hash: bytes | None = None


def grants_from(raw: Any) -> list[Grant]:
    return [Grant(g[0], g[1], g[2] or None) for g in raw or []]


class Authenticator:
    def __init__(
        self, store: IdentityStore, cfg: PolicyConfig, audit: AuditLog | None, *, demo_logins: bool = False
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.audit_log = audit
        #: the public demo accounts (``benhan.demo.logins``) sign in only when the app runs in demo mode
        self.demo_logins = demo_logins
        #: access-token hash -> (its context without the request's details, user id, remembered until); the
        #: context is shared by the token's requests (frozen; nothing writes to its ``extra``)
        self._tokens: dict[bytes, tuple[RequestContext, str | None, datetime]] = {}

    def forget_tokens(self, token_hash: bytes | None = None, user_id: str | None = None) -> None:
        """Drop remembered token checks (after a revocation or a logout everywhere)."""
        if token_hash is None and user_id is None:
            self._tokens.clear()
            return
        for key, (_ctx, uid, _until) in list(self._tokens.items()):
            if key == token_hash or (user_id is not None and uid == user_id):
                del self._tokens[key]

    async def audit(self, ctx: RequestContext, info: AuditInfo) -> None:
        if self.audit_log is not None:
            await self.audit_log.record([audit_record(ctx, info, clock.now())])

    # -- login ------------------------------------------------------------------------------------
    async def login(
        self,
        username: str,
        password: str,
        totp: str | None,
        facility_id: str | None,
        department_id: str | None,
        who: RequestContext,
    ) -> LoginResult:
        now = clock.now()
        attempt = RequestContext(
            username=username, remote_addr=who.remote_addr, user_agent=who.user_agent, request_id=who.request_id
        )
        if not self.demo_logins and is_demo_login(username):
            # Their passwords are published (README, `benhan demo`): outside demo mode they never open a session,
            # whatever the database holds. Same answer and timing as a wrong password.
            await asyncio.to_thread(ident.verify_password, ident.DUMMY_HASH, password)
            return await self._failed(attempt, None, "bad_credentials", "demo login outside demo mode")
        user = await self.store.user_by_name(username)
        if user is None or user["disabled"]:
            await asyncio.to_thread(ident.verify_password, ident.DUMMY_HASH, password)
            return await self._failed(attempt, None, "bad_credentials")
        if user["locked_until"] is not None and user["locked_until"] > now:
            wait = int((user["locked_until"] - now).total_seconds()) + 1
            await self.audit(attempt, AuditInfo("login-failed", "denied", detail="locked"))
            return LoginResult(False, "locked", retry_after=wait)
        if not await asyncio.to_thread(ident.verify_password, user["password_hash"], password):
            return await self._failed(attempt, user, "bad_credentials")
        grants = grants_from([(r, f, d) for r, f, d in await self.store.grants(user["id"])])
        step = None
        if user["totp_secret"]:
            if not totp:
                return LoginResult(False, "totp_required")
            step = ident.totp_check(user["totp_secret"], totp, user["totp_last_step"], now)
            if step is None:
                return await self._failed(attempt, user, "totp_invalid")
        elif requires_totp({g.role for g in grants}, self.cfg):
            await self.audit(attempt, AuditInfo("login-failed", "denied", detail="TOTP enrolment required"))
            return LoginResult(False, "totp_enrolment")
        chosen = ident.choose_facility(grants, facility_id, department_id)
        if chosen is None:
            await self.audit(attempt, AuditInfo("login-failed", "denied", detail="no role at that facility"))
            return LoginResult(False, "no_role")
        await self.store.login_succeeded(user["id"], step)
        return await self._open_session(user, grants, chosen, who, now)

    async def _failed(self, attempt: RequestContext, user: Any, reason: str, detail: str | None = None) -> LoginResult:
        retry = None
        if user is not None:
            until = ident.lockout_until(user["failed_logins"] + 1, clock.now(), self.cfg)
            await self.store.login_failed(user["id"], until)
            retry = int((until - clock.now()).total_seconds()) + 1 if until else None
        await self.audit(attempt, AuditInfo("login-failed", "failed", detail=detail or reason))
        return LoginResult(False, reason, retry_after=retry)

    async def _open_session(
        self,
        user: Any,
        grants: list[Grant],
        chosen: tuple[str, str | None],
        who: RequestContext,
        now: datetime,
    ) -> LoginResult:
        token, csrf = ident.new_secret(), ident.new_secret()
        await self.store.create_session(
            ident.secret_hash(token),
            user["id"],
            csrf,
            now,
            ident.session_expiry(now, self.cfg),
            chosen[0],
            chosen[1],
            who.remote_addr,
            (who.user_agent or "")[:500],
        )
        view = ident.SessionView(user["id"], user["username"], user["practitioner_id"], grants, *chosen)
        ctx = _with_request(ident.session_context(view), who)
        await self.audit(ctx, AuditInfo("login"))
        return LoginResult(True, session_token=token, csrf=csrf, ctx=ctx)

    # -- per request ------------------------------------------------------------------------------
    async def from_session(self, token: str, who: RequestContext) -> Resolved | None:
        id_hash = ident.secret_hash(token)
        row = await self.store.load_session(id_hash)
        now = clock.now()
        if row is None or row["disabled"] or not ident.session_alive(row["last_seen"], row["expires"], now, self.cfg):
            if row is not None:
                await self.store.end_session(id_hash)  # idle or expired: gone for good
            return None
        if now - row["last_seen"] > TOUCH_EVERY:
            await self.store.touch_session(id_hash, now)
        view = ident.SessionView(
            row["user_id"],
            row["username"],
            row["practitioner_id"],
            grants_from(row["grants"]),
            row["facility_id"],
            row["department_id"],
            row["btg_reason"],
            row["btg_patient"],
            row["btg_until"],
        )
        return Resolved(_with_request(ident.session_context(view), who), row["csrf"], id_hash)

    async def from_bearer(self, token: str, who: RequestContext) -> Resolved | None:
        token_hash, now = ident.secret_hash(token), clock.now()
        cached = self._tokens.get(token_hash)
        if cached is not None and cached[2] > now:
            return Resolved(_with_request(cached[0], who))
        row = await self.store.token_by_access(token_hash)
        if row is None or row["revoked"] or row["expires"] <= now or row["disabled"]:
            self._tokens.pop(token_hash, None)
            return None
        view = ident.TokenView(
            client_id=row["client_id"],
            scope=row["scope"],
            user_id=row["user_id"],
            username=row["username"],
            practitioner_id=row["practitioner_id"],
            grants=tuple(grants_from(row["grants"])),
            facility_id=row["facility_id"] or (row["client_facility"] if row["user_id"] is None else None),
            department_id=row["department_id"],
            patient_id=row["patient_id"],
        )
        if len(self._tokens) >= TOKEN_CACHE_MAX:
            self._tokens.clear()
        ctx = ident.token_context(view)
        self._tokens[token_hash] = (ctx, row["user_id"], min(now + TOKEN_CACHE_TTL, row["expires"]))
        return Resolved(_with_request(ctx, who))

    # -- session changes --------------------------------------------------------------------------
    async def switch(self, resolved: Resolved, facility_id: str, department_id: str | None) -> bool:
        assert resolved.session_hash is not None
        assert resolved.ctx.user_id is not None
        grants = grants_from(await self.store.grants(resolved.ctx.user_id))
        chosen = ident.choose_facility(grants, facility_id, department_id)
        if chosen is None:
            await self.audit(resolved.ctx, AuditInfo("session-switch", "denied", detail=facility_id))
            return False
        await self.store.switch_session(resolved.session_hash, chosen[0], chosen[1])
        await self.audit(resolved.ctx, AuditInfo("session-switch", detail=f"{chosen[0]}/{chosen[1] or ''}"))
        return True

    async def break_glass(self, resolved: Resolved, reason: str, patient_id: str | None) -> datetime | None:
        """Open records outside the usual rules, for a limited time, with a reason (flagged in the audit)."""
        ctx = resolved.ctx
        allowed = any(self.cfg.roles[r].break_glass for r in ctx.roles if r in self.cfg.roles)
        if not allowed or len(reason.strip()) < 10 or resolved.session_hash is None:
            await self.audit(ctx, AuditInfo("break-glass", "denied", patient_id=patient_id, detail=reason[:500]))
            return None
        until = clock.now() + timedelta(minutes=self.cfg.break_glass_minutes)
        await self.store.break_glass(resolved.session_hash, reason.strip()[:500], patient_id, until)
        flagged = RequestContext(**{**_fields(ctx), "break_glass_reason": reason.strip()[:500]})
        await self.audit(
            flagged, AuditInfo("break-glass", patient_id=patient_id, detail=reason[:500], break_glass=True)
        )
        return until

    async def logout(self, resolved: Resolved, everywhere: bool) -> None:
        if everywhere and resolved.ctx.user_id:
            await self.store.end_everything(resolved.ctx.user_id)
            self.forget_tokens(user_id=resolved.ctx.user_id)
        elif resolved.session_hash is not None:
            await self.store.end_session(resolved.session_hash)
        await self.audit(resolved.ctx, AuditInfo("logout", detail="everywhere" if everywhere else None))


def _fields(ctx: RequestContext) -> dict[str, Any]:
    return {name: getattr(ctx, name) for name in ctx.__dataclass_fields__}


def _with_request(ctx: RequestContext, who: RequestContext) -> RequestContext:
    return ctx.with_request(remote_addr=who.remote_addr, user_agent=who.user_agent, request_id=who.request_id or "")
