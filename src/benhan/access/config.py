"""The access policy as data: role → resource-type categories → required relationship (docs/security.md).

The defaults live in ``data/default_policy.json``; a province overrides any top-level key with its own JSON
file (``BENHAN_ACCESS_POLICY_FILE``).  A read level is a relationship (province … assigned) or
``deidentified``: the category is exported province-wide with the patients pseudonymised, never read as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from benhan.fhir.storage.access_types import LEVEL_ASSIGNED, LEVEL_DEPARTMENT, LEVEL_FACILITY, LEVEL_PROVINCE

SCOPE_LEVELS = {
    "province": LEVEL_PROVINCE, "facility": LEVEL_FACILITY, "department": LEVEL_DEPARTMENT, "assigned": LEVEL_ASSIGNED,
}
#: a read level that is not a relationship: the category is readable province-wide, but only through a
#: de-identified bulk export (pseudonymised, ISO 25237); direct reads and searches stay refused
DEIDENTIFIED = "deidentified"


@dataclass(frozen=True, slots=True)
class RoleRules:
    #: category → minimum relationship level for reading / writing
    read: dict[str, int]
    write: dict[str, int]
    break_glass: bool = False
    review_break_glass: bool = False
    #: categories readable only de-identified (``"deidentified"`` in the policy's ``read``)
    deidentified: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    categories: dict[str, frozenset[str]]
    exclusive: frozenset[str]
    roles: dict[str, RoleRules]
    client_with_facility: int
    client_without_facility: int
    totp_required_roles: frozenset[str]
    break_glass_minutes: int
    login: dict[str, int]
    session: dict[str, int]
    tokens: dict[str, int]

    def categories_of(self, type_: str) -> list[str]:
        """Every category granting ``type_``; ``*`` covers all types outside the exclusive categories."""
        out = [name for name, types in self.categories.items() if type_ in types]
        if not any(name in self.exclusive for name in out):
            out += [name for name, types in self.categories.items() if "*" in types]
        return out

    def level_for(self, role: str, type_: str, write: bool) -> int | None:
        """The weakest relationship with which ``role`` may read/write ``type_``; None: never."""
        rules = self.roles.get(role)
        if rules is None:
            return None
        table = rules.write if write else rules.read
        levels = [table[c] for c in self.categories_of(type_) if c in table]
        return min(levels) if levels else None

    def deidentified_for(self, role: str, type_: str) -> bool:
        """Whether ``role`` may export ``type_`` de-identified (a ``deidentified`` read level)."""
        rules = self.roles.get(role)
        return rules is not None and any(c in rules.deidentified for c in self.categories_of(type_))


def _level(name: str) -> int:
    if name not in SCOPE_LEVELS:
        raise ValueError(f"unknown relationship scope {name!r}; expected one of {sorted(SCOPE_LEVELS)}")
    return SCOPE_LEVELS[name]


def _role(raw: dict[str, Any]) -> RoleRules:
    read = raw.get("read", {})
    return RoleRules(
        read={c: _level(s) for c, s in read.items() if s != DEIDENTIFIED},
        write={c: _level(s) for c, s in raw.get("write", {}).items()},
        break_glass=bool(raw.get("break_glass", False)),
        review_break_glass=bool(raw.get("review_break_glass", False)),
        deidentified=frozenset(c for c, s in read.items() if s == DEIDENTIFIED),
    )


def parse_config(raw: dict[str, Any]) -> PolicyConfig:
    client = raw.get("client", {})
    return PolicyConfig(
        categories={k: frozenset(v) for k, v in raw["categories"].items()},
        exclusive=frozenset(raw.get("exclusive_categories", [])),
        roles={name: _role(r) for name, r in raw["roles"].items()},
        client_with_facility=_level(client.get("with_facility", "facility")),
        client_without_facility=_level(client.get("without_facility", "province")),
        totp_required_roles=frozenset(raw.get("totp_required_roles", [])),
        break_glass_minutes=int(raw.get("break_glass_minutes", 60)),
        login={k: int(v) for k, v in raw.get("login", {}).items()},
        session={k: int(v) for k, v in raw.get("session", {}).items()},
        tokens={k: int(v) for k, v in raw.get("tokens", {}).items()},
    )


def default_raw() -> dict[str, Any]:
    text = resources.files("benhan.access").joinpath("data/default_policy.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_config(override: Path | None = None) -> PolicyConfig:
    """The default policy with a province's top-level overrides applied."""
    raw = default_raw()
    if override is not None:
        raw.update(json.loads(override.read_text(encoding="utf-8")))
    return parse_config(raw)


@lru_cache(maxsize=1)
def default_config() -> PolicyConfig:
    return load_config(None)
