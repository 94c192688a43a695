"""Index values of a resource, per search parameter, ready for the index tables (pure, no I/O).

Each parameter's FHIRPath expression is compiled once (:mod:`.paths`); the selected elements are turned
into typed values by FHIR type (FHIR R4 search.html "Search Parameter Types"):

- string: folded (accent/case-insensitive, đ→d) value + the original for ``:exact``;
- token: (hash of system, code) and the folded display of a coding, for ``:text``; a text no token row of
  the parameter carries (a CodeableConcept.text unlike its displays, a display without a code) is a token
  row of its own under the ``:text`` pseudo-parameter; Identifier.type to ``:of-type`` rows;
- date: the implicit ``[low, high)`` range by precision, Periods open-ended as needed;
- number / quantity: decimals, quantity unit system and code, plus the UCUM canonical form;
- reference: (target type, id or absolute URL); Reference.identifier to ``:identifier`` token rows;
- uri: the text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from benhan.fhir.search import composite, registry
from benhan.fhir.search.paths import Selected, compile_expression, iter_strings, reference_type, root_keys
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.rows import IndexRows, split_reference, system_hash
from benhan.fhir.search.values import (
    MAX_INSTANT,
    MIN_INSTANT,
    QUANTITY_TYPES,
    canonical_quantity,
    date_range,
    parse_decimal,
)
from benhan.kernel.text import fold

__all__ = ["extract"]

_STRING_PARTS = {
    "HumanName": ("text", "family", "given", "prefix", "suffix"),
    "Address": ("text", "line", "city", "district", "state", "postalCode", "country"),
}


# Displays, names and units repeat across resources: folding is the hot spot of extraction (reindex).
_fold = lru_cache(maxsize=65536)(fold)
_pseudo = cache(registry.pseudo_id)
_composite_id = lru_cache(maxsize=65536)(registry.composite_id)


def _add_string(rows: IndexRows, pid: int, text: str) -> None:
    """A string row; the original is kept for ``:exact`` only when it differs from the folded form."""
    if text.strip():
        folded = _fold(text)[:200]
        original = text[:200]
        rows.strings.add((pid, folded, original if original != folded else None))


def _folded_text(p: SearchParam, text: Any) -> str | None:
    """The ``:text`` value of a display or text (folded and cut as string rows are), None when not indexed.
    search.html#token `:text` — on display/text. Not for meta tags (_tag, _security): their displays are
    the same on every resource of a feed and cost a row each; `_tag:text` is documented as unsupported."""
    if p.code.startswith("_") or not isinstance(text, str) or not text.strip():
        return None
    return _fold(text)[:200]


def _add_text(rows: IndexRows, p: SearchParam, text: Any) -> None:
    folded = _folded_text(p, text)
    if folded is not None:
        rows.texts.append((p, folded))


def _place_texts(rows: IndexRows) -> None:
    """Give each pending ``:text`` value of a parameter a home: nothing when a token row of the parameter
    already carries it (a CodeableConcept.text equal to a display: the usual case), else the first (in
    key order) of the parameter's rows that carries no text, else a text-only token row under the ``:text``
    pseudo-parameter. ``:text`` reads the parameter's rows and its pseudo-parameter's alike
    (storage/pg/search_sql.py), so which row holds a text does not matter to it; a row costs ~85 bytes with
    its index entries where a text on an existing row costs its characters (migration 0012)."""
    pending = rows.texts
    rows.texts = []
    for p, folded in pending:
        mine = [key for key in rows.tokens if key[0] == p.pid]
        if any(rows.tokens[key] == folded for key in mine):
            continue
        free = sorted(key for key in mine if rows.tokens[key] is None)
        if free:
            rows.tokens[free[0]] = folded
        else:
            rows.text_rows.add((_pseudo(p, "text"), folded))


def _strings(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value, typ = sel
    if isinstance(value, str):
        _add_string(rows, p.pid, value)
    elif isinstance(value, dict):
        parts = _STRING_PARTS.get(typ or "", ("text", "family", "given", "line", "city"))
        for key in parts:
            got = value.get(key)
            for s in got if isinstance(got, list) else (got,):
                if isinstance(s, str):
                    _add_string(rows, p.pid, s)
        if typ == "HumanName" or "family" in value:
            # Vietnamese names are written family-first ("Nguyễn Văn An"); index the whole name too.
            whole = " ".join([value.get("family", "") or "", *(value.get("given") or [])]).strip()
            if whole:
                _add_string(rows, p.pid, whole)


def _coding(rows: IndexRows, p: SearchParam, coding: dict[str, Any]) -> str | None:
    """The coding's token row, its display on that row when the row has none yet (else placed later);
    returns the folded display."""
    code = coding.get("code")
    display = _folded_text(p, coding.get("display"))
    if isinstance(code, str):
        key = (p.pid, system_hash(coding.get("system")), code)
        if rows.tokens.get(key) is None:
            rows.tokens[key] = display
            return display
    if display is not None:
        rows.texts.append((p, display))
    return display


def _tokens(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value, typ = sel
    if isinstance(value, bool):
        rows.tokens.setdefault((p.pid, 0, "true" if value else "false"), None)
    elif isinstance(value, str):
        rows.tokens.setdefault((p.pid, 0, value), None)
    elif not isinstance(value, dict):
        return
    elif typ == "CodeableConcept" or (typ is None and ("coding" in value or "text" in value)):
        displays = {_coding(rows, p, coding) for coding in value.get("coding", ())}
        text = _folded_text(p, value.get("text"))
        if text is not None and text not in displays:  # usually it repeats a display, which has a home
            rows.texts.append((p, text))
    elif typ == "Identifier" or (typ is None and "value" in value and "code" not in value):
        ident = value.get("value")
        if isinstance(ident, str):
            system = None if typ == "ContactPoint" else value.get("system")
            rows.tokens.setdefault((p.pid, system_hash(system), ident), None)
            for coding in (value.get("type") or {}).get("coding", ()):
                # search.html#token `:of-type`: type system | type code | identifier value
                rows.tokens.setdefault((_pseudo(p, "of-type"), system_hash(coding.get("system")),
                                        f"{coding.get('code')}|{ident}"), None)
        _add_text(rows, p, (value.get("type") or {}).get("text"))
    elif typ == "ContactPoint":
        if isinstance(value.get("value"), str):
            rows.tokens.setdefault((p.pid, 0, value["value"]), None)
    else:
        _coding(rows, p, value)


def _dates(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value, _typ = sel
    if isinstance(value, str):
        rng = date_range(value)
        if rng:
            rows.dates.add((p.pid, *rng))
    elif isinstance(value, dict):
        if "start" in value or "end" in value:
            lo = date_range(value["start"]) if isinstance(value.get("start"), str) else None
            hi = date_range(value["end"]) if isinstance(value.get("end"), str) else None
            # search.html#date: a Period with a missing boundary is open-ended on that side.
            rows.dates.add((p.pid, lo[0] if lo else MIN_INSTANT, hi[1] if hi else MAX_INSTANT))
        for event in value.get("event", ()):  # Timing
            _dates(rows, p, (event, "dateTime"))
        bounds = (value.get("repeat") or {}).get("boundsPeriod")
        if bounds:
            _dates(rows, p, (bounds, "Period"))


def _numbers(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value = sel[0]
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        dec = parse_decimal(str(value))
        if dec is not None:
            rows.numbers.add((p.pid, dec))


def _quantities(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value, typ = sel
    if not isinstance(value, dict) or (typ is not None and typ not in QUANTITY_TYPES):
        return
    dec = parse_decimal(str(value.get("value", "")))
    if dec is None:
        return
    system = value.get("system") if typ != "Money" else "urn:iso:std:iso:4217"
    code = value.get("code") if typ != "Money" else value.get("currency")
    canon = canonical_quantity(dec, system, code)
    rows.quantities.add((p.pid, dec, system_hash(system), code or value.get("unit") or "",
                         canon[0] if canon else None, canon[1] if canon else None))


def _references(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    value, _typ = sel
    if isinstance(value, str):  # canonical / uri
        rows.references.add((p.pid, "", value))
        if "|" in value:
            rows.references.add((p.pid, "", value.split("|", 1)[0]))
        return
    if not isinstance(value, dict):
        return
    literal = value.get("reference")
    if isinstance(literal, str):
        split = split_reference(literal)
        if split:
            rows.references.add((p.pid, split[0] or (reference_type(value) or ""), split[1]))
    ident = value.get("identifier")
    if isinstance(ident, dict) and isinstance(ident.get("value"), str):
        rows.tokens.setdefault((_pseudo(p, "identifier"), system_hash(ident.get("system")), ident["value"]), None)


def _uris(rows: IndexRows, p: SearchParam, sel: Selected) -> None:
    if isinstance(sel[0], str):
        rows.uris.add((p.pid, sel[0]))


_BY_TYPE = {
    "string": _strings, "token": _tokens, "date": _dates, "number": _numbers,
    "quantity": _quantities, "reference": _references, "uri": _uris,
}


_GROUP = {"string": "strings", "token": "tokens", "date": "dates", "number": "numbers", "quantity": "quantities",
          "reference": "references", "uri": "uris"}


def _composite_parts(rtype: str, p: SearchParam) -> tuple[SearchParam, SearchParam] | None:
    """The (token, value) component parameters of a two-part composite, or None when not supported."""
    if len(p.components) != 2 or " | " in p.expression:
        return None
    first, second = (registry.lookup(rtype, c.code) for c in p.components)
    if first is None or second is None or first.type != "token" or second.type not in _BY_TYPE:
        return None
    if any(c.expression.startswith("%") for c in p.components):
        return None
    return first, second


def _relative(p: SearchParam, expression: str) -> str:
    return " | ".join(f"{p.expression}.{branch.strip()}" for branch in expression.split(" | "))


_Walk = Callable[[dict[str, Any]], list[Selected]]


@cache
def _composite_walkers(
    rtype: str, p: SearchParam
) -> tuple[tuple[SearchParam, SearchParam], _Walk, _Walk, _Walk] | None:
    parts = _composite_parts(rtype, p)
    if parts is None:
        return None
    return (parts, compile_expression(p.expression, rtype),
            compile_expression(_relative(p, p.components[0].expression), rtype),
            compile_expression(_relative(p, p.components[1].expression), rtype))


def _codes(value: Any) -> list[str]:
    """Codes of a token value (Coding, CodeableConcept, code) for a composite's first component."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict):
        return []
    codings = value.get("coding", ()) if "coding" in value or "text" in value else (value,)
    return [c["code"] for c in codings if isinstance(c.get("code"), str)]


