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
        from benhan.access.audit import audit_record
        from benhan.admin.scope import AdminDeps
        from benhan.fhir.storage.pg.audit_reports import AuditReports
        from benhan.kernel import clock

        self.store = IdentityStore(pool)
        self.ctx = RequestContext.system(f"cli:{getpass.getuser()}")

        async def audit(ctx: Any, info: Any) -> None:
            await self.audit.record([audit_record(ctx, info, clock.now())])

        self.admin = AdminDeps(self.repo, self.store, AuditReports(pool), audit, self.access.config)


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


def _admin_error(exc: Exception) -> typer.BadParameter:
    from benhan.clinical.records import ClinicalError

    if isinstance(exc, ClinicalError):
        return typer.BadParameter(" ".join(f"{m.field}: {m.message_en}" if m.field else m.message_en
                                           for m in exc.messages))
    return typer.BadParameter(str(exc))


def _admin(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run an administration use-case (``benhan.admin``, shared with the web screens) as the CLI's system
    context; its refusals become usage errors."""
    from benhan.clinical.records import ClinicalError
    from benhan.kernel.errors import BenhanError

    try:
        return _run(work)
    except (ClinicalError, BenhanError) as exc:
        raise _admin_error(exc) from None


async def _user_id(s: Services, username: str) -> str:
    user = await s.store.user_row_by_name(username)
    if user is None:
        raise typer.BadParameter(f"no user {username!r}")
    return user.id


@user_app.command("add")
def user_add(
    username: str,
    name: Annotated[str, typer.Option(help="Full name (Vietnamese, with diacritics)")],
    role: Annotated[list[str] | None, typer.Option(help="ROLE@FACILITY[/DEPARTMENT], repeatable")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    totp: Annotated[bool, typer.Option("--totp", help="Enrol a TOTP second factor and print its URI")] = False,
) -> None:
    """Add a staff user with a Practitioner and one PractitionerRole per grant."""
    from benhan.access.roles import Grant
    from benhan.admin import users

    form = users.NewUser(username, name, _password(password_stdin), tuple(Grant(*_parse_grant(r)) for r in role or []),
                         totp)
    created = _admin(lambda s: users.create_user(s.admin, s.ctx, form))
    typer.echo(f"user {username} added (id {created.user_id})")
    if created.totp_uri:
        typer.echo(f"TOTP: {created.totp_uri}")


@user_app.command("list")
def user_list(search: Annotated[str, typer.Argument(help="Part of a username or name")] = "") -> None:
    """List users with their grants."""
    from benhan.admin import users

    for row in _admin(lambda s: users.find_users(s.admin, s.ctx, search)):
        flags = " ".join(f for f, on in (("disabled", row.disabled), ("totp", row.totp)) if on)
        grants = ",".join(f"{r}@{f}" + (f"/{d}" if d else "") for r, f, d in row.grants)
        typer.echo(f"{row.username}\t{row.display_name}\t{grants}\t{flags}")


@user_app.command("disable")
def user_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="Enable again instead")] = False
) -> None:
    """Disable a user (ends every session and token at once), or enable again."""
    from benhan.admin import users

    async def work(s: Services) -> None:
        await users.set_disabled(s.admin, s.ctx, await _user_id(s, username), not enable)

    _admin(work)
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Clear a lockout after failed logins."""
    from benhan.admin import users

    async def work(s: Services) -> None:
        await users.unlock(s.admin, s.ctx, await _user_id(s, username))

    _admin(work)
    typer.echo(f"user {username} unlocked")


@user_app.command("password")
def user_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Set a new password (ends the user's sessions and tokens)."""
    from benhan.admin import users

    password = _password(password_stdin)

    async def work(s: Services) -> None:
        await users.reset_password(s.admin, s.ctx, await _user_id(s, username), password)

    _admin(work)
    typer.echo(f"password of {username} set")


@user_app.command("grant")
def user_grant(
    username: str, grant: Annotated[str, typer.Argument(help="ROLE@FACILITY[/DEPARTMENT]")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the role instead")] = False,
) -> None:
    """Grant (or revoke) a role at a facility (and department)."""
    from benhan.access.roles import Grant
    from benhan.admin import users

    g = Grant(*_parse_grant(grant))

    async def work(s: Services) -> None:
        change = users.revoke_role if revoke else users.grant_role
        await change(s.admin, s.ctx, await _user_id(s, username), g)

    _admin(work)
    typer.echo(f"{username}: {'-' if revoke else ''}{grant}")


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
    from benhan.admin import clients

    kind = {"private_key_jwt": "jwks", "none": "public"}.get(auth, "secret")
    if kind == "jwks" and jwks is None:
        raise typer.BadParameter("private_key_jwt needs --jwks")
    form = clients.NewClient(
        client_id, name, kind, scope, jwks.read_text(encoding="utf-8") if jwks else "", tuple(redirect_uri or ()),
        facility, auth, tuple(grant_type or ()),
    )
    secret = _admin(lambda s: clients.register_client(s.admin, s.ctx, form))
    typer.echo(f"client {client_id} added")
    if secret:
        typer.echo(f"client secret (shown once): {secret}")


@client_app.command("rotate")
def client_rotate(client_id: str) -> None:
    """A new client secret (printed once); the old one and its tokens stop working."""
    from benhan.admin import clients

    typer.echo(f"client secret (shown once): {_admin(lambda s: clients.rotate_secret(s.admin, s.ctx, client_id))}")


@client_app.command("disable")
def client_disable(
    client_id: str, enable: Annotated[bool, typer.Option("--enable", help="Enable again instead")] = False
) -> None:
    """Disable a client (its tokens are revoked), or enable again."""
    from benhan.admin import clients

    _admin(lambda s: clients.set_disabled(s.admin, s.ctx, client_id, not enable))
    typer.echo(f"client {client_id} {'enabled' if enable else 'disabled'}")


@facility_app.command("add")
def facility_add(
    name: str,
    code: Annotated[str | None, typer.Option(help="BHYT facility code")] = None,
    province: Annotated[str | None, typer.Option(help="Id of the province (Sở Y tế) Organization")] = None,
    is_province: Annotated[bool, typer.Option("--is-province", help="Add the province (Sở Y tế) itself")]
    = False,
) -> None:
    """Add a facility (or, with --is-province, the province); prints its Organization id."""
    from benhan.admin import orgs

    kind = "province" if is_province else "facility"
    typer.echo(_admin(lambda s: orgs.create_facility(s.admin, s.ctx, name, code or "", province, kind=kind)))


@department_app.command("add")
def department_add(name: str, facility: Annotated[str, typer.Option(help="Facility Organization id")]) -> None:
    """Add a department (khoa) to a facility; prints its Organization id."""
    from benhan.admin import orgs

    typer.echo(_admin(lambda s: orgs.create_department(s.admin, s.ctx, name, facility)))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chains of the audit log; exit 1 naming the first broken row."""
    from benhan.fhir.storage.pg.audit_trail import verify

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
