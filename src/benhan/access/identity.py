"""Identity rules (pure): passwords (argon2id), lockout back-off, TOTP, secrets, session lifetimes, and the
request context built from a web session or an OAuth2 token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from benhan.access.config import PolicyConfig
from benhan.access.policy import BTG_PATIENT, BTG_UNTIL, LAUNCH_PATIENT
from benhan.access.roles import Grant, active_roles
from benhan.kernel.context import RequestContext

# argon2id with the library's defaults (RFC 9106 "second recommended" profile).
_HASHER = PasswordHasher()
#: verified against when the user does not exist, so timing does not reveal valid usernames
DUMMY_HASH = _HASHER.hash("benhan-no-such-user")
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(nbytes: int = 32) -> str:
    """An unguessable token (session ids, codes, access and refresh tokens, CSRF tokens)."""
    return secrets.token_urlsafe(nbytes)


def secret_hash(token: str) -> bytes:
    """What the database stores instead of a bearer secret: a leaked table gives no usable token."""
    return hashlib.sha256(token.encode()).digest()


def lockout_until(failures: int, now: datetime, cfg: PolicyConfig) -> datetime | None:
    """Exponential back-off: after ``max_failures`` failures, lock for base·2^(extra failures), capped."""
    limit = cfg.login.get("max_failures", 5)
    if failures < limit:
        return None
    base = cfg.login.get("lockout_base_seconds", 30)
    cap = cfg.login.get("lockout_max_seconds", 3600)
    seconds = min(cap, base * 2 ** min(failures - limit, 20))
    return now + timedelta(seconds=seconds)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="benhan")


def totp_check(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    """The time step a valid code belongs to (±1 step of clock drift, RFC 6238 §5.2), or None.  A code of
    a step already used is refused (no replay)."""
    totp = pyotp.TOTP(secret)
    step_now = int(now.timestamp()) // totp.interval
    code = code.strip().replace(" ", "")
    for step in (step_now, step_now - 1, step_now + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def session_alive(last_seen: datetime, expires: datetime, now: datetime, cfg: PolicyConfig) -> bool:
    idle = timedelta(minutes=cfg.session.get("idle_minutes", 30))
    return now < expires and now - last_seen < idle


def session_expiry(now: datetime, cfg: PolicyConfig) -> datetime:
    return now + timedelta(hours=cfg.session.get("absolute_hours", 12))


@dataclass(frozen=True, slots=True)
class SessionView:
    """A web session as loaded with its user: what the request context is built from."""

    user_id: str
    username: str
    practitioner_id: str | None
    grants: list[Grant]
    facility_id: str | None
    department_id: str | None
    btg_reason: str | None = None
    btg_patient: str | None = None
    btg_until: datetime | None = None


def session_context(view: SessionView) -> RequestContext:
    extra: dict[str, str] = {}
    if view.btg_reason and view.btg_until:
        extra[BTG_UNTIL] = view.btg_until.isoformat()
        if view.btg_patient:
            extra[BTG_PATIENT] = view.btg_patient
    return RequestContext(
        user_id=view.user_id, username=view.username, practitioner_id=view.practitioner_id,
        roles=active_roles(view.grants, view.facility_id, view.department_id), facility_id=view.facility_id,
        department_id=view.department_id, break_glass_reason=view.btg_reason if extra else None, extra=extra,
    )


@dataclass(frozen=True, slots=True)
class TokenView:
    client_id: str
    scope: str
    user_id: str | None = None
    username: str | None = None
    practitioner_id: str | None = None
    grants: tuple[Grant, ...] = ()
    facility_id: str | None = None
    department_id: str | None = None
    patient_id: str | None = None


def token_context(view: TokenView) -> RequestContext:
    extra = {LAUNCH_PATIENT: view.patient_id} if view.patient_id else {}
    roles = active_roles(list(view.grants), view.facility_id, view.department_id) if view.user_id else frozenset()
    return RequestContext(
        user_id=view.user_id, username=view.username or view.client_id, practitioner_id=view.practitioner_id,
        roles=roles, facility_id=view.facility_id, department_id=view.department_id,
        scopes=frozenset(view.scope.split()), client_id=view.client_id, extra=extra,
    )


def choose_facility(
    grants: list[Grant], facility_id: str | None, department_id: str | None
) -> tuple[str, str | None] | None:
    """The (facility, department) to activate: the one asked for if the user holds a role there, else the
    first one the user holds; None if the user holds no role at all or asked for one not held."""
    if not grants:
        return None
    if facility_id is None:
        first = sorted(grants, key=lambda g: (g.facility_id, g.department_id or ""))[0]
        return first.facility_id, first.department_id
    held = [g for g in grants if g.facility_id == facility_id]
    if not held:
        return None
    if department_id is not None and not any(g.department_id in (None, department_id) for g in held):
        return None
    if department_id is None:
        department_id = next((g.department_id for g in held if g.department_id), None)
    return facility_id, department_id