def _composite(rows: IndexRows, rtype: str, p: SearchParam, resource: dict[str, Any]) -> None:
    """search.html#composite: the components must match within one element selected by the expression.
    Each (first-component code, second-component value) pair of an element becomes a row of the second
    component's table under ``composite_id(p, code)``; the code's system is checked per resource."""
    found = _composite_walkers(rtype, p)
    if found is None or composite.resource_level(p) is not None:
        return  # resource-level composites are answered from their components' rows (search/composite.py)
    parts, walk, first_walk, second_walk = found
    path = p.expression.split(".")[1:]  # "Observation.component" -> ["component"]
    for element, _t in walk(resource):
        wrapped: Any = element
        for name in reversed(path):
            wrapped = {name: wrapped}
        wrapped = {**wrapped, "resourceType": rtype} if path else element
        selected = second_walk(wrapped)
        if not selected:
            continue
        codes = {code for sel in first_walk(wrapped) for code in _codes(sel[0])}
        values = IndexRows()
        for sel in selected:
            _BY_TYPE[parts[1].type](values, parts[1], sel)
        group = getattr(values, _GROUP[parts[1].type])
        target = getattr(rows, _GROUP[parts[1].type])
        for code in codes:
            cid = _composite_id(p, code)
            if isinstance(target, dict):  # token values: no :text on a composite
                target.update(((cid, *key[1:]), None) for key in group if key[0] == parts[1].pid)
            else:
                target.update((cid, *row[1:]) for row in group if row[0] == parts[1].pid)


