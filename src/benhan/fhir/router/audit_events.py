"""``/fhir/AuditEvent``: the tamper-evident audit log, read-only, as BALP-shaped AuditEvent resources (issue 4).

The AuditEvents are the rows of the hash-chained ``audit_log``, not resources of the general store, so the
general search engine does not run over them; this handler supports the parameters the log has columns for
(FHIR R4 auditevent.html#search):

``patient``, ``entity`` (reference ``Type/id``), ``agent`` (``Practitioner/id``), ``agent-name`` (the exact
username), ``altid`` (the user id), ``date`` (prefixes eq, ge, gt, le, lt; repeatable), ``action`` (C R U D E),
``subtype`` (e.g. ``read``, ``search-type``, ``110122`` login), ``type`` (``rest`` or ``110114`` user
authentication), ``outcome`` (0, 4, 8); token parameters take comma-separated alternatives.  Paging:
``_count`` (at most 500) and ``_offset``; newest first.  Create, update, patch and delete answer 405: the log
is append-only.  Anything else unknown is ignored (or refused with ``Prefer: handling=strict``).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from benhan.fhir.router.formats import render_obj
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.search.values import date_range
from benhan.fhir.storage.access_types import AUDIT_ACTIONS, AUDIT_OUTCOMES, AUDIT_SECURITY_EVENTS
from benhan.fhir.storage.protocol import AuditQuery, Repository
from benhan.kernel.errors import BenhanError, ErrorCode

TYPE = "AuditEvent"
PARAMS = ("patient", "entity", "agent", "agent-name", "altid", "date", "action", "subtype", "type", "outcome")
MAX_COUNT = 500
_CODE_OF_OUTCOME = {code: name for name, code in AUDIT_OUTCOMES.items()}


def _bad(message: str) -> BenhanError:
    return BenhanError(ErrorCode.INVALID_PARAMETER, message)


def _codes(raw: str) -> list[str]:
    """Comma-separated token alternatives; ``system|code`` keeps the code."""
    return [v.rsplit("|", 1)[-1] for v in raw.split(",") if v]


def _interactions(key: str, raw: str) -> set[str]:
    codes = set(_codes(raw))
    if key == "action":
        return {i for i, (action, _s, _c) in AUDIT_ACTIONS.items() if action in codes}
    if key == "subtype":
        return {i for i, (_a, _s, code) in AUDIT_ACTIONS.items() if code in codes or i in codes}
    found: set[str] = set()
    if "110114" in codes:
        found |= AUDIT_SECURITY_EVENTS
    if "rest" in codes:
        found |= set(AUDIT_ACTIONS) - AUDIT_SECURITY_EVENTS
    return found


def _dates(raw: str) -> list[tuple[str, datetime]]:
    """FHIR R4 search.html#prefix on an instant, with the value's implicit range [low, high)."""
    prefix, value = (raw[:2], raw[2:]) if raw[:2] in ("eq", "ge", "gt", "le", "lt") else ("eq", raw)
    span = date_range(value)
    if span is None:
        raise _bad(f"date={raw!r} is not a FHIR date")
    low, high = span
    return {"eq": [(">=", low), ("<", high)], "ge": [(">=", low)], "gt": [(">=", high)],
            "le": [("<", high)], "lt": [("<", low)]}[prefix]


def _ref(raw: str, types: tuple[str, ...]) -> str:
    type_, _, id_ = raw.rpartition("/")
    if (type_ and type_.rsplit("/", 1)[-1] not in types) or not id_:
        raise _bad(f"{raw!r} must name a {' or '.join(types)}")
    return id_


def parse_audit_query(req: FhirRequest, extra: list[tuple[str, str]] | None = None) -> AuditQuery:
    fields: dict[str, object] = {}
    actions: set[str] | None = None
    recorded: list[tuple[str, datetime]] = []
    used: list[tuple[str, str]] = []
    strict = "handling=strict" in (req.header("prefer") or "").replace(" ", "")
    count, offset = 50, 0
    for key, raw in [*req.query, *(extra or [])]:
        if key == "_count":
            count = min(int(raw), MAX_COUNT) if raw.isdigit() and int(raw) > 0 else 50
        elif key == "_offset":
            offset = int(raw) if raw.isdigit() else 0
        elif key not in PARAMS or not raw:
            if strict:
                raise BenhanError(ErrorCode.UNKNOWN_SEARCH_PARAMETER, f"{key} is not supported on {TYPE}")
            continue
        elif key == "patient":
            fields["patient_id"] = _ref(raw, ("Patient",))
        elif key == "entity":
            if "/" not in raw:
                raise _bad("entity needs a Type/id reference")
            fields["entity"] = "/".join(raw.split("/")[-2:])
        elif key == "agent":
            fields["practitioner_id"] = _ref(raw, ("Practitioner",))
        elif key in ("agent-name", "altid"):
            fields["user_name" if key == "agent-name" else "user_id"] = raw
        elif key == "date":
            recorded += _dates(raw)
        elif key == "outcome":
            fields["outcomes"] = tuple(_CODE_OF_OUTCOME.get(c, "?") for c in _codes(raw))
        else:  # action, subtype, type: each narrows the interactions
            found = _interactions(key, raw)
            actions = found if actions is None else actions & found
        if key not in ("_count", "_offset"):
            used.append((key, raw))
    if actions is not None:
        fields["actions"] = tuple(sorted(actions)) or ("?",)  # nothing can match
    return AuditQuery(**fields, recorded=tuple(recorded), count=count, offset=offset,  # type: ignore[arg-type]
                      text=urlencode(used))


async def search(req: FhirRequest, repo: Repository, extra: list[tuple[str, str]] | None = None) -> FhirResponse:
    query = parse_audit_query(req, extra)
    events, more = await repo.audit_events(req.ctx, query)
    base = f"{req.base_url}/{TYPE}"
    page = [("_count", str(query.count))]
    links = [{"relation": "self", "url": f"{base}?{query.text + '&' if query.text else ''}"
                                         f"{urlencode([*page, ('_offset', str(query.offset))])}"}]
    if more:
        nxt = urlencode([*page, ("_offset", str(query.offset + query.count))])
        links.append({"relation": "next", "url": f"{base}?{query.text + '&' if query.text else ''}{nxt}"})
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "link": links,
        "entry": [{"fullUrl": f"{base}/{e['id']}", "resource": e, "search": {"mode": "match"}} for e in events],
    }
    return render_obj(req, 200, bundle)


async def route(req: FhirRequest, repo: Repository) -> FhirResponse:
    """Every ``AuditEvent`` path: search and read; anything that would change the log is refused."""
    p, m = req.parts, req.method
    if m in ("GET", "HEAD") and len(p) == 1:
        return await search(req, repo)
    if m == "POST" and p[1:] == ("_search",):
        return await search(req, repo, parse_qsl(req.body.decode("utf-8", errors="replace")))
    if m in ("GET", "HEAD") and len(p) == 2 and not p[1].startswith(("$", "_")):
        return render_obj(req, 200, await repo.audit_event(req.ctx, p[1]))
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED,
                      f"{m} /{'/'.join(p)}: the audit log is read-only (read and search only)")
