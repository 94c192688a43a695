"""SMART App Launch v2 scopes (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

``patient/Observation.rs``, ``user/*.cruds``, ``system/*.rs``; the v1 forms ``.read``, ``.write`` and ``.*``
are accepted as their v2 equivalents (``rs``, ``cud``, ``cruds``).  A scope with a v2 query suffix
(``patient/Observation.rs?category=laboratory``) grants nothing here: benhan does not enforce
search-narrowed scopes yet, and refusing is the safe reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SCOPE_RE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([cruds]+|read|write|\*)$")
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
ORDER = "cruds"

#: The SMART permission letter each interaction needs.
ACTION_LETTER = {
    "create": "c", "read": "r", "vread": "r", "update": "u", "patch": "u", "delete": "d",
    "search": "s", "history": "r", "operation": "r", "export": "s",
}
#: Scopes that carry no resource permission but are understood (SMART launch context, OpenID).
CONTEXT_SCOPES = frozenset({
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
    "online_access",
})

#: Types a wildcard scope does not reach: only a scope naming them does (docs/security.md: reading the audit
#: log needs ``system/AuditEvent.rs`` or ``user/AuditEvent.rs``, never ``system/*.rs``).
NAMED_ONLY = frozenset({"AuditEvent"})


def _reaches(scope_type: str, type_: str) -> bool:
    return scope_type == type_ or (scope_type == "*" and type_ not in NAMED_ONLY)


@dataclass(frozen=True, slots=True)
class Scope:
    level: str  # patient | user | system
    type: str  # a resource type or "*"
    perms: str  # subset of "cruds"

    def __str__(self) -> str:
        return f"{self.level}/{self.type}.{self.perms}"


def parse_scope(text: str) -> Scope | None:
    """The resource scope in ``text``; None for context scopes and anything not understood."""
    m = SCOPE_RE.match(text)
    if m is None:
        return None
    level, type_, perms = m.groups()
    perms = V1.get(perms, perms)
    # SMART v2: permissions are written in the order c, r, u, d, s.
    if "".join(sorted(set(perms), key=ORDER.index)) != perms:
        return None
    return Scope(level, type_, perms)


def parse_scopes(scopes: frozenset[str] | list[str] | str) -> list[Scope]:
    if isinstance(scopes, frozenset):
        return list(_parse_set(scopes))
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return [s for s in (parse_scope(t) for t in items) if s is not None]


@lru_cache(maxsize=1024)
def _parse_set(scopes: frozenset[str]) -> tuple[Scope, ...]:
    """Per token's scope set, parsed once (every FHIR call checks them)."""
    return tuple(s for s in (parse_scope(t) for t in scopes) if s is not None)


def is_known(text: str) -> bool:
    return text in CONTEXT_SCOPES or parse_scope(text) is not None


@dataclass(frozen=True, slots=True)
class ScopeGrant:
    """How a set of scopes lets one interaction on one type through."""

    allowed: bool
    #: only the launch patient's compartment (a ``patient/`` scope is the only one granting it)
    patient_only: bool = False


def grant_for(scopes: list[Scope], type_: str, action: str) -> ScopeGrant:
    """Whether ``scopes`` permit ``action`` on ``type_``; user/system scopes beat patient scopes."""
    letter = ACTION_LETTER[action]
    matching = [s for s in scopes if _reaches(s.type, type_) and letter in s.perms]
    if not matching:
        return ScopeGrant(False)
    if any(s.level in ("user", "system") for s in matching):
        return ScopeGrant(True)
    return ScopeGrant(True, patient_only=True)


@lru_cache(maxsize=4096)
def grant_of(scopes: frozenset[str], type_: str, action: str) -> ScopeGrant:
    """:func:`grant_for` a token's scope set (``RequestContext.scopes``), decided once per set, type and action:
    every FHIR call asks, and the answer depends on nothing else."""
    return grant_for(list(_parse_set(scopes)), type_, action)


def narrow(requested: str, allowed: str) -> str:
    """The requested scopes a client may have: resource scopes covered by an allowed scope, and context
    scopes the client may ask for."""
    allowed_list = parse_scopes(allowed)
    allowed_words = set(allowed.split())
    out: list[str] = []
    for word in requested.split():
        scope = parse_scope(word)
        if scope is None:
            if word in CONTEXT_SCOPES and word in allowed_words:
                out.append(word)
            continue
        if any(_covers(a, scope) for a in allowed_list):
            out.append(word)
    return " ".join(dict.fromkeys(out))


def _covers(a: Scope, b: Scope) -> bool:
    level_ok = a.level == b.level or (a.level == "user" and b.level == "patient")
    return level_ok and _reaches(a.type, b.type) and set(b.perms) <= set(a.perms)
