"""Compile the FHIRPath expressions of SearchParameters once into fast walkers over resource JSON.

R4 SearchParameter expressions use a small subset (see tools/gen_search_params.py data): paths, ``|``
unions, ``(x as T)`` / ``x.as(T)`` / ``x.ofType(T)``, ``.where(resolve() is T)`` and
``.where(field='literal')``. Those are compiled against the R4 element tables of
:mod:`benhan.fhir.model` so every selected value carries its FHIR type. Anything else (e.g.
``Bundle.entry[0].resource`` or ``x.exists() and x != false``) falls back to ``fhirpathpy``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from benhan.fhir.model.definitions import MODEL, PRIMITIVE, TypeNode

__all__ = ["Selected", "Walker", "compile_expression", "root_keys"]

#: (value, FHIR type code) — the type code is ``None`` when only fhirpathpy knew the value.
Selected = tuple[Any, str | None]
Walker = Callable[[dict[str, Any]], list[Selected]]

_AS = re.compile(r"^\((.+) as (\w+)\)(.*)$")
_AS_FN = re.compile(r"\.as\((\w+)\)")
_WHERE_RESOLVE = re.compile(r"^where\(resolve\(\) is (\w+)\)$")
_WHERE_EQ = re.compile(r"^where\((\w+)\s*=\s*'([^']*)'\)$")
_OFTYPE = re.compile(r"^ofType\((\w+)\)$")
_NAME = re.compile(r"^[a-zA-Z]\w*$")


class _Unsupported(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Opt:
    key: str
    type_code: str
    node: TypeNode | None


# A step maps the current (value, type, node) list to the next one.
_Item = tuple[Any, str, "TypeNode | None"]
_Step = Callable[[list[_Item]], list[_Item]]


def _split_dots(expr: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _normalise(branch: str) -> str:
    branch = branch.strip()
    m = _AS.match(branch)
    if m:
        branch = f"{m.group(1)}.ofType({m.group(2)}){m.group(3)}"
    return _AS_FN.sub(r".ofType(\1)", branch)


def _child_step(name: str, wanted: str | None) -> _Step:
    # The element variants of `name` per parent node, resolved once: (JSON key, type code, child node).
    # R4 expressions write some type names capitalised (`value.as(DateTime)`), so `wanted` is compared
    # case-insensitively.
    plans: dict[int, list[tuple[str, str, TypeNode | None]]] = {}

    def plan(node: TypeNode) -> list[tuple[str, str, TypeNode | None]]:
        found = plans.get(id(node))
        if found is None:
            found = [(el.key, el.type_code, el.node if el.kind != PRIMITIVE else None)
                     for el in node.by_name.get(name, ())
                     if wanted is None or el.type_code.lower() == wanted.lower()]
            plans[id(node)] = found
        return found

    def step(items: list[_Item]) -> list[_Item]:
        out: list[_Item] = []
        for value, _t, node in items:
            if node is None or not isinstance(value, dict):
                continue
            for key, type_code, child in plan(node):
                got = value.get(key)
                if got is None:
                    continue
                if isinstance(got, list):
                    out.extend((v, type_code, child) for v in got)
                else:
                    out.append((got, type_code, child))
        return out

    return step


def _resolve_is(type_name: str) -> _Step:
    # FHIR R4 search.html#reference: `where(resolve() is T)` keeps references to resources of type T;
    # the type is known from the literal reference ("T/id", ".../T/id") or Reference.type.
    def step(items: list[_Item]) -> list[_Item]:
        return [it for it in items if isinstance(it[0], dict) and reference_type(it[0]) == type_name]

    return step


def _where_eq(field: str, literal: str) -> _Step:
    def step(items: list[_Item]) -> list[_Item]:
        return [it for it in items if isinstance(it[0], dict) and it[0].get(field) == literal]

    return step


def reference_type(ref: dict[str, Any]) -> str | None:
    """Resource type a Reference points to, from ``reference`` ("Type/id", absolute URL) or ``type``."""
    literal = ref.get("reference")
    if isinstance(literal, str) and "/" in literal:
        parts = literal.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            return parts[-4]
        return parts[-2]
    typ = ref.get("type")
    return typ if isinstance(typ, str) else None


def _compile_branch(branch: str, resource_type: str) -> list[_Step]:
    parts = _split_dots(_normalise(branch))
    if parts[0] not in (resource_type, "Resource", "DomainResource"):
        raise _Unsupported(branch)
    steps: list[_Step] = []
    i = 1
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else ""
        if _NAME.match(part):
            m = _OFTYPE.match(nxt)
            steps.append(_child_step(part, m.group(1) if m else None))
            i += 2 if m else 1
            continue
        if m := _WHERE_RESOLVE.match(part):
            steps.append(_resolve_is(m.group(1)))
        elif m := _WHERE_EQ.match(part):
            steps.append(_where_eq(m.group(1), m.group(2)))
        else:
            raise _Unsupported(branch)
        i += 1
    return steps


def _run(steps: list[_Step], root: dict[str, Any], node: TypeNode) -> list[Selected]:
    items: list[_Item] = [(root, node.name, node)]
    for step in steps:
        items = step(items)
        if not items:
            return []
    return [(v, t) for v, t, _n in items]


def _fhirpath_walker(expression: str) -> Walker:
    import fhirpathpy  # slow import; only for the few expressions outside the compiled subset
    from fhirpathpy.models import models

    compiled = fhirpathpy.compile(expression, models["r4"])

    def walk(resource: dict[str, Any]) -> list[Selected]:
        try:
            return [(v, None) for v in compiled(resource, {}) if v is not None]
        except Exception:  # a FHIRPath runtime error means "no value" for indexing
            return []

    return walk


#: ``x.exists() and x != false`` (R4 Patient-deceased): true when ``x`` holds anything but the boolean false
_EXISTS_NOT_FALSE = re.compile(r"^(.+)\.exists\(\) and \1 != false$")


def _exists_not_false(inner: Walker) -> Walker:
    """The value of ``x.exists() and x != false`` given the walker of ``x``, always one boolean (so, like the
    fhirpathpy walker it replaces, ``false`` for a resource without ``x``; ~100 us less per Patient on a slow
    2-core VM).  FHIRPath (fhirpath.html#and, #equality): ``exists()`` of an empty collection is false, and
    ``false and {}`` is false; one item equals ``false`` only if it is the boolean false (a value of another
    type is not equal); a collection of several items never equals a single item."""

    def walk(resource: dict[str, Any]) -> list[Selected]:
        got = inner(resource)
        return [(len(got) > 1 or (len(got) == 1 and got[0][0] is not False), None)]

    return walk


#: A branch made of element names only, resolved at compile time (the element types are static):
#: per level the (JSON key, type code, next level) variants; ``None`` as next level marks a selected element.
_Trie = tuple[tuple[str, str, "_Trie | None"], ...]


def _trie(parts: list[str], node: TypeNode, i: int = 1) -> _Trie | None:
    """The trie of ``parts[i:]`` below ``node``; None when a part is not a plain element name (or ofType)."""
    part = parts[i]
    if not _NAME.match(part):
        return None
    m = _OFTYPE.match(parts[i + 1]) if i + 1 < len(parts) else None
    wanted = m.group(1).lower() if m else None
    rest = i + (2 if m else 1)
    out: list[tuple[str, str, _Trie | None]] = []
    for el in node.by_name.get(part, ()):
        if wanted is not None and el.type_code.lower() != wanted:
            continue
        if rest >= len(parts):
            out.append((el.key, el.type_code, None))
        elif el.kind != PRIMITIVE and el.node is not None:
            sub = _trie(parts, el.node, rest)
            if sub is None:
                return None
            out.append((el.key, el.type_code, sub))
    return tuple(out)


def _walk_trie(value: dict[str, Any], trie: _Trie, out: list[Selected]) -> None:
    # Depth first, variants in element order: the same order as the step-by-step walk of _run.
    for key, type_code, sub in trie:
        got = value.get(key)
        if got is None:
            continue
        for v in got if isinstance(got, list) else (got,):
            if sub is None:
                out.append((v, type_code))
            elif isinstance(v, dict):
                _walk_trie(v, sub, out)


@cache
def compile_expression(expression: str, resource_type: str) -> Walker:
    """Compile ``expression`` (a union of branches) for resources of ``resource_type``; cached."""
    if m := _EXISTS_NOT_FALSE.match(expression):
        return _exists_not_false(compile_expression(m.group(1), resource_type))
    node = MODEL.nodes[resource_type]
    compiled: list[list[_Step] | _Trie] = []
    fast: list[bool] = []
    try:
        for branch in expression.split(" | "):
            if branch.strip():
                steps = _compile_branch(branch, resource_type)  # raises when outside the subset
                parts = _split_dots(_normalise(branch))
                trie = _trie(parts, node) if len(parts) > 1 else None
                compiled.append(trie if trie is not None else steps)
                fast.append(trie is not None)
    except _Unsupported:
        return _fhirpath_walker(expression)
    plan = list(zip(fast, compiled, strict=True))

    def walk(resource: dict[str, Any]) -> list[Selected]:
        out: list[Selected] = []
        for is_trie, branch in plan:
            if is_trie:
                _walk_trie(resource, branch, out)  # type: ignore[arg-type]
            else:
                out.extend(_run(branch, resource, node))  # type: ignore[arg-type]
        return out

    return walk


@cache
def root_keys(expression: str, resource_type: str) -> frozenset[str] | None:
    """The resource's JSON keys of which at least one must be present for the compiled walker of
    ``expression`` to select anything (``valueQuantity``, ``valueString``… for ``value``), so extraction
    can skip the walk without running it; None when that is not known (e.g. fhirpathpy expressions such
    as ``x.exists() and x != false``, which select ``false`` from an empty resource)."""
    node = MODEL.nodes[resource_type]
    keys: set[str] = set()
    for branch in expression.split(" | "):
        if not branch.strip():
            continue
        parts = _split_dots(_normalise(branch))
        try:
            _compile_branch(branch, resource_type)
        except _Unsupported:
            return None
        if len(parts) < 2 or not _NAME.match(parts[1]):
            return None
        # `value.ofType(Quantity)` (also written `value as Quantity`) needs `valueQuantity` only.
        m = _OFTYPE.match(parts[2]) if len(parts) > 2 else None
        keys.update(el.key for el in node.by_name.get(parts[1], ())
                    if m is None or el.type_code.lower() == m.group(1).lower())
    return frozenset(keys)


#: Keys whose values are not text a reader would search for: addresses and code systems, the narrative (``_text``
#: has it), element and resource ids, ``meta`` (version, timestamps, profiles, tags), and base64Binary
#: (``Attachment.data``, ``Binary.data``, ``hash``): ``_content`` of a document had indexed its attachment's
#: base64 and its timestamps as words.
_NOT_CONTENT = frozenset({"reference", "system", "url", "div", "id", "meta", "data", "hash"})
#: date, dateTime and instant values (FHIR R4 datatypes.html): dates are searched with date parameters
_DATE_LIKE = re.compile(r"^-?\d{4}(-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def iter_strings(value: Any) -> Iterator[str]:
    """Every string leaf of a JSON value that is text (for ``_content``; see ``_NOT_CONTENT``)."""
    if isinstance(value, str):
        if not _DATE_LIKE.match(value):
            yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in _NOT_CONTENT:
                yield from iter_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_strings(v)
