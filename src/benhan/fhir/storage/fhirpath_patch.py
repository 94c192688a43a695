"""FHIRPath Patch (FHIR R4 fhirpatch.html): a ``Parameters`` resource of ``operation`` parameters.

Each operation has the parts ``type`` (add | insert | delete | replace | move), ``path`` and, per type,
``name``, ``value`` (a ``value[x]``, a ``resource``, or nested ``part``s for an anonymous element such as
``Patient.contact``), ``index``, ``source`` and ``destination``. Operations apply in order to a copy of
the resource; the first failure aborts the whole patch (nothing is written). Rules from fhirpatch.html:

- the path selects a single element (``delete`` of nothing is a no-op: "delete the element, if found");
- ``add`` appends to a repeating element, and sets a single one only when it does not exist yet;
- ``insert`` index is 0..len, ``move`` source and destination are 0..len-1 (0-based);
- the value's type must be the element's type (or one of its choice types);
- the result is validated by the caller like any update.

Paths are evaluated by :mod:`benhan.fhir.storage.fhirpath_nodes` (the supported subset is listed there).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benhan.fhir.model.definitions import MODEL, ElementDef, TypeNode
from benhan.fhir.storage.fhirpath_nodes import Location, locate, locate_collection
from benhan.kernel.errors import BenhanError, ErrorCode, Issue

__all__ = ["apply_fhirpath_patch"]

JsonObj = dict[str, Any]
_TYPES = frozenset({"add", "insert", "delete", "replace", "move"})
_INTEGER_PARTS = ("index", "source", "destination")


@dataclass(frozen=True, slots=True)
class _Value:
    type_code: str | None  # FHIR type of the value; None for an anonymous element given as parts
    data: Any  # the JSON value; for an anonymous element {part name: [_Value, ...]}


@dataclass(frozen=True, slots=True)
class _Operation:
    type: str
    path: str
    expression: str  # where the operation is in the Parameters, for OperationOutcome.issue.expression
    name: str | None = None
    value: _Value | None = None
    index: int | None = None
    source: int | None = None
    destination: int | None = None


def _fail(error: ErrorCode, message: str, expression: str) -> BenhanError:
    return BenhanError(error, message, [Issue(error.issue_type, message, expression=(expression,))])


def _type_code(suffix: str) -> str:
    """``valueDateTime`` → ``dateTime``; ``valueHumanName`` → ``HumanName`` (FHIR R4 json.html#choice)."""
    primitive = suffix[:1].lower() + suffix[1:]
    return primitive if primitive in MODEL.primitive_types else suffix


def _value(part: JsonObj, expression: str) -> _Value:
    keys = [k for k in part if k.startswith("value") and len(k) > 5]
    if len(keys) == 1:
        return _Value(_type_code(keys[0][5:]), part[keys[0]])
    if not keys and isinstance(part.get("resource"), dict):
        return _Value(str(part["resource"].get("resourceType")), part["resource"])
    if not keys and isinstance(part.get("part"), list):
        # fhirpatch.html: an element without a datatype of its own (a backbone element) is given as parts.
        out: JsonObj = {}
        for j, sub in enumerate(part["part"]):
            if not isinstance(sub, dict) or not isinstance(sub.get("name"), str):
                raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, "Every part of a value needs a name",
                            f"{expression}.part[{j}]")
            out.setdefault(sub["name"], []).append(_value(sub, f"{expression}.part[{j}]"))
        return _Value(None, out)
    raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, "The value part needs exactly one value[x], a resource or parts",
                expression)


def _operation(param: Any, expression: str) -> _Operation:
    if not isinstance(param, dict) or param.get("name") != "operation" or not isinstance(param.get("part"), list):
        raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, "Each parameter is an 'operation' with parts", expression)
    fields: dict[str, Any] = {}
    for j, part in enumerate(param["part"]):
        where = f"{expression}.part[{j}]"
        name = part.get("name") if isinstance(part, dict) else None
        if name in fields:
            raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, f"The part {name!r} is repeated", where)
        if name == "type":
            fields["type"] = part.get("valueCode")
        elif name in ("path", "name"):
            fields[name] = part.get("valueString")
        elif name == "value":
            fields["value"] = _value(part, where)
        elif name in _INTEGER_PARTS:
            number = part.get("valueInteger")
            if not isinstance(number, int) or isinstance(number, bool):
                raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, f"{name} needs a valueInteger", where)
            fields[name] = number
        else:
            raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, f"Unknown operation part {name!r}", where)
    return _checked(fields, expression)


