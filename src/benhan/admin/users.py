"""Staff users (issue 4 "Admin"): find, create with a Practitioner and PractitionerRoles, disable or enable,
reset the password, unlock, grant and revoke roles.  A facility administrator sees the users holding a role
at their facility, changes roles at their facility only, and disables, resets or unlocks only users whose
every role is at their facility (``benhan.admin.scope``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from benhan.access import identity as ident
from benhan.access.roles import Grant, Role, parse_role, practitioner_role
from benhan.admin.scope import AdminDeps, AdminScope, admin_scope, facility_of, org_units, refuse
from benhan.clinical.records import ClinicalError, FieldMessage
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.admin_types import UserRow
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import ErrorCode
from benhan.kernel.ids import new_id

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
LIST_LIMIT = 200


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    password: str
    grants: tuple[Grant, ...] = ()
    totp: bool = False


@dataclass(frozen=True, slots=True)
class Created:
    user_id: str
    #: otpauth:// URI to show once (enrolment in an authenticator app), when a TOTP secret was made
    totp_uri: str | None = None


def totp_required(cfg_roles: frozenset[str], user: UserRow) -> bool:
    """Whether policy requires a second factor of this user (docs/security.md ``totp_required_roles``)."""
    return any(role in cfg_roles for role, _f, _d in user.grants)


async def find_users(deps: AdminDeps, ctx: RequestContext, text: str = "") -> list[UserRow]:
    scope = await admin_scope(deps, ctx)
    return await deps.users.find_users(text.strip() or None, scope.facility_id, LIST_LIMIT)


async def _user_in_scope(deps: AdminDeps, ctx: RequestContext, scope: AdminScope, user_id: str) -> UserRow:
    user = await deps.users.user_row(user_id)
    if user is None or not (scope.province or any(scope.covers(f) for _r, f, _d in user.grants)):
        await refuse(deps, ctx, f"no user {user_id} in your facility", ErrorCode.NOT_FOUND)
    return user


async def get_user(deps: AdminDeps, ctx: RequestContext, user_id: str) -> UserRow:
    return await _user_in_scope(deps, ctx, await admin_scope(deps, ctx), user_id)


async def _wholly_managed(deps: AdminDeps, ctx: RequestContext, user_id: str, what: str) -> UserRow:
    """The user, if every role they hold is within the caller's reach (else 403, audited)."""
    scope = await admin_scope(deps, ctx)
    user = await _user_in_scope(deps, ctx, scope, user_id)
    if not all(scope.covers(f) for _r, f, _d in user.grants):
        await refuse(deps, ctx, f"{what} {user.username}: the user holds roles at another facility")
    if user.id == ctx.user_id and what == "disable":
        raise ClinicalError.one("", "Không thể tự khoá tài khoản của mình.", "You cannot disable your own account.")
    return user


async def check_grants(deps: AdminDeps, ctx: RequestContext, scope: AdminScope, grants: list[Grant],
                       field: str = "grant") -> None:
    """Each grant names a known role, a facility in reach and a department of that facility."""
    units = await org_units(deps, ctx)
    for g in grants:
        try:
            parse_role(g.role)
        except ValueError:
            raise ClinicalError.one(field, "Vai trò không hợp lệ.", "Unknown role.") from None
        unit = units.get(g.facility_id)
        if unit is None or unit[0].kind not in ("facility", "province"):
            raise ClinicalError.one(field, "Chọn một cơ sở.", "Choose a facility.")
        if not scope.covers(g.facility_id):
            await refuse(deps, ctx, f"grant at facility {g.facility_id} outside your facility")
        if g.department_id and facility_of(g.department_id, units) != g.facility_id:
            raise ClinicalError.one(field, "Khoa không thuộc cơ sở đã chọn.",
                                    "The department is not part of the chosen facility.")


def check_new_user(form: NewUser) -> None:
    problems: list[FieldMessage] = []
    if not USERNAME.match(form.username):
        problems.append(FieldMessage("username", "Tên đăng nhập 3–40 ký tự: chữ thường không dấu, số, . _ -",
                                     "Username: 3-40 characters, lowercase letters, digits, . _ -"))
    if not form.display_name.strip():
        problems.append(FieldMessage("display_name", "Nhập họ tên.", "Enter the full name."))
    if len(form.password) < ident.MIN_PASSWORD:
        problems.append(FieldMessage("password", f"Mật khẩu ít nhất {ident.MIN_PASSWORD} ký tự.",
                                     f"The password needs at least {ident.MIN_PASSWORD} characters."))
    if problems:
        raise ClinicalError(*problems)


async def create_user(deps: AdminDeps, ctx: RequestContext, form: NewUser) -> Created:
    """A user, its Practitioner and one PractitionerRole per grant (written through the repository, so
    versioned and audited).  A TOTP secret is made when asked for or when policy requires it of a role."""
    scope = await admin_scope(deps, ctx)
    check_new_user(form)
    if not scope.province and not form.grants:
        raise ClinicalError.one("grant", "Cấp ít nhất một vai trò tại cơ sở của bạn.",
                                "Grant at least one role at your facility.")
    await check_grants(deps, ctx, scope, list(form.grants))
    if await deps.users.user_row_by_name(form.username) is not None:
        raise ClinicalError.one("username", "Tên đăng nhập đã có người dùng.", "This username is taken.")
    password_hash = ident.hash_password(form.password)
    async with deps.repo.unit_of_work() as uow:
        practitioner = (await uow.create(ctx, {"resourceType": "Practitioner", "active": True,
                                               "name": [{"text": form.display_name.strip()}]})).resource.id
        for g in form.grants:
            await uow.create(ctx, practitioner_role(practitioner, g))
    user_id = new_id()
    await deps.users.add_user(user_id, form.username, password_hash, form.display_name.strip(), practitioner)
    for g in form.grants:
        await deps.users.add_grant(user_id, g.role, g.facility_id, g.department_id)
    secret = None
    if form.totp or any(g.role in deps.cfg.totp_required_roles for g in form.grants):
        secret = ident.new_totp_secret()
        await deps.users.set_totp(user_id, secret)
    await deps.audit(ctx, AuditInfo("admin", type="Practitioner", id=practitioner, detail=f"add user {form.username}"))
    return Created(user_id, ident.totp_uri(secret, form.username) if secret else None)


