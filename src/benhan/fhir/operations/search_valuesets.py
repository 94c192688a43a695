"""Codes of the value sets named by ``:in`` / ``:not-in`` token searches (FHIR R4 search.html#token).

Not an ``$operation`` itself: it shares the terminology of ``$expand`` (:mod:`.terminology_index`). A
ValueSet URL resolves to the packaged terminology first, else to a stored ValueSet resource (its
``expansion.contains`` when present, else its ``compose.include`` of listed codes or of whole packaged
code systems). The storage layer then searches by the resulting (system, code) set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benhan.fhir.operations.terminology_index import TerminologyIndex, ValueSetDef, default_index
from benhan.fhir.search.query import SearchQuery
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

__all__ = ["MAX_CODES", "resolve_value_sets"]

MAX_CODES = 50_000  # larger sets would make a query with an unreasonably large parameter array
Codes = tuple[tuple[str, str], ...]


def _from_definition(index: TerminologyIndex, vs: ValueSetDef) -> Codes:
    out: list[tuple[str, str]] = []
    for system_url, codes in vs.includes:
        if codes is not None:
            out += [(system_url, c) for c in codes]
            continue
        system = index.system(system_url)
        if system is None:
            raise BenhanError(ErrorCode.UNPROCESSABLE, f"Code system {system_url} is not known to this server")
        out += [(system.url, c.code) for c in system.concepts]
    return tuple(out)


def _from_resource(index: TerminologyIndex, resource: dict[str, Any]) -> Codes:
    contains = (resource.get("expansion") or {}).get("contains")
    if contains:
        return tuple((str(c.get("system") or ""), str(c["code"])) for c in _flat(contains) if c.get("code"))
    includes: list[tuple[str, tuple[str, ...] | None]] = []
    for inc in (resource.get("compose") or {}).get("include") or []:
        if inc.get("filter") or inc.get("valueSet") or not inc.get("system"):
            raise BenhanError(ErrorCode.UNPROCESSABLE, "Only compose.include of a system (all or listed codes) works")
        listed = inc.get("concept")
        includes.append((str(inc["system"]), tuple(str(c["code"]) for c in listed) if listed else None))
    return _from_definition(index, ValueSetDef("", "", "", tuple(includes)))


def _flat(contains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in contains:
        out.append(c)
        out += _flat(c.get("contains") or [])
    return out


async def resolve_value_sets(ctx: RequestContext, repo: Repository, query: SearchQuery) -> SearchQuery:
    """``query`` with :attr:`SearchQuery.value_sets` filled for every ``:in`` / ``:not-in`` URL."""
    urls = query.value_set_urls()
    if not urls:
        return query
    index = default_index()
    found: dict[str, Codes] = {}
    for url in sorted(urls):
        packaged = index.valueset(url)
        if packaged is not None:
            codes = _from_definition(index, packaged)
        else:
            stored = await repo.search_json(ctx, "ValueSet", [("url", url.split("|", 1)[0])])
            if not stored:
                raise BenhanError(ErrorCode.INVALID_PARAMETER, f"Value set {url} is not known to this server")
            codes = _from_resource(index, stored[0])
        if len(codes) > MAX_CODES:
            raise BenhanError(ErrorCode.UNPROCESSABLE, f"Value set {url} has more than {MAX_CODES} codes")
        found[url] = codes
    return replace(query, value_sets=found)
