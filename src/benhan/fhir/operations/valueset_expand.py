"""``ValueSet/$expand`` and ``ValueSet/{id}/$expand`` (FHIR R4 valueset-operation-expand.html).

Inputs: ``url`` (or the instance id; ``<system>?vs`` expands a whole code system), ``filter``
(accent-insensitive: "viem phoi" finds "Viêm phổi"; a code prefix works too), ``offset``, ``count``
(default 50, at most 1000), ``displayLanguage`` ("en" gives the English names of ICD-10), or a
``valueSet`` resource in a POST Parameters body, ``includeDesignations`` (a drug's active ingredient).
Packaged value sets expand from the in-memory index; a ValueSet stored in the repository (a facility
catalogue) expands its ``compose.include``: whole code systems, packaged or stored, or listed concepts.
``compose.include.filter`` and ``exclude`` are not supported (400).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from benhan.fhir.operations.base import OperationResult, OpParams, OpRequest, read_params
from benhan.fhir.operations.terminology_index import (
    CodeSystemIndex,
    Concept,
    TerminologyIndex,
    ValueSetDef,
    default_index,
    find_system,
)
from benhan.fhir.storage.protocol import Repository
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.kernel.text import tokens

JsonObj = dict[str, Any]

DEFINITION: JsonObj = {
    "resourceType": "OperationDefinition", "id": "ValueSet-expand", "url": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
    "name": "ValueSetExpand", "status": "active", "kind": "operation", "code": "expand", "resource": ["ValueSet"],
    "system": False, "type": True, "instance": True,
    "parameter": [
        {"name": "url", "use": "in", "min": 0, "max": "1", "type": "uri"},
        {"name": "valueSet", "use": "in", "min": 0, "max": "1", "type": "ValueSet"},
        {"name": "filter", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "Accent-insensitive word prefixes or a code prefix"},
        {"name": "offset", "use": "in", "min": 0, "max": "1", "type": "integer"},
        {"name": "count", "use": "in", "min": 0, "max": "1", "type": "integer"},
        {"name": "displayLanguage", "use": "in", "min": 0, "max": "1", "type": "code"},
        {"name": "includeDesignations", "use": "in", "min": 0, "max": "1", "type": "boolean"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "ValueSet"},
    ],
}  # fmt: skip

DEFAULT_COUNT = 50
MAX_COUNT = 1000
#: concepts one expansion may enumerate before the client must filter
MAX_TOTAL = 100_000


async def handle(req: OpRequest, repo: Repository, id_: str | None) -> OperationResult:
    params = read_params(req)
    source = await _resolve(req.ctx, repo, default_index(), params, id_)
    return OperationResult(200, await expand(repo, req.ctx, source, params))


async def expand_url(
    repo: Repository,
    ctx: RequestContext,
    url: str,
    text: str,
    *,
    count: int = DEFAULT_COUNT,
    designations: bool = False,
) -> JsonObj:
    """``ValueSet/$expand?url=…&filter=…`` for a caller inside the process (the web type-ahead): the same
    resolution, access checks and expansion as the HTTP operation."""
    params = OpParams({"url": [url], "filter": [text], "count": [str(count)],
                       "includeDesignations": ["true" if designations else "false"]})  # fmt: skip
    return await expand(repo, ctx, await _resolve(ctx, repo, default_index(), params, None), params)


async def expand(
    repo: Repository, ctx: RequestContext, source: tuple[JsonObj, ValueSetDef], params: OpParams
) -> JsonObj:
    header, definition = source
    text = params.text("filter") or ""
    offset = params.integer("offset", 0, high=MAX_TOTAL)
    count = params.integer("count", DEFAULT_COUNT, high=MAX_COUNT)
    language = params.text("displayLanguage")
    designations = params.flag("includeDesignations")
    systems = {url: await find_system(repo, ctx, url) for url, _ in definition.includes}
    found = _concepts(systems, definition, text)
    page = found[offset : offset + count]
    expansion: JsonObj = {
        "identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": clock.fhir_instant(clock.now()),
        "total": len(found), "offset": offset,
        "parameter": [p for p in (_p("filter", text), _p("offset", offset), _p("count", count),
                                  _p("displayLanguage", language)) if p],
        "contains": [_entry(c, language, designations) for c in page],
    }  # fmt: skip
    if not page:
        del expansion["contains"]
    return {**header, "expansion": expansion}


def _p(name: str, value: str | int | None) -> JsonObj | None:
    if value is None or value == "":
        return None
    return {"name": name, "valueInteger" if isinstance(value, int) else "valueString": value}


def _entry(c: Concept, language: str | None, designations: bool) -> JsonObj:
    entry: JsonObj = {"system": c.system, "code": c.code, "display": c.display_in(language)}
    if c.version:
        entry["version"] = c.version
    if designations and c.designations:
        entry["designation"] = [{"language": lang, "value": value} if lang else {"value": value}
                                for lang, value in c.designations]  # fmt: skip
    return entry


def _concepts(systems: Mapping[str, CodeSystemIndex | None], definition: ValueSetDef, text: str) -> list[Concept]:
    words = tokens(text)
    found: list[Concept] = []
    for system_url, codes in definition.includes:
        system = systems[system_url]
        if codes is None:
            if system is None:
                raise BenhanError(ErrorCode.UNPROCESSABLE, f"Code system {system_url} is not known to this server")
            found += system.search(text) if words else list(system.concepts)
        else:
            listed = [system.lookup(c) if system else None for c in codes]
            found += [c for c in listed if c is not None and (not words or _word_match(c, words, text))]
        if len(found) > MAX_TOTAL:
            raise BenhanError(ErrorCode.UNPROCESSABLE, f"The expansion has more than {MAX_TOTAL} codes; add a filter")
    return found


def _word_match(c: Concept, words: list[str], text: str) -> bool:
    if c.code.lower().startswith(text.strip().lower()):
        return True
    names = [w for name in (c.display, *(v for _, v in c.designations)) for w in tokens(name)]
    return all(any(n.startswith(w) for n in names) for w in words)


async def _resolve(
    ctx: RequestContext, repo: Repository, index: TerminologyIndex, params: OpParams, id_: str | None
) -> tuple[JsonObj, ValueSetDef]:
    """The value set to expand: packaged (by id or url), else a stored ValueSet, else a posted one."""
    posted = params.obj("valueSet")
    if posted is not None:
        return from_resource(posted)
    key = id_ or params.text("url")
    if key is None:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, "$expand needs a url, a valueSet or a ValueSet id")
    packaged = index.valueset(key)
    if packaged is not None:
        return _header(packaged), packaged
    if id_ is not None:
        return from_resource((await repo.read(ctx, "ValueSet", id_)).json())
    stored = await repo.search_json(ctx, "ValueSet", [("url", key.split("|", 1)[0])])
    if not stored:
        raise BenhanError(ErrorCode.NOT_FOUND, f"Value set {key} is not known")
    return from_resource(stored[0])


def _header(vs: ValueSetDef) -> JsonObj:
    return {"resourceType": "ValueSet", "id": vs.id, "url": vs.url, "title": vs.title, "status": "active"}


def from_resource(resource: JsonObj) -> tuple[JsonObj, ValueSetDef]:
    """A ValueSet resource's compose as a definition (only ``include`` of whole systems or concept lists)."""
    compose = resource.get("compose") or {}
    if compose.get("exclude"):
        raise BenhanError(ErrorCode.UNPROCESSABLE, "compose.exclude is not supported by this server's $expand")
    includes: list[tuple[str, tuple[str, ...] | None]] = []
    for inc in compose.get("include") or []:
        if inc.get("filter") or inc.get("valueSet") or not inc.get("system"):
            raise BenhanError(ErrorCode.UNPROCESSABLE, "Only compose.include of a system (all or listed codes) works")
        concepts = inc.get("concept")
        includes.append((str(inc["system"]), tuple(str(c["code"]) for c in concepts) if concepts else None))
    keys = ("resourceType", "id", "url", "version", "title", "status")
    header: JsonObj = {k: resource[k] for k in keys if k in resource}
    vs_id = str(resource.get("id") or "")
    return header, ValueSetDef(vs_id, str(resource.get("url") or ""), str(resource.get("title") or ""), tuple(includes))
