"""Structural validation of FHIR R4 JSON resources (FHIR R4 json.html, datatypes.html, resource.html).

Checks: known ``resourceType``; unknown properties (``_x`` primitive siblings allowed); JSON kinds;
array vs single value (R4 base maxima are 1 or *); min cardinality; one variant per choice element;
primitive formats by the spec's regexes; no empty strings, objects or arrays; required bindings
(codes, Codings and CodeableConcepts whose value set expands offline); contained resources and Bundle/Parameters
resources recursively. Invariants (FHIRPath constraints) and profiles are out of scope.

Hot path notes: the tables in ``definitions.MODEL`` are compiled once; expressions are built with
plain string concatenation and only issue objects are allocated on failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benhan.fhir.model.definitions import MODEL, PRIMITIVE, RESOURCE, ElementDef, TypeNode
from benhan.fhir.model.primitives import json_kind

_NODES = MODEL.nodes
_ELEMENT_NODE = MODEL.nodes["Element"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem, shaped like an OperationOutcome.issue (severity, IssueType code, text, FHIRPath)."""

    severity: str  # "error" | "warning"
    code: str  # FHIR IssueType: structure, required, value, code-invalid, invalid, too-costly
    message: str
    expression: str


Issues = list[ValidationIssue]


def validate_resource(resource: Mapping[str, object]) -> list[ValidationIssue]:
    """Validate one resource (decoded JSON); an empty list means it conforms to the R4 base structure."""
    issues: Issues = []
    if isinstance(resource, Mapping) and type(resource) is not dict:
        resource = dict(resource)
    try:
        _resource(resource, "", issues, None, nested_contained=False)
    except RecursionError:
        # FHIR allows deep nesting (Questionnaire.item.item ...), but not unbounded.
        issues.append(ValidationIssue("error", "too-costly", "the resource is nested too deeply", ""))
    return issues


def _err(issues: Issues, code: str, message: str, expression: str) -> None:
    issues.append(ValidationIssue("error", code, message, expression))


def _resource(value: object, path: str, issues: Issues, expected: str | None, nested_contained: bool) -> None:
    if type(value) is not dict:
        _err(issues, "structure", f"a resource must be a JSON object, not {json_kind(value)}", path)
        return
    rt = value.get("resourceType")
    if rt is None:
        _err(issues, "required", "the resource has no resourceType", path)
        return
    if type(rt) is not str or rt not in MODEL.resource_types:
        _err(issues, "invalid", f"{rt!r} is not a FHIR R4 resource type", _join(path, "resourceType"))
        return
    if expected is not None and rt != expected:
        _err(issues, "invalid", f"expected a {expected} resource here, found {rt}", path)
        return
    if nested_contained and "contained" in value:
        # FHIR R4 references.html#contained: contained resources SHALL NOT contain resources.
        _err(issues, "structure", "a contained resource must not itself contain resources", path + ".contained")
    _object(value, _NODES[rt], path or rt, issues)


def _join(path: str, segment: str) -> str:
    return path + "." + segment if path else segment


def _object(obj: dict[str, object], node: TypeNode, path: str, issues: Issues) -> None:
    if not obj:
        _err(issues, "structure", "an empty object is not allowed; omit the element instead", path)
        return
    elements = node.elements
    choices: set[str] | None = None
    for key, value in obj.items():
        el = elements.get(key)
        if el is None:
            _other_property(obj, key, value, node, path, issues)
            continue
        if el.choice:
            if choices is None:
                choices = set()
            elif el.name in choices:
                _err(issues, "structure", f"only one variant of {el.name}[x] is allowed", path + "." + el.name)
            choices.add(el.name)
        if el.is_array:
            _array(obj, value, el, path + "." + el.fhirpath, issues)
        elif type(value) is list:
            _err(
                issues,
                "structure",
                f"{el.name} allows a single value, not an array",
                path + "." + el.fhirpath,
            )
        elif value is None:
            _err(issues, "structure", "null is not allowed; omit the element instead", path + "." + el.fhirpath)
        else:
            _value(value, el, path + "." + el.fhirpath, issues)
    for name, keys in node.required:
        for k in keys:
            if k in obj:
                break
        else:
            _err(issues, "required", f"{name} is required (minimum cardinality 1)", path + "." + name)


