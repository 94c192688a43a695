"""``benhan user | client | facility | department | audit | access`` (issue 4): administration from the shell.

Resources (Practitioner, PractitionerRole, Organization) are written through the repository as a system
context, so they are audited and the access facts (organisation tree) are maintained.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")
DatabaseCm = Callable[[], AbstractContextManager[str]]

user_app = typer.Typer(help="Staff users: add, list, disable, grant roles.", no_args_is_help=True)
client_app = typer.Typer(help="OAuth2 clients of the FHIR API.", no_args_is_help=True)
facility_app = typer.Typer(help="Facilities (Organization) of the province.", no_args_is_help=True)
department_app = typer.Typer(help="Departments (khoa) of a facility.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
access_app = typer.Typer(help="Access facts (care relations, consent opt-outs, organisation tree).",
                         no_args_is_help=True)
_database: list[DatabaseCm] = []


def register_access_commands(app: typer.Typer, database: DatabaseCm) -> None:
    _database.append(database)
    for name, sub in (("user", user_app), ("client", client_app), ("facility", facility_app),
                      ("department", department_app), ("audit", audit_app), ("access", access_app)):
        app.add_typer(sub, name=name)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(services)`` against the database (migrated first)."""
    from benhan import migrate as migrations

    with _database[0]() as url:
        migrations.upgrade(url)
        return asyncio.run(_with_services(url, work))


class Services:
    def __init__(self, pool: Any) -> None:
        from benhan.access import AccessControl
        from benhan.fhir.storage.pg.audit import AuditLog
        from benhan.fhir.storage.pg.identity import IdentityStore
        from benhan.fhir.storage.pg.repository import PgRepository
        from benhan.kernel.context import RequestContext

        self.pool = pool
        self.access = AccessControl()
        self.audit = AuditLog(pool)
        self.repo = PgRepository(pool, access=self.access, audit=self.audit)
        self.store = IdentityStore(pool)
        self.ctx = RequestContext.system(f"cli:{getpass.getuser()}")

    async def create(self, resource: dict[str, Any]) -> str:
        return (await self.repo.create(self.ctx, resource)).resource.id


async def _with_services(url: str, work: Callable[[Services], Awaitable[T]]) -> T:
    from benhan.kernel.db import create_pool

    pool = await create_pool(url, 1, 3)
    services = Services(pool)
    try:
        return await work(services)
    finally:
        await services.audit.close()
        await pool.close()


def _parse_grant(text: str) -> tuple[str, str, str | None]:
    """``role@facility`` or ``role@facility/department``."""
    from benhan.access.roles import parse_role

    try:
        role, place = text.split("@", 1)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: write ROLE@FACILITY_ID[/DEPARTMENT_ID]") from None
    facility, _, department = place.partition("/")
    try:
        parse_role(role)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return role, facility, department or None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mật khẩu / password: ")
    if first != getpass.getpass("Nhập lại / again: "):
        raise typer.BadParameter("the passwords differ")
    return first


@user_app.command("add")
def user_add(
    username: str,
    name: Annotated[str, typer.Option(help="Full name (Vietnamese, with diacritics)")],
    role: Annotated[list[str] | None, typer.Option(help="ROLE@FACILITY[/DEPARTMENT], repeatable")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    totp: Annotated[bool, typer.Option("--totp", help="Enrol a TOTP second factor and print its URI")] = False,
) -> None:
    """Add a staff user with a Practitioner and one PractitionerRole per grant."""
    from benhan.access import identity as ident
    from benhan.access.roles import Grant, practitioner_role
    from benhan.kernel.ids import new_id

    grants = [Grant(*_parse_grant(r)) for r in role or []]
    password_hash = ident.hash_password(_password(password_stdin))
    secret = ident.new_totp_secret() if totp else None

    async def work(s: Services) -> str:
        practitioner = await s.create({"resourceType": "Practitioner", "active": True, "name": [{"text": name}]})
        user_id = new_id()
        await s.store.add_user(user_id, username, password_hash, name, practitioner)
        for g in grants:
            await s.store.add_grant(user_id, g.role, g.facility_id, g.department_id)
            await s.create(practitioner_role(practitioner, g))
        if secret:
            await s.store.set_totp(user_id, secret)
        return user_id

    user_id = _run(work)
    typer.echo(f"user {username} added (id {user_id})")
    if secret:
        typer.echo(f"TOTP: {ident.totp_uri(secret, username)}")


@user_app.command("list")
def user_list() -> None:
    """List users with their grants."""
    async def work(s: Services) -> list[Any]:
        return await s.store.list_users()

    for row in _run(work):
        flags = " ".join(f for f, on in (("disabled", row["disabled"]), ("totp", row["totp"])) if on)
        typer.echo(f"{row['username']}\t{row['display_name']}\t{','.join(row['grants'])}\t{flags}")


@user_app.command("disable")
def user_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="Enable again instead")] = False
) -> None:
    """Disable a user (ends every session and token at once), or enable again."""
    async def work(s: Services) -> bool:
        user = await s.store.user_by_name(username)
        if user is None:
            return False
        await s.store.set_disabled(user["id"], not enable)
        return True

    if not _run(work):
        raise typer.BadParameter(f"no user {username!r}")
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("grant")
def user_grant(username: str, grant: Annotated[str, typer.Argument(help="ROLE@FACILITY[/DEPARTMENT]")]) -> None:
    """Grant a role at a facility (and department) to a user."""
    from benhan.access.roles import Grant, practitioner_role

    g = Grant(*_parse_grant(grant))

    async def work(s: Services) -> bool:
        user = await s.store.user_by_name(username)
        if user is None:
            return False
        await s.store.add_grant(user["id"], g.role, g.facility_id, g.department_id)
        if user["practitioner_id"]:
            await s.create(practitioner_role(user["practitioner_id"], g))
        return True

    if not _run(work):
        raise typer.BadParameter(f"no user {username!r}")
    typer.echo(f"{username}: {grant}")


