"""``AccessControl``: the access policy object the repository calls (implements
``benhan.fhir.storage.protocol.AccessPolicy``).  Pure: decisions, visibility, derived facts, audit content."""

from __future__ import annotations

from typing import Any

from benhan.access import audit, care, policy
from benhan.access.config import PolicyConfig, default_config
from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord, Decision, Derived, Target, Visibility
from benhan.kernel import clock
from benhan.kernel.context import RequestContext

_ALL_TYPES = tuple(sorted(RESOURCE_TYPES))
_RULES_CACHE_MAX = 4096


class AccessControl:
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or default_config()
        #: visibility rules by policy.rules_key: computing them walks every resource type's roles and scopes
        #: (7 % of a `$everything` request's CPU); a process sees few kinds of caller
        self._rules: dict[tuple[object, ...], policy.Rules] = {}

    def decide(self, ctx: RequestContext, action: str, target: Target) -> Decision:
        return policy.decide(ctx, self.config, action, target, clock.now())

    def visibility(
        self, ctx: RequestContext, action: str, types: tuple[str, ...] | None
    ) -> tuple[Visibility, tuple[str, ...]]:
        """``types`` None means every resource type (system-level search and history)."""
        wanted = _ALL_TYPES if types is None else types
        if ctx.is_system:
            return policy.visibility(ctx, self.config, action, wanted, clock.now())
        key = policy.rules_key(ctx, action, wanted)
        rules = self._rules.get(key)
        if rules is None:
            if len(self._rules) >= _RULES_CACHE_MAX:
                self._rules.clear()
            rules = self._rules[key] = policy.visibility_rules(ctx, self.config, action, wanted)
        return policy.visibility(ctx, self.config, action, wanted, clock.now(), rules)

    def derive(self, resource: dict[str, Any]) -> Derived:
        return care.derive(resource)

    def audit(self, ctx: RequestContext, info: AuditInfo) -> AuditRecord:
        """Accesses to a patient opened by break-the-glass are flagged while the glass is open."""
        now = clock.now()
        glass = policy.glass_patients(ctx, self.config, now)
        if glass and not info.break_glass and info.patient_id and (glass[0] == "*" or info.patient_id in glass):
            info = info._replace(break_glass=True)
        return audit.audit_record(ctx, info, now)
