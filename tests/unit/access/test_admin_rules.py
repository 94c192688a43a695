"""Pure rules of the administration and audit screens (issue 4): input checks, administrative reach, the
audit filter form and who may read the audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from benhan.access.config import load_config
from benhan.admin.audit_reports import may_audit
from benhan.admin.clients import NewClient, client_problems, redirect_ok
from benhan.admin.scope import AdminScope, is_admin
from benhan.admin.users import NewUser, check_new_user
from benhan.clinical.records import ClinicalError
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext
from benhan.web.routes.audit import parse_filter


def _fields(exc: pytest.ExceptionInfo[ClinicalError]) -> set[str]:
    return {m.field for m in exc.value.messages}


def test_new_user_messages_name_every_wrong_field() -> None:
    with pytest.raises(ClinicalError) as exc:
        check_new_user(NewUser("A b", " ", "short"))
    assert _fields(exc) == {"username", "display_name", "password"}
    check_new_user(NewUser("bs.lan-2", "Trần Thị Lan", "mat-khau-du-dai"))


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("https://app.example.vn/cb", True),
        ("http://127.0.0.1:8765/cb", True),
        ("http://localhost/cb", True),
        ("http://app.example.vn/cb", False),  # RFC 8252 §7.3: plain http only on loopback
        ("https://app.example.vn/cb#frag", False),  # RFC 6749 §3.1.2: no fragment
        ("app.example.vn/cb", False),
    ],
)
def test_redirect_uris(uri: str, ok: bool) -> None:
    assert redirect_ok(uri) is ok


def test_client_kinds_need_their_material() -> None:
    def wrong(form: NewClient) -> set[str]:
        return {m.field for m in client_problems(form)}

    assert wrong(NewClient("x", "", "jwks", "system/*.rs", jwks="{}")) == {"client_id", "name", "jwks"}
    assert wrong(NewClient("app.a", "App", "public", "bogus")) == {"scope", "redirect_uris"}
    assert not client_problems(NewClient("lis.a", "LIS", "secret", "system/*.rs"))
    assert not client_problems(NewClient("pacs", "PACS", "jwks", "system/*.rs", jwks='{"keys": [{"kty": "EC"}]}'))


def test_admin_reach() -> None:
    facility, province = AdminScope("F1"), AdminScope(None, "P")
    assert facility.covers("F1")
    assert not facility.covers("F2")
    assert not facility.covers(None)
    assert province.province
    assert province.covers("F2")
    assert is_admin(RequestContext(roles=frozenset({"facility_admin"})))
    assert not is_admin(RequestContext(roles=frozenset({"doctor", "auditor"})))
    assert is_admin(RequestContext.system())


def test_who_may_read_the_audit() -> None:
    cfg = load_config(None)
    assert may_audit(RequestContext(user_id="u", roles=frozenset({"auditor"}), facility_id="F"), cfg)
    for role in ("doctor", "facility_admin", "doh_officer", "receptionist"):
        assert not may_audit(RequestContext(user_id="u", roles=frozenset({role}), facility_id="F"), cfg), role


def test_audit_filter_form() -> None:
    where = parse_filter({"user": "bs.a1", "from": "01/02/2026", "to": "01/02/2026", "btg": "1", "action": "read"})
    assert where.since == datetime(2026, 2, 1, tzinfo=VN_TZ)
    assert where.until is not None
    assert where.until - where.since == timedelta(days=1)  # the "to" day is included
    assert where.break_glass is True
    assert where.user_name == "bs.a1"
    with pytest.raises(ClinicalError) as exc:
        parse_filter({"from": "31/02/2026", "to": "1/1/2026x", "action": "steal", "outcome": "maybe"})
    assert _fields(exc) == {"from", "to", "action", "outcome"}
    with pytest.raises(ClinicalError) as exc:
        parse_filter({"from": "02/02/2026", "to": "01/02/2026"})
    assert _fields(exc) == {"to"}