@client_app.command("add")
def client_add(
    client_id: str,
    name: Annotated[str, typer.Option(help="What the client is, e.g. 'LIS Bệnh viện tỉnh'")],
    scope: Annotated[str, typer.Option(help="Allowed SMART scopes, space separated")] = "system/*.rs",
    grant_type: Annotated[list[str] | None, typer.Option(help="client_credentials, authorization_code, "
                                                              "refresh_token (repeatable)")] = None,
    auth: Annotated[str, typer.Option(help="client_secret_basic | client_secret_post | private_key_jwt | none")]
    = "client_secret_basic",
    jwks: Annotated[Path | None, typer.Option(help="JWKS file with the client's public keys (private_key_jwt)")]
    = None,
    redirect_uri: Annotated[list[str] | None, typer.Option(help="Redirect URI (authorization code)")] = None,
    facility: Annotated[str | None, typer.Option(help="Facility the client acts for")] = None,
) -> None:
    """Register an OAuth2 client; a client secret, when used, is printed once."""
    from benhan.access import identity as ident

    if auth == "private_key_jwt" and jwks is None:
        raise typer.BadParameter("private_key_jwt needs --jwks")
    secret = ident.new_secret() if auth.startswith("client_secret") else None
    grants = grant_type or ["client_credentials"]

    async def work(s: Services) -> None:
        await s.store.add_client(
            client_id, name, ident.hash_password(secret) if secret else None,
            jwks.read_text(encoding="utf-8") if jwks else None, auth, redirect_uri or [], grants, scope, facility,
        )

    _run(work)
    typer.echo(f"client {client_id} added")
    if secret:
        typer.echo(f"client secret (shown once): {secret}")


@facility_app.command("add")
def facility_add(
    name: str,
    code: Annotated[str | None, typer.Option(help="BHYT facility code")] = None,
    province: Annotated[str | None, typer.Option(help="Id of the province (Sở Y tế) Organization")] = None,
) -> None:
    """Add a facility; prints its Organization id."""
    from benhan.access import org

    typer.echo(_run(lambda s: s.create(org.organization("facility", name, code=code, parent_id=province))))


@department_app.command("add")
def department_add(name: str, facility: Annotated[str, typer.Option(help="Facility Organization id")]) -> None:
    """Add a department (khoa) to a facility; prints its Organization id."""
    from benhan.access import org

    typer.echo(_run(lambda s: s.create(org.organization("department", name, parent_id=facility))))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chains of the audit log; exit 1 naming the first broken row."""
    from benhan.fhir.storage.pg.audit import verify

    async def work(s: Services) -> Any:
        async with s.pool.acquire() as conn:
            return await verify(conn)

    result = _run(work)
    if result.ok:
        typer.echo(f"audit log intact: {result.checked} rows checked")
        return
    chain, seq = result.broken
    typer.echo(f"audit log BROKEN at chain {chain} seq {seq}: {result.reason}", err=True)
    raise typer.Exit(1)


@access_app.command("rebuild")
def access_rebuild() -> None:
    """Recompute care relations, consent opt-outs and the organisation tree (after a bulk load)."""
    from benhan.fhir.storage.pg.access_sql import rebuild_facts
    from benhan.fhir.storage.pg.guard import FACT_TYPES

    async def work(s: Services) -> int:
        async with s.pool.acquire() as conn, conn.transaction():
            return await rebuild_facts(conn, s.access.derive, FACT_TYPES)

    typer.echo(f"{_run(work)} resources processed")
