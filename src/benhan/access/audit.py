"""AuditEvent content in the shape of IHE Basic Audit Log Patterns (BALP, profiles.ihe.net/ITI/BALP).

Pure: the builder takes the request context and what happened, and returns canonical JSON bytes (sorted
keys, so the hash chain is reproducible) with the columns the reports query.  Storage:
``benhan.fhir.storage.pg.audit``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from benhan.fhir.storage.access_types import AUDIT_ACTIONS as ACTIONS
from benhan.fhir.storage.access_types import AUDIT_DCM as DCM
from benhan.fhir.storage.access_types import AUDIT_OUTCOMES as OUTCOMES
from benhan.fhir.storage.access_types import AUDIT_SECURITY_EVENTS as SECURITY_EVENTS
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord
from benhan.kernel.clock import fhir_instant
from benhan.kernel.context import RequestContext

# The event codes (ACTIONS, OUTCOMES …) live in ``access_types`` so the FHIR search of the audit log
# (``GET /fhir/AuditEvent?action=R``) maps codes to stored interactions from the same table.

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
OBJ_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJ_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
USER_AGENT_EXT = "https://benhan.vn/fhir/StructureDefinition/audit-user-agent"

def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _agents(ctx: RequestContext) -> list[dict[str, Any]]:
    person: dict[str, Any] = {"requestor": True, "type": {"coding": [_coding(PARTICIPATION, "IRCP")]}}
    if ctx.practitioner_id:
        person["who"] = {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username}
    else:
        person["who"] = {"identifier": {"system": "https://benhan.vn/fhir/sid/user", "value": ctx.username or
                                        ctx.client_id or "anonymous"}}
    if ctx.user_id:
        person["altId"] = ctx.user_id
    if ctx.roles:
        person["role"] = [{"coding": [_coding("https://benhan.vn/fhir/CodeSystem/staff-role", r)]}
                          for r in sorted(ctx.roles)]
    if ctx.remote_addr:
        person["network"] = {"address": ctx.remote_addr, "type": "2"}
    if ctx.user_agent:
        person["extension"] = [{"url": USER_AGENT_EXT, "valueString": ctx.user_agent[:500]}]
    agents = [person]
    if ctx.client_id:
        agents.append({"requestor": False, "type": {"coding": [_coding(DCM, "110150", "Application")]},
                       "who": {"identifier": {"system": "https://benhan.vn/fhir/sid/oauth-client",
                                              "value": ctx.client_id}}})
    if ctx.facility_id:
        # BALP: the organisation on whose behalf the user acts.
        agents.append({"requestor": False, "type": {"coding": [_coding(PARTICIPATION, "PROV")]},
                       "who": {"reference": f"Organization/{ctx.facility_id}"}})
    return agents


def _source(ctx: RequestContext) -> dict[str, Any]:
    source: dict[str, Any] = {"observer": {"display": "benhan"},
                              "type": [_coding(SOURCE_TYPE, "4", "Application Server")]}
    if ctx.facility_id:
        source["site"] = f"Organization/{ctx.facility_id}"  # BALP: where the event happened
    return source


def _entities(info: AuditInfo, returned: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if info.patient_id:
        out.append({"what": {"reference": f"Patient/{info.patient_id}"}, "type": _coding(OBJ_TYPE, "1", "Person"),
                    "role": _coding(OBJ_ROLE, "1", "Patient")})
    if info.type and info.id:
        ref = f"{info.type}/{info.id}" + (f"/_history/{info.version}" if info.version else "")
        out.append({"what": {"reference": ref}, "type": _coding(OBJ_TYPE, "2", "System Object"),
                    "role": _coding(OBJ_ROLE, "4", "Domain Resource")})
    if info.query is not None:
        out.append({"type": _coding(OBJ_TYPE, "2", "System Object"), "role": _coding(OBJ_ROLE, "24", "Query"),
                    "query": base64.b64encode(info.query.encode()).decode(),
                    "description": f"{info.type or ''}?{info.query}"[:1000]})
    for ref in info.returned[:100] if returned else ():
        out.append({"what": {"reference": ref}, "type": _coding(OBJ_TYPE, "2", "System Object"),
                    "role": _coding(OBJ_ROLE, "4", "Domain Resource")})
    return out


def _export_subtype(info: AuditInfo) -> list[dict[str, str]]:
    """A bulk export is also DICOM PS3.16 event ID 110106 "Export" (data leaving the system), the code audit
    repositories outside FHIR (ATNA) know it by; the BALP-style ``rest`` type and benhan subtype stay first."""
    return [_coding(DCM, "110106", "Export")] if info.action == "export" else []


def audit_event(ctx: RequestContext, info: AuditInfo, now: datetime, *, returned: bool = True,
                who: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """The AuditEvent resource (FHIR R4 auditevent.html, IHE BALP); ``returned=False``: without the entities of
    the returned resources (:func:`_content` adds them as bytes); ``who``: its ``agent`` and ``source``, if
    already made (:func:`_who`)."""
    action, sub_system, sub_code = ACTIONS[info.action]
    security = info.action in SECURITY_EVENTS
    if who is None:
        who = (_agents(ctx), _source(ctx))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110114", "User Authentication") if security else _coding(EVENT_TYPE, "rest"),
        "subtype": [_coding(sub_system, sub_code, info.action), *_export_subtype(info)],
        "action": action,
        "recorded": fhir_instant(now),
        "outcome": OUTCOMES[info.outcome],
        "agent": who[0],
        "source": who[1],
    }
    if info.detail or info.outcome != "success":
        event["outcomeDesc"] = info.detail or info.outcome
    purposes = [_coding(ACT_REASON, ctx.purpose_of_use)]
    if info.break_glass:
        purposes.append(_coding(ACT_REASON, "BTG", "break the glass"))
    event["purposeOfEvent"] = [{"coding": purposes, **({"text": ctx.break_glass_reason}
                                                        if info.break_glass and ctx.break_glass_reason else {})}]
    entities = _entities(info, returned)
    if entities:
        event["entity"] = entities
    if ctx.request_id:
        event["extension"] = [{"url": "https://benhan.vn/fhir/StructureDefinition/request-id",
                               "valueString": ctx.request_id}]
    return event


#: the returned resources' entity up to its reference, serialised once: a search lists up to 100 of them,
#: alike but for the reference (``_entities``; sorted keys, as ``orjson.OPT_SORT_KEYS`` writes them)
_RETURNED_HEAD = b"".join((
    b'{"role":', orjson.dumps(_coding(OBJ_ROLE, "4", "Domain Resource"), option=orjson.OPT_SORT_KEYS),
    b',"type":', orjson.dumps(_coding(OBJ_TYPE, "2", "System Object"), option=orjson.OPT_SORT_KEYS),
    b',"what":{"reference":',
))


#: a caller's serialised agents and source (:func:`_who`), by the context fields they are made of: the same
#: clinician or client makes every request of a session from one address, so the record of each read needs
#: only its entities and instants built anew
_WHO: dict[tuple[object, ...], tuple[orjson.Fragment, orjson.Fragment]] = {}
_WHO_LIMIT = 4096


def _who(ctx: RequestContext) -> tuple[orjson.Fragment, orjson.Fragment]:
    """``agent`` and ``source`` of :func:`audit_event` as sorted JSON (what ``OPT_SORT_KEYS`` writes)."""
    key = (ctx.practitioner_id, ctx.username, ctx.client_id, ctx.user_id, ctx.roles, ctx.remote_addr,
           ctx.user_agent, ctx.facility_id)
    found = _WHO.get(key)
    if found is None:
        found = (orjson.Fragment(orjson.dumps(_agents(ctx), option=orjson.OPT_SORT_KEYS)),
                 orjson.Fragment(orjson.dumps(_source(ctx), option=orjson.OPT_SORT_KEYS)))
        if len(_WHO) >= _WHO_LIMIT:
            _WHO.clear()
        _WHO[key] = found
    return found


def _content(ctx: RequestContext, info: AuditInfo, now: datetime) -> bytes:
    """``orjson.dumps(audit_event(ctx, info, now), option=OPT_SORT_KEYS)``, the same bytes (a unit test says
    so), from parts serialised once: the caller's agents and source (:func:`_who`), and the returned
    resources' entities joined from :data:`_RETURNED_HEAD` and the serialised reference instead of three
    dicts built and sorted per resource (6 / 20 / 100 returned: 10.4 -> 8.8, 18.9 -> 13.2, 84 -> 24 us)."""
    event = audit_event(ctx, info, now, returned=False, who=_who(ctx))
    if not info.returned:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    lead = orjson.dumps(event.get("entity", []), option=orjson.OPT_SORT_KEYS)[:-1]  # "[...", still open
    refs = b",".join([_RETURNED_HEAD + orjson.dumps(ref) + b"}}" for ref in info.returned[:100]])
    event["entity"] = orjson.Fragment(lead + (b"," if len(lead) > 1 else b"") + refs + b"]")
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def audit_record(ctx: RequestContext, info: AuditInfo, now: datetime) -> AuditRecord:
    content = _content(ctx, info, now)
    entity = tuple(f"{info.type}/{info.id}" for _ in (1,) if info.type and info.id)
    return AuditRecord(
        content=content, recorded=now, action=info.action, outcome=info.outcome, user_name=ctx.username,
        user_id=ctx.user_id, client_id=ctx.client_id, facility_id=ctx.facility_id,
        department_id=ctx.department_id, patient_id=info.patient_id, break_glass=info.break_glass, entity=entity,
    )


__all__ = ["ACTIONS", "DCM", "OUTCOMES", "SECURITY_EVENTS", "audit_event", "audit_record"]
