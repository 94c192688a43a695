"""Locate the JSON nodes a FHIRPath expression selects, for FHIRPath Patch (FHIR R4 fhirpatch.html).

``fhirpathpy`` returns values, not where they live, so a patch cannot use it to find the element to change.
This module evaluates the navigational subset of FHIRPath that patch paths use and returns *locations*
(the JSON object or array holding each selected value):

- the root is the resource type (``Patient``);
- ``.name`` navigates to a child; a choice element by its base name (``Observation.value`` finds
  ``valueQuantity``) or its JSON name (``valueQuantity``);
- ``[n]`` picks the n-th item (0-based) of what was selected so far;
- ``first()``, ``last()``, ``ofType(Type)``, ``extension('url')``;
- ``where(criteria)`` keeps the items for which ``criteria`` is true; the criteria may be any FHIRPath
  that ``fhirpathpy`` evaluates over the item (``where(system = 'https://benhan.vn/sid/cccd')``).

``resolve()`` and any other function are refused (fhirpatch.html: a patch SHALL NOT cross resources).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from benhan.fhir.model.definitions import MODEL, ElementDef, TypeNode
from benhan.kernel.errors import BenhanError, ErrorCode

__all__ = ["Collection", "Location", "Step", "locate", "locate_collection", "parse_path"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[(\d+)\]")
_FUNCTIONS = frozenset({"first", "last", "where", "ofType", "extension"})


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a path: a child name, an index, or a function call with its raw argument."""

    kind: str  # "name" | "index" | "function"
    name: str = ""
    index: int = 0
    argument: str = ""


@dataclass(slots=True)
class Location:
    """Where a selected value lives: ``holder[key]`` or, for a repeating element, ``holder[key][index]``."""

    holder: dict[str, Any]
    key: str
    index: int | None
    node: TypeNode | None  # the type of the value, when the model knows it
    element: ElementDef | None  # the element definition of ``key`` in the holder's type
    holder_node: TypeNode | None = None  # the holder's type, when the model knows it

    @property
    def value(self) -> Any:
        raw = self.holder[self.key]
        return raw if self.index is None else raw[self.index]


def _unsupported(path: str, why: str) -> BenhanError:
    return BenhanError(ErrorCode.FHIRPATH_UNSUPPORTED, f"Path {path!r}: {why}")