#: handler, parameter, compiled walker (None: composite), and the top-level keys the walk needs (None: unknown)
_Plan = list[tuple[Callable[..., None], SearchParam, _Walk | None, frozenset[str] | None]]


@cache
def _plan(resource_type: str) -> _Plan:
    """The indexed parameters of a type with their handler and compiled walker (built once per type)."""
    plan: _Plan = []
    for p in registry.params_of(resource_type).values():
        if not p.indexed or not p.expression or p.code in ("_id", "_lastUpdated"):
            continue
        keys = root_keys(p.expression, resource_type)
        if p.type == "composite":
            if _composite_parts(resource_type, p) is not None:
                if "." not in p.expression:
                    # On the resource itself (Observation code-value-*): nothing without the value component.
                    keys = root_keys(_relative(p, p.components[1].expression), resource_type)
                plan.append((_composite, p, None, keys))
        elif p.type in _BY_TYPE:
            plan.append((_BY_TYPE[p.type], p, compile_expression(p.expression, resource_type), keys))
    return plan


@cache
def _plan_by_key(resource_type: str) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """Positions in ``_plan`` per top-level JSON key that a parameter's walk starts from, and the
    positions whose keys are unknown (always run)."""
    by_key: dict[str, list[int]] = {}
    always: list[int] = []
    for i, (_h, _p, _w, keys) in enumerate(_plan(resource_type)):
        if keys is None:
            always.append(i)
        for key in keys or ():
            by_key.setdefault(key, []).append(i)
    return {k: tuple(v) for k, v in by_key.items()}, tuple(always)


def extract(resource_type: str, resource: dict[str, Any]) -> IndexRows:
    """Every index value of ``resource`` (``_id`` and ``_lastUpdated`` live on the resource row)."""
    rows = IndexRows()
    plan = _plan(resource_type)
    by_key, always = _plan_by_key(resource_type)
    # Most parameters of a type select nothing from a given resource: run only those whose walk starts
    # from a top-level element the resource has (the bulk of extraction time otherwise).
    chosen = set(always)
    for key in resource:
        found = by_key.get(key)
        if found:
            chosen.update(found)
    for i in sorted(chosen):
        handler, p, walk, _keys = plan[i]
        if walk is None:
            handler(rows, resource_type, p, resource)
            continue
        for sel in walk(resource):
            handler(rows, p, sel)
    if rows.texts:
        _place_texts(rows)
    narrative = (resource.get("text") or {}).get("div")
    if isinstance(narrative, str):
        rows.narrative = fold(_strip_tags(narrative))
    if resource_type in registry.CONTENT_TYPES:
        # Folding string by string (memoised: codes, displays and names repeat) gives the same text as
        # folding the joined string, since fold maps every separator run to one space and strips the ends.
        rows.content = " ".join(f for f in map(_fold, iter_strings(resource)) if f)
    return rows


def _strip_tags(html: str) -> str:
    out, inside = [], False
    for ch in html:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
            out.append(" ")
        elif not inside:
            out.append(ch)
    return "".join(out)
