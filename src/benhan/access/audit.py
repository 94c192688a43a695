"""AuditEvent content in the shape of IHE Basic Audit Log Patterns (BALP, profiles.ihe.net/ITI/BALP).

Pure: the builder takes the request context and what happened, and returns canonical JSON bytes (sorted
keys, so the hash chain is reproducible) with the columns the reports query.  Storage:
``benhan.fhir.storage.pg.audit``.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from benhan.fhir.storage.access_types import AUDIT_ACTIONS as ACTIONS
from benhan.fhir.storage.access_types import AUDIT_DCM as DCM
from benhan.fhir.storage.access_types import AUDIT_OUTCOMES as OUTCOMES
from benhan.fhir.storage.access_types import AUDIT_SECURITY_EVENTS as SECURITY_EVENTS
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord, EventParts
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
REQUEST_ID_EXT = "https://benhan.vn/fhir/StructureDefinition/request-id"

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


def audit_event(ctx: RequestContext, info: AuditInfo, now: datetime) -> dict[str, Any]:
    """The AuditEvent resource (FHIR R4 auditevent.html, IHE BALP); :func:`_parts` writes the same JSON
    from parts."""
    action, sub_system, sub_code = ACTIONS[info.action]
    security = info.action in SECURITY_EVENTS
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110114", "User Authentication") if security else _coding(EVENT_TYPE, "rest"),
        "subtype": [_coding(sub_system, sub_code, info.action), *_export_subtype(info)],
        "action": action,
        "recorded": fhir_instant(now),
        "outcome": OUTCOMES[info.outcome],
        "agent": _agents(ctx),
        "source": _source(ctx),
    }
    if info.detail or info.outcome != "success":
        event["outcomeDesc"] = info.detail or info.outcome
    purposes = [_coding(ACT_REASON, ctx.purpose_of_use)]
    if info.break_glass:
        purposes.append(_coding(ACT_REASON, "BTG", "break the glass"))
    event["purposeOfEvent"] = [{"coding": purposes, **({"text": ctx.break_glass_reason}
                                                        if info.break_glass and ctx.break_glass_reason else {})}]
    entities = _entities(info)
    if entities:
        event["entity"] = entities
    if ctx.request_id:
        event["extension"] = _extension(ctx.request_id)
    return event


def _extension(request_id: str) -> list[dict[str, str]]:
    return [{"url": REQUEST_ID_EXT, "valueString": request_id}]


class _Frame:
    """A caller's event for one action and outcome, cut where a record's own parts go (:func:`_frame`), and
    the templates (``access_types.EventParts``) made of it, by the parts a record has (:func:`_parts`)."""

    __slots__ = ("head", "middle", "tail", "templates")

    def __init__(self, head: bytes, middle: bytes, tail: bytes) -> None:
        self.head, self.middle, self.tail = head, middle, tail
        self.templates: dict[int, tuple[bytes, ...]] = {}


#: the event of a caller's action around what each record holds of its own (:func:`_frame`), by the context
#: fields it is made of and the action and outcome: the same clinician or client makes every request of a
#: session from one address, so the record of each read holds only its references, request id and instant
_FRAMES: dict[tuple[object, ...], _Frame] = {}
_FRAMES_LIMIT = 4096
#: the instant the frame is serialised with, where each record's goes
_PLACEHOLDER = datetime(1, 1, 1, tzinfo=UTC)
_RECORDED = b',"recorded":' + orjson.dumps(fhir_instant(_PLACEHOLDER))


def _frame(ctx: RequestContext, info: AuditInfo) -> _Frame:
    """``orjson.dumps(audit_event(...), option=OPT_SORT_KEYS)`` of an event without entities and request id,
    cut where they and ``recorded`` go.  Sorted keys: action, agent, [entity, extension], outcome,
    outcomeDesc, purposeOfEvent, [recorded], resourceType, source, subtype, type.  Only for records whose
    outcome text and purposes come from the context, action and outcome alone (no ``detail``, no
    break-the-glass flag: :func:`_parts` checks)."""
    key = (ctx.practitioner_id, ctx.username, ctx.client_id, ctx.user_id, ctx.roles, ctx.remote_addr,
           ctx.user_agent, ctx.facility_id, ctx.purpose_of_use, info.action, info.outcome)
    found = _FRAMES.get(key)
    if found is None:
        agents = orjson.dumps(_agents(ctx), option=orjson.OPT_SORT_KEYS)
        bare = audit_event(replace(ctx, request_id=None), AuditInfo(info.action, info.outcome), _PLACEHOLDER)
        whole = orjson.dumps(bare, option=orjson.OPT_SORT_KEYS)
        head = b'{"action":' + orjson.dumps(bare["action"]) + b',"agent":' + agents
        middle, recorded, tail = whole[len(head):].partition(_RECORDED)
        if not whole.startswith(head) or not recorded or not middle.startswith(b',"outcome":'):
            raise AssertionError("the AuditEvent's keys are not in the order _frame cuts them at")
        found = _Frame(head, middle + b',"recorded":', tail)
        if len(_FRAMES) >= _FRAMES_LIMIT:
            _FRAMES.clear()
        _FRAMES[key] = found
    return found


def _entity_head(role: dict[str, str], type_: dict[str, str]) -> bytes:
    return b"".join((b'{"role":', orjson.dumps(role, option=orjson.OPT_SORT_KEYS),
                     b',"type":', orjson.dumps(type_, option=orjson.OPT_SORT_KEYS), b',"what":{"reference":'))


#: an entity as ``_entities`` makes it, serialised up to its reference (sorted keys: role, type, what):
#: the patient, and the resource read or returned (a search lists up to 100 of them, alike but for the
#: reference)
_PATIENT_HEAD = _entity_head(_coding(OBJ_ROLE, "1", "Patient"), _coding(OBJ_TYPE, "1", "Person"))
_RESOURCE_HEAD = _entity_head(_coding(OBJ_ROLE, "4", "Domain Resource"), _coding(OBJ_TYPE, "2", "System Object"))


def _entity_bytes(info: AuditInfo) -> bytes:
    """The ``entity`` array of :func:`_entities` as sorted JSON (empty bytes for none), joined from
    :data:`_PATIENT_HEAD` and :data:`_RESOURCE_HEAD` instead of dicts built and sorted per entity; a search's
    query entity is serialised as a dict."""
    parts: list[bytes] = []
    if info.query is not None:  # between the patient and the returned ones, with the resource's entity
        lead = orjson.dumps(_entities(info, returned=False), option=orjson.OPT_SORT_KEYS)
        if len(lead) > 2:
            parts.append(lead[1:-1])
    else:
        if info.patient_id:
            parts.append(_PATIENT_HEAD + orjson.dumps(f"Patient/{info.patient_id}") + b"}}")
        if info.type and info.id:
            ref = f"{info.type}/{info.id}" + (f"/_history/{info.version}" if info.version else "")
            parts.append(_RESOURCE_HEAD + orjson.dumps(ref) + b"}}")
    parts += [_RESOURCE_HEAD + orjson.dumps(ref) + b"}}" for ref in info.returned[:100]]
    return b"[" + b",".join(parts) + b"]" if parts else b""


#: the entities of a read as :func:`_entities` makes them, around their references (:func:`_parts`)
_PATIENT_OPEN = b',"entity":[' + _PATIENT_HEAD
_PATIENT_THEN_RESOURCE = b"}}," + _RESOURCE_HEAD
_RESOURCE_OPEN = b',"entity":[' + _RESOURCE_HEAD
_ENTITY_CLOSE = b"}}]"
#: :func:`_extension` around the request id
_REQUEST_ID_OPEN = b',"extension":[{"url":' + orjson.dumps(REQUEST_ID_EXT) + b',"valueString":'
_REQUEST_ID_CLOSE = b"}]"


#: what a read's record holds of its own, besides its instant (the bits of a template's key, :func:`_parts`)
_PATIENT, _RESOURCE, _REQUEST = 1, 2, 4


def _template(head: bytes, frame: _Frame, shape: int) -> tuple[bytes, ...]:
    """The texts around a record's values: the patient's reference (``_PATIENT`` in ``shape``), the
    resource's (``_RESOURCE``), the request id (``_REQUEST``) and the instant, in that order."""
    texts = [head]
    if shape & _PATIENT:
        texts[-1] += _PATIENT_OPEN
        texts.append(_PATIENT_THEN_RESOURCE if shape & _RESOURCE else _ENTITY_CLOSE)
        if shape & _RESOURCE:
            texts.append(_ENTITY_CLOSE)
    elif shape & _RESOURCE:
        texts[-1] += _RESOURCE_OPEN
        texts.append(_ENTITY_CLOSE)
    if shape & _REQUEST:
        texts[-1] += _REQUEST_ID_OPEN
        texts.append(_REQUEST_ID_CLOSE)
    texts[-1] += frame.middle
    texts.append(frame.tail)
    return tuple(texts)