def _argument(path: str, start: int) -> tuple[str, int]:
    """The text between the parenthesis at ``start`` and its match, skipping quoted strings."""
    depth, i, quote = 0, start, ""
    while i < len(path):
        ch = path[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return path[start + 1:i], i + 1
        i += 1
    raise _unsupported(path, "unbalanced parentheses")


def parse_path(path: str) -> tuple[str, tuple[Step, ...]]:
    """Split ``Patient.identifier.where(system = 'x').value`` into its root and steps."""
    root = _NAME.match(path)
    if root is None:
        raise _unsupported(path, "a path starts with the resource type")
    steps: list[Step] = []
    i = root.end()
    while i < len(path):
        index = _INDEX.match(path, i)
        if index:
            steps.append(Step("index", index=int(index.group(1))))
            i = index.end()
            continue
        if path[i] != ".":
            raise _unsupported(path, f"unexpected {path[i]!r} at position {i}")
        name = _NAME.match(path, i + 1)
        if name is None:
            raise _unsupported(path, f"expected a name after the dot at position {i}")
        i = name.end()
        if i < len(path) and path[i] == "(":
            if name.group() not in _FUNCTIONS:
                raise _unsupported(path, f"{name.group()}() is outside the supported subset (docs/api.md)")
            argument, i = _argument(path, i)
            steps.append(Step("function", name=name.group(), argument=argument.strip()))
        else:
            steps.append(Step("name", name=name.group()))
    return root.group(), tuple(steps)


def _children(loc: Location, name: str) -> list[Location]:
    value = loc.value
    if not isinstance(value, dict):
        return []
    node = loc.node if loc.node is not None else _resource_node(value)
    keys: list[tuple[str, ElementDef | None]] = []
    variants = node.by_name.get(name) if node is not None else None
    if variants:
        keys = [(el.key, el) for el in variants if el.key in value]
    elif name in value:
        keys = [(name, node.elements.get(name) if node is not None else None)]
    out = []
    for key, el in keys:
        raw = value[key]
        if isinstance(raw, list):
            out += [Location(value, key, i, _node_of(el, item), el, node) for i, item in enumerate(raw)]
        else:
            out.append(Location(value, key, None, _node_of(el, raw), el, node))
    return out


def _resource_node(value: dict[str, Any]) -> TypeNode | None:
    rtype = value.get("resourceType")
    return MODEL.nodes.get(rtype) if isinstance(rtype, str) else None


def _node_of(el: ElementDef | None, value: Any) -> TypeNode | None:
    if el is None:
        return None
    if el.node is not None:
        return el.node
    return _resource_node(value) if isinstance(value, dict) else None


def _type_of(loc: Location) -> str | None:
    if isinstance(loc.value, dict) and "resourceType" in loc.value:
        return str(loc.value["resourceType"])
    return loc.element.type_code if loc.element is not None else None


def _where(path: str, criteria: str, items: list[Location]) -> list[Location]:
    import fhirpathpy  # the criteria are general FHIRPath over one item; only the locations are ours

    if "resolve(" in criteria:
        raise _unsupported(path, "resolve() crosses resources (fhirpatch.html)")
    try:
        compiled = fhirpathpy.compile(criteria)
        return [loc for loc in items if compiled(loc.value, {}) == [True]]
    except Exception as exc:  # fhirpathpy raises bare Exceptions on syntax errors
        raise _unsupported(path, f"where({criteria}) cannot be evaluated: {exc}") from None


def _function(path: str, step: Step, items: list[Location]) -> list[Location]:
    if step.name == "first":
        return items[:1]
    if step.name == "last":
        return items[-1:]
    if step.name == "where":
        return _where(path, step.argument, items)
    literal = step.argument.strip("'")
    if step.name == "ofType":
        wanted = literal.removeprefix("FHIR.")  # fhirpath.html#types: FHIR types may be namespace-qualified
        return [loc for loc in items if _type_of(loc) == wanted]
    # extension('url') is extension.where(url = 'url') (FHIR R4 fhirpath.html#functions).
    return [child for loc in items for child in _children(loc, "extension")
            if isinstance(child.value, dict) and child.value.get("url") == literal]


def _evaluate(resource: dict[str, Any], path: str, root: str, steps: tuple[Step, ...]) -> list[Location]:
    rtype = str(resource.get("resourceType"))
    if root not in (rtype, "Resource", "DomainResource"):
        raise _unsupported(path, f"it does not start with {rtype}")
    items = [Location({"$root": resource}, "$root", None, MODEL.nodes.get(rtype), None)]
    for step in steps:
        if step.kind == "name":
            items = [child for loc in items for child in _children(loc, step.name)]
        elif step.kind == "index":
            items = items[step.index:step.index + 1]
        else:
            items = _function(path, step, items)
    return items


def locate(resource: dict[str, Any], path: str, *, allow_root: bool = False) -> list[Location]:
    """Every location ``path`` selects in ``resource``; the resource itself only with ``allow_root``
    (``add`` names the new element separately, so ``Patient`` is a valid place to add to)."""
    root, steps = parse_path(path)
    if not steps and not allow_root:
        raise _unsupported(path, "the whole resource cannot be deleted, replaced or moved")
    return _evaluate(resource, path, root, steps)


@dataclass(frozen=True, slots=True)
class Collection:
    """A repeating element: ``holder[key]`` is (or will be) a JSON array of ``element`` values."""

    holder: dict[str, Any]
    key: str
    element: ElementDef | None


def locate_collection(resource: dict[str, Any], path: str) -> Collection | None:
    """The list a path such as ``Patient.name[0].given`` names (for ``insert`` and ``move``); None when the
    element holding it does not exist. The path must end in an element name."""
    root, steps = parse_path(path)
    if not steps or steps[-1].kind != "name":
        raise _unsupported(path, "insert and move need a path that ends in a repeating element's name")
    parents = _evaluate(resource, path, root, steps[:-1])
    if len(parents) > 1:
        raise BenhanError(ErrorCode.PATCH_PATH_AMBIGUOUS, f"Path {path!r} names {len(parents)} lists")
    if not parents or not isinstance(parents[0].value, dict):
        return None
    parent = parents[0]
    node = parent.node if parent.node is not None else _resource_node(parent.value)
    name = steps[-1].name
    el = node.elements.get(name) if node is not None else None
    if node is not None and (el is None or not el.is_array):
        raise BenhanError(ErrorCode.PATCH_TYPE_MISMATCH, f"Path {path!r}: {name} is not a repeating element")
    return Collection(parent.value, name, el)
