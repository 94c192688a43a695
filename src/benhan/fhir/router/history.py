"""History bundles (FHIR R4 http.html#history): ``_since``, ``_at``, ``_count`` and paging links."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import orjson

from benhan.fhir.router.types import FhirRequest
from benhan.fhir.storage.protocol import HistoryPage, HistoryQuery
from benhan.kernel import clock
from benhan.kernel.clock import fhir_instant
from benhan.kernel.errors import BenhanError, ErrorCode

MAX_COUNT = 1000


def _instant(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name}={raw!r} is not a FHIR instant") from None
    if value.tzinfo is None:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name} needs a time zone (FHIR instant)")
    return value


def _int(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name}={raw!r} is not a whole number")
    return min(int(raw), maximum)


def parse_history_params(req: FhirRequest, type_: str | None, id_: str | None) -> HistoryQuery:
    return HistoryQuery(
        type=type_, id=id_,
        since=_instant("_since", req.param("_since")),
        at=_instant("_at", req.param("_at")),
        count=max(1, _int("_count", req.param("_count"), 20, MAX_COUNT)),
        offset=_int("_offset", req.param("_offset"), 0, 10_000_000),
        # benhan paging parameter: the first page's time, carried in next/previous links.
        snapshot=_instant("_snapshot", req.param("_snapshot")) or clock.now(),
    )


def _link(req: FhirRequest, query: HistoryQuery, offset: int) -> str:
    path = "/".join(p for p in (query.type, query.id, "_history") if p)
    params: list[tuple[str, str]] = []
    if query.since:
        params.append(("_since", fhir_instant(query.since)))
    if query.at:
        params.append(("_at", fhir_instant(query.at)))
    if query.snapshot:
        params.append(("_snapshot", query.snapshot.isoformat()))
    params += [("_count", str(query.count)), ("_offset", str(offset))]
    return f"{req.base_url}/{path}?{urlencode(params)}"


def history_bundle(req: FhirRequest, query: HistoryQuery, page: HistoryPage) -> bytes:
    """Splice the stored JSON bytes into the Bundle without re-serialising them."""
    links = [{"relation": "self", "url": _link(req, query, query.offset)}]
    if page.more:
        links.append({"relation": "next", "url": _link(req, query, query.offset + query.count)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": _link(req, query, max(0, query.offset - query.count))})
    head = orjson.dumps({"resourceType": "Bundle", "type": "history", "link": links})[:-1]
    entries = []
    for e in page.entries:
        url = f"{req.base_url}/{e.type}/{e.id}"
        method = "DELETE" if e.deleted else ("POST" if e.version == 1 else "PUT")
        status = "410 Gone" if e.deleted else ("201 Created" if e.version == 1 else "200 OK")
        meta = orjson.dumps({
            "fullUrl": url,
            "request": {"method": method, "url": f"{e.type}/{e.id}" if method != "POST" else e.type},
            "response": {"status": status, "etag": e.etag, "lastModified": fhir_instant(e.last_updated)},
        })
        entries.append(meta[:-1] + (b',"resource":' + e.content + b"}" if not e.deleted else b"}"))
    return head + b',"entry":[' + b",".join(entries) + b"]}"
