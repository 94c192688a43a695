"""SMART scopes in plain words for the consent screen (Vietnamese first, English switchable).

Scope grammar: SMART App Launch v2 scopes-and-launch-context.html; the permission letters c, r, u, d, s
are create, read, update, delete and search.
"""

from __future__ import annotations

from benhan.access.scopes import parse_scope

_VERBS = {
    "c": ("tạo mới", "create"), "r": ("xem", "read"), "u": ("sửa", "update"), "d": ("xoá", "delete"),
    "s": ("tìm kiếm", "search"),
}
_CONTEXT = {
    "openid": ("Biết bạn là ai (danh tính đăng nhập)", "Know who you are (your sign-in identity)"),
    "fhirUser": ("Xem hồ sơ nhân viên y tế của bạn", "See your staff (Practitioner) record"),
    "profile": ("Xem tên đăng nhập của bạn", "See your username"),
    "launch": ("Mở cùng bệnh nhân đang xem trong bệnh án", "Open with the patient shown in the chart"),
    "launch/patient": ("Làm việc với một bệnh nhân bạn chọn", "Work with one patient you choose"),
    "launch/encounter": ("Biết lượt khám đang mở", "Know the open encounter"),
    "offline_access": ("Tiếp tục truy cập khi bạn đã đăng xuất, cho đến khi bị thu hồi",
                       "Keep access after you sign out, until revoked"),
    "online_access": ("Tiếp tục truy cập khi bạn còn đăng nhập", "Keep access while you are signed in"),
}
_LEVEL = {
    "patient": ("của bệnh nhân đã chọn", "of the selected patient"),
    "user": ("mà bạn được phép truy cập", "that you may access"),
    "system": ("của toàn hệ thống được phép", "the system may access"),
}


def describe(scope: str, lang: str) -> str:
    """One sentence for one scope; an unknown scope is shown as written (it grants nothing here)."""
    en = lang == "en"
    if scope in _CONTEXT:
        return _CONTEXT[scope][en]
    parsed = parse_scope(scope)
    if parsed is None:
        return scope
    verbs = ", ".join(_VERBS[letter][en] for letter in parsed.perms)
    what = ("all data" if en else "mọi dữ liệu") if parsed.type == "*" else parsed.type
    return f"{verbs[:1].upper()}{verbs[1:]} {what} {_LEVEL[parsed.level][en]}"