async def set_disabled(deps: AdminDeps, ctx: RequestContext, user_id: str, disabled: bool) -> UserRow:
    """Disable (ends every session and token of the user at once) or enable again."""
    user = await _wholly_managed(deps, ctx, user_id, "disable" if disabled else "enable")
    await deps.users.set_disabled(user.id, disabled)
    await _audit(deps, ctx, user, "disable" if disabled else "enable")
    return user


async def reset_password(deps: AdminDeps, ctx: RequestContext, user_id: str, password: str) -> UserRow:
    """Set a new password (the user's sessions and tokens end), and clear a lockout."""
    user = await _wholly_managed(deps, ctx, user_id, "reset password of")
    if len(password) < ident.MIN_PASSWORD:
        raise ClinicalError.one("password", f"Mật khẩu ít nhất {ident.MIN_PASSWORD} ký tự.",
                                f"The password needs at least {ident.MIN_PASSWORD} characters.")
    await deps.users.set_password(user.id, ident.hash_password(password))
    await deps.users.unlock(user.id)
    await _audit(deps, ctx, user, "reset password")
    return user


async def unlock(deps: AdminDeps, ctx: RequestContext, user_id: str) -> UserRow:
    user = await _wholly_managed(deps, ctx, user_id, "unlock")
    await deps.users.unlock(user.id)
    await _audit(deps, ctx, user, "unlock")
    return user


async def enrol_totp(deps: AdminDeps, ctx: RequestContext, user_id: str) -> str:
    """A new TOTP secret (replacing any other); returns the otpauth:// URI to show once."""
    user = await _wholly_managed(deps, ctx, user_id, "enrol TOTP of")
    secret = ident.new_totp_secret()
    await deps.users.set_totp(user.id, secret)
    await _audit(deps, ctx, user, "enrol TOTP")
    return ident.totp_uri(secret, user.username)


async def grant_role(deps: AdminDeps, ctx: RequestContext, user_id: str, grant: Grant) -> UserRow:
    """Add a role at a facility (and department) with its PractitionerRole."""
    scope = await admin_scope(deps, ctx)
    user = await _user_in_scope(deps, ctx, scope, user_id)
    await check_grants(deps, ctx, scope, [grant])
    await deps.users.add_grant(user.id, grant.role, grant.facility_id, grant.department_id)
    if user.practitioner_id:
        await deps.repo.create(ctx, practitioner_role(user.practitioner_id, grant))
    await _audit(deps, ctx, user, f"grant {_grant_text(grant)}")
    return user


async def revoke_role(deps: AdminDeps, ctx: RequestContext, user_id: str, grant: Grant) -> UserRow:
    """Remove a role; its PractitionerRole is ended (``active`` false, a new version: history is kept)."""
    scope = await admin_scope(deps, ctx)
    user = await _user_in_scope(deps, ctx, scope, user_id)
    if not scope.covers(grant.facility_id):
        await refuse(deps, ctx, f"revoke a role at facility {grant.facility_id} outside your facility")
    if grant.role == Role.FACILITY_ADMIN and user.id == ctx.user_id:
        raise ClinicalError.one("", "Không thể tự thu hồi quyền quản trị của mình.",
                                "You cannot revoke your own administrator role.")
    if await deps.users.remove_grant(user.id, grant.role, grant.facility_id, grant.department_id):
        await _end_practitioner_roles(deps, ctx, user, grant)
        await _audit(deps, ctx, user, f"revoke {_grant_text(grant)}")
    return user


async def _end_practitioner_roles(deps: AdminDeps, ctx: RequestContext, user: UserRow, grant: Grant) -> None:
    if not user.practitioner_id:
        return
    org_ref = f"Organization/{grant.department_id or grant.facility_id}"
    params = [("practitioner", f"Practitioner/{user.practitioner_id}")]
    for res in await deps.repo.search_json(ctx, "PractitionerRole", params):
        codes = {c.get("code") for cc in res.get("code") or [] for c in cc.get("coding") or []}
        same_org = (res.get("organization") or {}).get("reference") == org_ref
        if res.get("active", True) and grant.role in codes and same_org:
            await deps.repo.update(ctx, "PractitionerRole", str(res["id"]), {**res, "active": False})


def _grant_text(g: Grant) -> str:
    return f"{g.role}@{g.facility_id}" + (f"/{g.department_id}" if g.department_id else "")


async def _audit(deps: AdminDeps, ctx: RequestContext, user: UserRow, what: str) -> None:
    await deps.audit(ctx, AuditInfo("admin", type="Practitioner" if user.practitioner_id else None,
                                    id=user.practitioner_id, detail=f"{what} user {user.username}"))