def _parts(ctx: RequestContext, info: AuditInfo, now: datetime) -> EventParts:
    """``orjson.dumps(audit_event(ctx, info, now), option=OPT_SORT_KEYS)`` (a unit test says so) as a
    template and values (``access_types.EventParts``): the caller's texts, serialised once per caller, action
    and shape (:func:`_frame`, :func:`_template`), around the record's own references, request id and
    instant.  Nothing is joined or escaped per read: a block stores the template once and each record's
    values (``storage/pg/audit.py``), and the JSON is made when the event is read.  A search's or history's
    entities are serialised into a template of its own; a record with a ``detail`` or the break-the-glass
    flag is serialised whole."""
    if info.detail is not None or info.break_glass:
        return orjson.dumps(audit_event(ctx, info, now), option=orjson.OPT_SORT_KEYS)
    frame = _frame(ctx, info)
    request_id = ctx.request_id
    values: list[str] = []
    if info.query is None and not info.returned:
        shape = 0
        if info.patient_id:
            shape = _PATIENT
            values.append(f"Patient/{info.patient_id}")
        if info.type and info.id:
            shape |= _RESOURCE
            values.append(f"{info.type}/{info.id}" + (f"/_history/{info.version}" if info.version else ""))
        if request_id:
            shape |= _REQUEST
            values.append(request_id)
        template = frame.templates.get(shape)
        if template is None:
            template = frame.templates[shape] = _template(frame.head, frame, shape)
    else:
        entities = _entity_bytes(info)
        head = frame.head + b',"entity":' + entities if entities else frame.head
        template = _template(head, frame, _REQUEST if request_id else 0)
        if request_id:
            values.append(request_id)
    values.append(fhir_instant(now))
    return template, tuple(values)


def audit_record(ctx: RequestContext, info: AuditInfo, now: datetime) -> AuditRecord:
    entity = (f"{info.type}/{info.id}",) if info.type and info.id else ()
    # positional, in the fields' order: a NamedTuple's __new__ takes keywords at twice the cost (~0.5 us)
    return AuditRecord(_parts(ctx, info, now), now, info.action, info.outcome, ctx.username, ctx.user_id,
                       ctx.client_id, ctx.facility_id, ctx.department_id, info.patient_id, info.break_glass, entity)


__all__ = ["ACTIONS", "DCM", "OUTCOMES", "SECURITY_EVENTS", "audit_event", "audit_record"]