_REQUIRED = {"add": ("name", "value"), "insert": ("value", "index"), "delete": (), "replace": ("value",),
             "move": ("source", "destination")}


def _checked(fields: dict[str, Any], expression: str) -> _Operation:
    kind = fields.get("type")
    if kind not in _TYPES:
        raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, f"type must be one of {', '.join(sorted(_TYPES))}",
                    expression)
    if not isinstance(fields.get("path"), str) or not fields["path"].strip():
        raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, "Every operation needs a path (valueString)", expression)
    missing = [p for p in _REQUIRED[kind] if fields.get(p) is None]
    if missing:
        raise _fail(ErrorCode.INVALID_FHIRPATH_PATCH, f"{kind} needs {', '.join(missing)}", expression)
    fields["path"] = fields["path"].strip()
    return _Operation(expression=expression, **fields)


def _variant(variants: tuple[ElementDef, ...], value: _Value, op: _Operation) -> ElementDef:
    """The element variant the value's type fits (fhirpatch.html: a wrong type SHALL be an error)."""
    for el in variants:
        if value.type_code == el.type_code or (value.type_code is None and el.node is not None) or (
                el.type_code == "Resource" and value.type_code in MODEL.resource_types):
            return el
    allowed = ", ".join(el.type_code for el in variants)
    raise _fail(ErrorCode.PATCH_TYPE_MISMATCH,
                f"{variants[0].name} takes {allowed}, not {value.type_code or 'an anonymous element'}",
                op.expression)


def _shaped(el: ElementDef | None, node: TypeNode | None, value: _Value) -> Any:
    """An anonymous value's parts as JSON: single-valued elements unwrapped (by the model, when known)."""
    if value.type_code is not None or not isinstance(value.data, dict):
        return value.data
    target = el.node if el is not None and el.node is not None else node
    out: JsonObj = {}
    for name, parts in value.data.items():
        child = target.elements.get(name) if target is not None else None
        items = [_shaped(child, None, part) for part in parts]
        out[name] = items if (child.is_array if child is not None else len(items) > 1) else items[0]
    return out


def _single(resource: JsonObj, op: _Operation, *, allow_root: bool = False) -> Location:
    found = locate(resource, op.path, allow_root=allow_root)
    if not found:
        raise _fail(ErrorCode.PATCH_PATH_NO_MATCH, f"{op.path} matches no element", op.expression)
    if len(found) > 1:
        raise _fail(ErrorCode.PATCH_PATH_AMBIGUOUS, f"{op.path} matches {len(found)} elements", op.expression)
    return found[0]


def _remove(loc: Location) -> None:
    """Remove the value and, for primitives, its ``_name`` sibling (ids and extensions; json.html#primitive)."""
    sibling = "_" + loc.key
    if loc.index is None:
        del loc.holder[loc.key]
        loc.holder.pop(sibling, None)
        return
    del loc.holder[loc.key][loc.index]
    if isinstance(loc.holder.get(sibling), list) and loc.index < len(loc.holder[sibling]):
        del loc.holder[sibling][loc.index]
    if not loc.holder[loc.key]:
        del loc.holder[loc.key]
        loc.holder.pop(sibling, None)


def _add(resource: JsonObj, op: _Operation) -> None:
    assert op.name is not None
    assert op.value is not None
    target = _single(resource, op, allow_root=True)
    if not isinstance(target.value, dict):
        raise _fail(ErrorCode.PATCH_TYPE_MISMATCH, f"{op.path} is a primitive; add needs an element", op.expression)
    node = target.node if target.node is not None else MODEL.nodes.get(str(target.value.get("resourceType")))
    variants = node.by_name.get(op.name) if node is not None else None
    if node is not None and not variants:
        raise _fail(ErrorCode.PATCH_TYPE_MISMATCH, f"{op.path} has no element {op.name!r}", op.expression)
    el = _variant(variants, op.value, op) if variants else None
    key, data = (el.key if el else op.name), _shaped(el, None, op.value)
    if el is not None and el.is_array:
        target.value.setdefault(key, []).append(data)
        return
    if (variants and any(v.key in target.value for v in variants)) or key in target.value:
        raise _fail(ErrorCode.PATCH_FAILED, f"{op.path}.{op.name} exists already; use replace", op.expression)
    target.value[key] = data


