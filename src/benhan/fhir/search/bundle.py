"""Assemble a searchset Bundle (FHIR R4 bundle.html, search.html#return) as JSON bytes.

The stored resource bytes are spliced in as they are — no parse and re-serialise — unless ``_summary`` or
``_elements`` asks for a subset. The self link shows only the parameters that were applied (lenient
handling drops unknown ones, search.html#errors); next/previous carry the keyset ``_cursor``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

import orjson

from benhan.fhir.model.shaping import apply_elements, apply_summary
from benhan.fhir.search.query import SearchQuery
from benhan.fhir.search.result import Row, SearchResult

__all__ = ["build_searchset", "search_url"]


def search_url(base_url: str, resource_type: str | None, params: Iterable[tuple[str, str]]) -> str:
    """``base/Type?a=1&b=2`` with values percent-encoded (``|`` and ``,`` kept readable)."""
    path = f"{base_url.rstrip('/')}/{resource_type}" if resource_type else base_url.rstrip("/")
    query = "&".join(f"{quote(k, safe=':._-')}={quote(v, safe=':|,/._-')}" for k, v in params)
    return f"{path}?{query}" if query else path


def _content(row: Row, query: SearchQuery) -> bytes:
    if query.summary in ("true", "text", "data") or query.elements:
        resource = orjson.loads(row[4])
        shaped = apply_summary(resource, query.summary) if query.summary in ("true", "text", "data") \
            else apply_elements(resource, query.elements)
        return orjson.dumps(shaped)
    return row[4]


def _entry(base_url: str, row: Row, mode: str, query: SearchQuery) -> bytes:
    full_url = orjson.dumps(f"{base_url.rstrip('/')}/{row[0]}/{row[1]}")
    return (b'{"fullUrl":' + full_url + b',"resource":' + _content(row, query)
            + b',"search":{"mode":"' + mode.encode() + b'"}}')


def build_searchset(base_url: str, query: SearchQuery, result: SearchResult) -> bytes:
    """The searchset Bundle for ``result`` of ``query``; links are absolute, under ``base_url``."""
    rtype = query.resource_type
    params = list(query.applied)
    links = [{"relation": "self", "url": search_url(base_url, rtype, params)}]
    if result.next_cursor:
        links.append({"relation": "next",
                      "url": search_url(base_url, rtype, [*params, ("_cursor", result.next_cursor)])})
    if result.previous_cursor:
        links.append({"relation": "previous",
                      "url": search_url(base_url, rtype, [*params, ("_cursor", result.previous_cursor)])})
    head: dict[str, object] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        head["total"] = result.total
    head["link"] = links
    entries = [_entry(base_url, r, "match", query) for r in result.matches]
    entries += [_entry(base_url, r, "include", query) for r in result.includes]
    body = orjson.dumps(head)
    if not entries:
        return body
    return body[:-1] + b',"entry":[' + b",".join(entries) + b"]}"
