"""What the administration and audit-report use-cases (``benhan.admin``) need from storage, as protocols, so
the use-cases never import the PostgreSQL implementation (``storage.pg.identity``, ``storage.pg.audit``).

Users, role grants and OAuth2 clients are not FHIR resources (they hold secrets); the FHIR side of a user
(Practitioner, PractitionerRole) and the organisation tree go through the guarded repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from benhan.fhir.storage.access_types import audit_event_id


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    username: str
    display_name: str
    practitioner_id: str | None
    disabled: bool
    locked_until: datetime | None
    failed_logins: int
    totp: bool
    #: (role, facility id, department id or None)
    grants: tuple[tuple[str, str, str | None], ...]


@dataclass(frozen=True, slots=True)
class ClientRow:
    client_id: str
    name: str
    auth_method: str
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scope: str
    facility_id: str | None
    disabled: bool
    has_secret: bool
    has_jwks: bool
    created: datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    user_name: str | None = None
    patient_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    break_glass: bool | None = None
    facility_id: str | None = None
    department_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    chain: int
    seq: int
    recorded: datetime
    action: str
    outcome: str
    user_name: str | None
    user_id: str | None
    client_id: str | None
    facility_id: str | None
    department_id: str | None
    patient_id: str | None
    break_glass: bool
    entity: tuple[str, ...]
    #: the stored AuditEvent JSON (IHE BALP), which the columns above summarise
    content: bytes = b""
    #: 0 for a row of the audit log, else the event's place in its block of the read audit (migration 0018)
    part: int = 0

    @property
    def event_id(self) -> str:
        return audit_event_id(self.chain, self.seq, self.part)


class UserDirectory(Protocol):
    async def add_user(
        self, user_id: str, username: str, password_hash: str, display_name: str, practitioner_id: str | None
    ) -> None: ...

    async def find_users(self, text: str | None, facility_id: str | None, limit: int) -> list[UserRow]: ...

    async def user_row(self, user_id: str) -> UserRow | None: ...

    async def user_row_by_name(self, username: str) -> UserRow | None: ...

    async def set_disabled(self, user_id: str, disabled: bool) -> None: ...

    async def set_password(self, user_id: str, password_hash: str) -> None: ...

    async def unlock(self, user_id: str) -> None: ...

    async def set_totp(self, user_id: str, secret: str | None) -> None: ...

    async def add_grant(self, user_id: str, role: str, facility_id: str, department_id: str | None) -> None: ...

    async def remove_grant(self, user_id: str, role: str, facility_id: str, department_id: str | None) -> bool: ...

    async def add_client(
        self, client_id: str, name: str, secret_hash: str | None, jwks: str | None, auth_method: str,
        redirect_uris: list[str], grant_types: list[str], scope: str, facility_id: str | None,
    ) -> None: ...

    async def list_clients(self, facility_id: str | None) -> list[ClientRow]: ...

    async def client_row(self, client_id: str) -> ClientRow | None: ...

    async def set_client_secret(self, client_id: str, secret_hash: str) -> None: ...

    async def set_client_disabled(self, client_id: str, disabled: bool) -> int: ...


class AuditReader(Protocol):
    async def search(self, where: AuditFilter, offset: int, limit: int) -> list[AuditRow]: ...

    async def event(self, chain: int, seq: int, part: int = 0) -> AuditRow | None: ...