def _replace(resource: JsonObj, op: _Operation) -> None:
    assert op.value is not None
    loc = _single(resource, op)
    variants = (loc.holder_node.by_name.get(loc.element.name)
                if loc.holder_node is not None and loc.element is not None else None)
    el = _variant(variants, op.value, op) if variants else loc.element
    data = _shaped(el, loc.node, op.value)
    if loc.index is not None:
        loc.holder[loc.key][loc.index] = data
        return
    _remove(loc)
    loc.holder[el.key if el is not None else loc.key] = data


def _delete(resource: JsonObj, op: _Operation) -> None:
    found = locate(resource, op.path)
    if len(found) > 1:
        raise _fail(ErrorCode.PATCH_PATH_AMBIGUOUS, f"{op.path} matches {len(found)} elements; delete removes one",
                    op.expression)
    if found:
        _remove(found[0])


def _list(resource: JsonObj, op: _Operation, *, create: bool) -> tuple[JsonObj, str, list[Any], ElementDef | None]:
    coll = locate_collection(resource, op.path)
    if coll is None:
        raise _fail(ErrorCode.PATCH_PATH_NO_MATCH, f"{op.path}: the element holding the list does not exist",
                    op.expression)
    items = coll.holder.get(coll.key, [] if create else None)
    if not isinstance(items, list):
        raise _fail(ErrorCode.PATCH_PATH_NO_MATCH, f"{op.path} is not a list here", op.expression)
    return coll.holder, coll.key, items, coll.element


def _check_index(value: int, size: int, what: str, op: _Operation) -> None:
    if not 0 <= value < size:
        raise _fail(ErrorCode.PATCH_INDEX_OUT_OF_RANGE, f"{what} {value} is outside 0..{size - 1}", op.expression)


def _insert(resource: JsonObj, op: _Operation) -> None:
    assert op.value is not None
    assert op.index is not None
    holder, key, items, el = _list(resource, op, create=True)
    _check_index(op.index, len(items) + 1, "index", op)
    if el is not None:
        _variant((el,), op.value, op)
    items.insert(op.index, _shaped(el, None, op.value))
    holder[key] = items


def _move(resource: JsonObj, op: _Operation) -> None:
    assert op.source is not None
    assert op.destination is not None
    holder, key, items, _el = _list(resource, op, create=False)
    _check_index(op.source, len(items), "source", op)
    _check_index(op.destination, len(items), "destination", op)
    items.insert(op.destination, items.pop(op.source))
    sibling = holder.get("_" + key)
    if isinstance(sibling, list) and len(sibling) == len(items):
        sibling.insert(op.destination, sibling.pop(op.source))


_APPLY: dict[str, Callable[[JsonObj, _Operation], None]] = {
    "add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move,
}


def apply_fhirpath_patch(document: JsonObj, patch: Any) -> JsonObj:
    """Apply a FHIRPath Patch ``Parameters`` to a copy of ``document`` and return it."""
    if not isinstance(patch, dict) or patch.get("resourceType") != "Parameters":
        raise BenhanError(ErrorCode.INVALID_FHIRPATH_PATCH, "A FHIRPath Patch is a Parameters resource")
    operations = patch.get("parameter")
    if not isinstance(operations, list) or not operations:
        raise BenhanError(ErrorCode.INVALID_FHIRPATH_PATCH, "The Parameters hold no operation")
    ops = [_operation(p, f"Parameters.parameter[{i}]") for i, p in enumerate(operations)]
    result = copy.deepcopy(document)
    for op in ops:
        try:
            _APPLY[op.type](result, op)
        except BenhanError as err:
            if not err.issues:  # errors raised by the path evaluator: point at the operation
                err.issues = [Issue(err.error.issue_type, err.message, expression=(op.expression,))]
            raise
    return result
