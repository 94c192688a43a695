"""Composite parameters answered without rows of their own (FHIR R4 search.html#composite).

- Two-part composites over the resource itself (R4: Observation's ``code-value-concept`` and
  ``code-value-quantity``): their one element is the resource, so a composite matches exactly when both
  component parameters match, and it is answered from their rows (:func:`resource_level`). Storing
  composite rows for them duplicated every coded value: ``code-value-quantity`` alone was 40 % of
  ``sp_quantity`` (~60 bytes per resource at 5 M resources).
- Composites of three or more components (below).

R4 has four, all on MolecularSequence (``chromosome-variant-coordinate=1$gt123$lt345``: a token, then two
numbers, matching within one ``variant``). Two-part composites have index rows of their own
(extract._composite); an N-part one is answered from the index rows of its component parameters (a
necessary condition, fast) plus an exact same-element check: an SQL/JSON path over the stored resource,
built here. That check needs each component to be a token or a number at a plain path (``start``,
``%resource.referenceSeq.chromosome``), which holds for every N-part parameter of R4; others are
unsupported parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from benhan.fhir.search import registry
from benhan.fhir.search.query import Value
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.values import QUANTITY_TYPES, decimal_range, parse_decimal

__all__ = ["NPart", "n_part", "resource_level", "same_element_path"]

_PLAIN = re.compile(r"^(%resource\.)?[A-Za-z]+(\.[A-Za-z]+)*$")
_AS = re.compile(r"^(?P<path>[A-Za-z.]+?)(?:\.as\((?P<f>[A-Za-z]+)\)| as (?P<op>[A-Za-z]+))?$")
_COMPARE = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "sa": ">", "eb": "<"}


def _branches(expression: str, prefix: str) -> frozenset[tuple[str, str]] | None:
    """(path, type or "") per union branch of a simple expression, ``prefix`` removed; None otherwise."""
    out = set()
    for raw in expression.split(" | "):
        branch = raw.strip()
        if branch.startswith("(") and branch.endswith(")"):
            branch = branch[1:-1].strip()
        branch = branch.removeprefix(prefix)
        m = _AS.match(branch)
        if m is None:
            return None
        out.add((m["path"], m["f"] or m["op"] or ""))
    return frozenset(out)


@cache
def resource_level(param: SearchParam) -> tuple[SearchParam, SearchParam] | None:
    """The (token, value) component parameters of a two-part composite over the resource itself whose
    component parameters select exactly what its components select; None for any other composite.

    Such a composite holds for a resource exactly when its first component parameter matches ``[system|]code``
    and its second matches the value (one element: the resource; each component parameter reads the same
    element as the component, checked here branch by branch; a quantity branch on a type the quantity
    extraction never indexes, SampledData, adds nothing). Type names compare exactly: ``code-value-date``
    reads ``value.as(DateTime)`` (FHIRPath's System.DateTime, R4's literal expression) where ``value-date``
    reads ``value as dateTime``, so it keeps rows of its own; ``code-value-string`` too: its value parameter
    also reads ``CodeableConcept.text``."""
    rtype = param.resource_type
    if param.type != "composite" or len(param.components) != 2 or param.expression.strip() != rtype:
        return None
    owns = [registry.lookup(rtype, c.code) for c in param.components]
    first, second = owns
    if first is None or second is None or first.type != "token":
        return None
    for own, component in zip(owns, param.components, strict=True):
        assert own is not None
        wanted = _branches(component.expression, "")
        have = _branches(own.expression, rtype + ".")
        if wanted is None or have is None:
            return None
        if own.type == "quantity":
            have = frozenset(b for b in have if not b[1] or b[1] in QUANTITY_TYPES)
        if wanted != have:
            return None
    return first, second


@dataclass(frozen=True, slots=True)
class NPart:
    """An N-part composite: the SQL/JSON path of its elements and, per component, its parameter and path."""

    element: str
    components: tuple[tuple[SearchParam, str], ...]


def _steps(path: str) -> str:
    return "".join(f".{name}[*]" for name in path.split("."))


@cache
def n_part(param: SearchParam) -> NPart | None:
    """The N-part (N >= 3) composite ``param`` in SQL/JSON path terms; None when not of that shape."""
    if param.type != "composite" or len(param.components) < 3 or " | " in param.expression:
        return None
    head, _, element = param.expression.partition(".")
    if head != param.resource_type or not _PLAIN.match(element):
        return None
    components = []
    for c in param.components:
        own = registry.lookup(param.resource_type, c.code)
        if own is None or own.type not in ("token", "number") or not _PLAIN.match(c.expression):
            return None
        absolute = c.expression.startswith("%resource.")
        path = ("$" + _steps(c.expression.removeprefix("%resource."))) if absolute else ("@" + _steps(c.expression))
        components.append((own, path))
    return NPart("$" + _steps(element), tuple(components))


def _token(path: str, text: str, n: int, variables: dict[str, Any]) -> str:
    """search.html#token on a code, Coding or CodeableConcept at ``path``."""
    system, bar, code = text.rpartition("|") if "|" in text else ("", "", text)
    tests = []
    if code:
        variables[f"c{n}"] = code
        tests.append(f"@.code == $c{n}")
    if system:
        variables[f"s{n}"] = system
        tests.append(f"@.system == $s{n}")
    elif bar:
        tests.append("!exists(@.system)")  # |code: a code without a system
    cond = " && ".join(tests)
    coded = f"exists({path} ? ({cond})) || exists({path}.coding[*] ? ({cond}))"
    return f"({coded} || exists({path} ? (@ == $c{n})))" if not bar else f"({coded})"


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _number(path: str, value: Value, n: int, variables: dict[str, Any]) -> str:
    """search.html#number with prefixes and the implicit precision range of ``eq`` / ``ne``."""
    number = parse_decimal(value.text)
    assert number is not None  # checked by the parser
    if value.prefix in ("eq", "ne"):
        low, high = decimal_range(number)
        variables[f"l{n}"], variables[f"h{n}"] = _json_number(low), _json_number(high)
        inside = f"@ >= $l{n} && @ < $h{n}"
        return f"exists({path} ? ({inside if value.prefix == 'eq' else f'!({inside})'}))"
    if value.prefix == "ap":
        slack = abs(number) / 10
        variables[f"l{n}"], variables[f"h{n}"] = _json_number(number - slack), _json_number(number + slack)
        return f"exists({path} ? (@ >= $l{n} && @ <= $h{n}))"
    variables[f"v{n}"] = _json_number(number)
    return f"exists({path} ? (@ {_COMPARE[value.prefix]} $v{n}))"


def same_element_path(shape: NPart, parts: list[Value]) -> tuple[str, dict[str, Any]]:
    """The SQL/JSON path (and its variables) true when one element matches every part."""
    variables: dict[str, Any] = {}
    tests = []
    for n, ((param, path), value) in enumerate(zip(shape.components, parts, strict=True)):
        if param.type == "token":
            tests.append(_token(path, value.text, n, variables))
        else:
            tests.append(_number(path, value, n, variables))
    return f"{shape.element} ? ({' && '.join(tests)})", variables