def _array(obj: dict[str, object], value: object, el: ElementDef, path: str, issues: Issues) -> None:
    if type(value) is not list:
        _err(issues, "structure", f"{el.name} must be a JSON array (maximum cardinality > 1)", path)
        return
    if not value:
        _err(issues, "structure", "an empty array is not allowed; omit the element instead", path)
        return
    for i, item in enumerate(value):
        if item is None:
            # FHIR R4 json.html#primitive: null only pads a primitive array aligned with its "_x" twin.
            if el.kind != PRIMITIVE or ("_" + el.key) not in obj:
                _err(issues, "structure", "null is not allowed in this array", f"{path}[{i}]")
            continue
        _value(item, el, f"{path}[{i}]", issues)


def _value(value: object, el: ElementDef, path: str, issues: Issues) -> None:
    kind = el.kind
    if kind == PRIMITIVE:
        assert el.check is not None
        problem = el.check(value)
        if problem is not None:
            _err(issues, problem[0], problem[1], path)
        elif el.codes is not None and value not in el.codes:
            _err(
                issues,
                "code-invalid",
                f"{value!r} is not a code of the required value set {el.value_set}",
                path,
            )
    elif kind == RESOURCE:
        expected = None if el.type_code == "Resource" else el.type_code
        _resource(value, path, issues, expected, nested_contained=el.key == "contained")
    elif type(value) is not dict:
        _err(
            issues,
            "structure",
            f"{el.name} must be a JSON object ({el.type_code}), not {json_kind(value)}",
            path,
        )
    else:
        assert el.node is not None
        _object(value, el.node, path, issues)
        if el.coded is not None:
            _binding(value, el, path, issues)


def _binding(value: dict[str, object], el: ElementDef, path: str, issues: Issues) -> None:
    assert el.coded is not None
    codings = value.get("coding") if el.type_code == "CodeableConcept" else [value]
    if type(codings) is list:
        for c in codings:
            if type(c) is dict and c.get("code") in el.coded.get(c.get("system"), ()):  # type: ignore[arg-type]
                return
    _err(issues, "code-invalid", f"{el.name} needs a coding from the required value set {el.value_set}", path)


def _other_property(obj: dict[str, object], key: str, value: object, node: TypeNode, path: str, issues: Issues) -> None:
    if key == "resourceType" and node.kind == "resource":
        return
    if key.startswith("_"):
        el = node.elements.get(key[1:])
        if el is not None and el.kind == PRIMITIVE:
            _primitive_extension(obj, value, el, path + "." + el.fhirpath, issues)
            return
    _err(issues, "structure", f"unknown element {key!r} in {node.name}", path + "." + key)


def _primitive_extension(obj: dict[str, object], value: object, el: ElementDef, path: str, issues: Issues) -> None:
    # FHIR R4 json.html#primitive: "_x" carries id/extension of primitive x; arrays align by index.
    if not el.is_array:
        if type(value) is not dict:
            _err(issues, "structure", f"_{el.key} must be a JSON object (id/extension)", path)
        else:
            _object(value, _ELEMENT_NODE, path, issues)
        return
    if type(value) is not list:
        _err(issues, "structure", f"_{el.key} must be a JSON array aligned with {el.key}", path)
        return
    values = obj.get(el.key)
    if type(values) is list and len(values) != len(value):
        _err(issues, "structure", f"_{el.key} and {el.key} must have the same length", path)
    for i, item in enumerate(value):
        if item is None:
            if type(values) is not list or i >= len(values) or values[i] is None:
                _err(issues, "structure", "an item needs a value, an extension or both", f"{path}[{i}]")
        elif type(item) is not dict:
            _err(issues, "structure", f"_{el.key} items must be JSON objects or null", f"{path}[{i}]")
        else:
            _object(item, _ELEMENT_NODE, f"{path}[{i}]", issues)
