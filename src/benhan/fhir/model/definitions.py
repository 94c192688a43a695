"""Compiled FHIR R4 element tables, built once at import from ``data/r4.json.gz``.

A ``TypeNode`` is a resource, a complex datatype or a backbone element (named by its path, e.g.
``Patient.contact``). Its ``elements`` map every JSON property name to an ``ElementDef``; choice
elements (``value[x]``) appear once per allowed type (``valueQuantity``, ``valueString`` ...),
as FHIR R4 json.html#choice prescribes.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from importlib import resources
from typing import Final, TypedDict

import orjson

from benhan.fhir.model.primitives import Checker, build_checkers

PRIMITIVE: Final = 0
COMPLEX: Final = 1
RESOURCE: Final = 2

# Row layout written by tools/gen_fhir_model.py.
Row = tuple[str, list[str], int, int, int, "str | None", "list[str] | None"]


class _TypeJson(TypedDict):
    kind: str
    elements: list[Row]


class _DataJson(TypedDict):
    source: dict[str, str]
    resourceTypes: list[str]
    types: dict[str, _TypeJson]
    primitives: dict[str, str | None]
    valueSets: dict[str, dict[str, list[str]]]
    compartment: dict[str, list[str]]


@dataclass(slots=True, eq=False)
class ElementDef:
    """One JSON property of a node (one variant of a choice element)."""

    name: str  # FHIR element name without [x]: "value", "name"
    key: str  # JSON property: "valueQuantity", "name"
    type_code: str  # "Quantity", "string", "Patient.contact", "Resource", "OperationOutcome"
    kind: int  # PRIMITIVE | COMPLEX | RESOURCE
    is_array: bool
    min: int
    max: int  # -1 for "*"
    summary: bool
    modifier: bool
    choice: bool
    fhirpath: str  # path segment: "name", "value.ofType(Quantity)"
    value_set: str | None = None  # required binding, when expandable
    codes: frozenset[str] | None = None  # allowed codes (any system) of the required binding
    coded: dict[str, frozenset[str]] | None = None  # system -> codes, for Coding/CodeableConcept
    targets: tuple[str, ...] = ()  # Reference/canonical target resource types
    check: Checker | None = None  # primitive checker
    node: TypeNode | None = None  # complex type node


@dataclass(slots=True, eq=False)
class TypeNode:
    name: str
    kind: str  # "resource" | "complex-type" | "backbone"
    elements: dict[str, ElementDef] = field(default_factory=dict)
    # FHIR element name -> its variants, in definition order (one unless a choice).
    by_name: dict[str, tuple[ElementDef, ...]] = field(default_factory=dict)
    # (element name, JSON keys that satisfy it, incl. "_x" primitive siblings) for min >= 1.
    required: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    source: str
    resource_types: frozenset[str]
    nodes: dict[str, TypeNode]
    primitive_types: frozenset[str]
    value_sets: dict[str, dict[str, frozenset[str]]]
    compartment: dict[str, tuple[str, ...]]


def _key(name: str, type_code: str, choice: bool) -> str:
    if not choice:
        return name
    return name + type_code[0].upper() + type_code[1:]


def _elements_of(row: Row, ctx: _Ctx) -> list[ElementDef]:
    raw_name, types, min_, max_, flags, vs_url, targets = row
    choice = raw_name.endswith("[x]")
    name = raw_name[:-3] if choice else raw_name
    out = []
    for code in types:
        if code in ctx.checkers:
            kind = PRIMITIVE
        elif code == "Resource" or code in ctx.resource_types:
            kind = RESOURCE
        else:
            kind = COMPLEX
        expanded = ctx.value_sets.get(vs_url) if vs_url else None
        el = ElementDef(
            name=name,
            key=_key(name, code, choice),
            type_code=code,
            kind=kind,
            is_array=max_ != 1,
            min=min_,
            max=max_,
            summary=bool(flags & 1),
            modifier=bool(flags & 2),
            choice=choice,
            fhirpath=f"{name}.ofType({code})" if choice else name,
            value_set=vs_url if expanded is not None else None,
            targets=tuple(targets or ()),
            check=ctx.checkers.get(code),
        )
        if expanded is not None:
            if kind == PRIMITIVE:
                el.codes = frozenset(c for codes in expanded.values() for c in codes)
            elif code in ("Coding", "CodeableConcept"):
                el.coded = expanded
        out.append(el)
    return out


@dataclass(slots=True)
class _Ctx:
    checkers: dict[str, Checker]
    resource_types: frozenset[str]
    value_sets: dict[str, dict[str, frozenset[str]]]


def _build_node(name: str, spec: _TypeJson, ctx: _Ctx) -> TypeNode:
    node = TypeNode(name=name, kind=spec["kind"])
    required = []
    for row in spec["elements"]:
        variants = _elements_of(row, ctx)
        node.by_name[variants[0].name] = tuple(variants)
        for el in variants:
            node.elements[el.key] = el
        if row[2] >= 1:
            keys = [el.key for el in variants]
            keys += ["_" + el.key for el in variants if el.kind == PRIMITIVE]
            required.append((variants[0].name, tuple(keys)))
    node.required = tuple(required)
    return node


def _read_data() -> _DataJson:
    blob = resources.files("benhan.fhir.model").joinpath("data/r4.json.gz").read_bytes()
    data: _DataJson = orjson.loads(gzip.decompress(blob))
    return data


def load_model() -> Model:
    """Read the packaged definitions and link every node (call once; see ``MODEL``)."""
    data = _read_data()
    value_sets = {
        url: {system: frozenset(codes) for system, codes in by_system.items()}
        for url, by_system in data["valueSets"].items()
    }
    ctx = _Ctx(build_checkers(data["primitives"]), frozenset(data["resourceTypes"]), value_sets)
    nodes = {name: _build_node(name, spec, ctx) for name, spec in data["types"].items()}
    for node in nodes.values():
        for el in node.elements.values():
            if el.kind == COMPLEX:
                el.node = nodes[el.type_code]
    source = data["source"]
    return Model(
        source=f"{source['package']} (FHIR {source['fhirVersion']})",
        resource_types=ctx.resource_types,
        nodes=nodes,
        primitive_types=frozenset(ctx.checkers),
        value_sets=value_sets,
        compartment={rt: tuple(params) for rt, params in data["compartment"].items()},
    )


MODEL: Final[Model] = load_model()
