"""One demo login per staff role (printed by ``benhan demo`` and listed in README.md).

The passwords are public, so they must only ever work in demo mode: :func:`is_demo_login` lets the login
check refuse these usernames when ``BENHAN_MODE`` is not ``demo``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: (username, role, Vietnamese label); the staff member behind each login is picked in ``load.py``
DEMO_LOGINS: tuple[tuple[str, str, str], ...] = (
    ("tiepdon", "receptionist", "Tiếp đón"),
    ("bacsi", "doctor", "Bác sĩ"),
    ("dieuduong", "nurse", "Điều dưỡng"),
    ("xetnghiem", "lab_technician", "Kỹ thuật viên xét nghiệm"),
    ("ktvcdha", "imaging_technician", "Kỹ thuật viên chẩn đoán hình ảnh"),
    ("bscdha", "radiologist", "Bác sĩ chẩn đoán hình ảnh"),
    ("duocsi", "pharmacist", "Dược sĩ"),
    ("giamdinh", "insurance_clerk", "Giám định BHYT"),
    ("truongkhoa", "head_of_department", "Trưởng khoa"),
    ("quantri", "facility_admin", "Quản trị cơ sở"),
    ("soyte", "doh_officer", "Cán bộ Sở Y tế"),
    ("hoidong", "council_member", "Thành viên hội đồng"),
    ("kiemtoan", "auditor", "Kiểm toán viên"),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str
    label: str
    practitioner_id: str
    facility_id: str
    department_id: str | None


def demo_password(username: str) -> str:
    return f"{username}@demo"


def is_demo_login(username: str) -> bool:
    """Whether ``username`` is one of the public demo accounts (refuse it outside demo mode)."""
    return username.lower() in {u for u, _r, _l in DEMO_LOGINS}


def format_logins(logins: list[DemoLogin]) -> str:
    width = max(len(x.username) for x in logins)
    lines = [f"  {x.username:<{width}}  {x.password:<{width + 5}}  {x.label}" for x in logins]
    return "\n".join(["  Demo logins (demo mode only):", *lines])
