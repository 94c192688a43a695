"""Parse FHIR search parameters into a :class:`~benhan.fhir.search.query.SearchQuery` (FHIR R4 search.html).

- OR by comma, AND by repeating a parameter; ``\\,`` ``\\|`` ``\\$`` ``\\\\`` escape the separators.
- prefixes ``eq ne gt lt ge le sa eb ap`` on date, number and quantity values;
- modifiers per type; chains ``subject:Patient.name=...`` (several levels) and ``_has``;
- result parameters ``_sort _count _total _summary _elements _include _revinclude`` (``:iterate``, ``*``);
- unknown parameters: ignored and left out of the self link (lenient, the default), or an error with
  ``Prefer: handling=strict``. An unsupported modifier or a malformed value is always an error (400).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import unquote

from benhan.fhir.search import composite, hierarchy, registry
from benhan.fhir.search.query import (
    DEFAULT_COUNT,
    MAX_COUNT,
    Chain,
    Has,
    Include,
    ParamTest,
    SearchQuery,
    SortKey,
    Test,
    Value,
)
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.values import date_range, parse_decimal
from benhan.kernel.errors import BenhanError, ErrorCode

__all__ = ["PREFIXES", "parse", "parse_query_string", "split_escaped"]

PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_PREFIXED_TYPES = frozenset({"date", "number", "quantity"})
_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"exact", "contains", "missing"}),
    "token": frozenset({"not", "text", "of-type", "missing", "in", "not-in", "above", "below"}),
    "reference": frozenset({"missing", "identifier"}),
    "date": frozenset({"missing"}), "number": frozenset({"missing"}), "quantity": frozenset({"missing"}),
    "uri": frozenset({"below", "above", "missing"}),
    "composite": frozenset({"missing"}), "special": frozenset(),
}
# Parameters handled by the router or the bundle writer, never filters.
_PASSIVE = frozenset({"_format", "_pretty"})
_SORTABLE = frozenset({"string", "token", "date", "number", "quantity", "reference", "uri"})


def _bad(message: str) -> BenhanError:
    return BenhanError(ErrorCode.INVALID_PARAMETER, message)


def parse_query_string(query: str) -> list[tuple[str, str]]:
    """Split ``a=1&b=2`` into pairs, percent-decoding; ``+`` stays ``+`` (it is a time-zone sign in dates)."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on unescaped ``sep`` and remove the backslash escapes (search.html#escaping)."""
    out, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            cur.append(nxt if nxt in ",|$\\" else ch + nxt)
            i += 2
            continue
        if ch == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _split_or(raw: str) -> list[str]:
    """Split on unescaped commas, keeping other escapes for later splitting."""
    out, cur, i = [], "", 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            cur += raw[i:i + 2] if raw[i + 1] != "," else ","
            i += 2
            continue
        if raw[i] == ",":
            out.append(cur)
            cur = ""
        else:
            cur += raw[i]
        i += 1
    out.append(cur)
    return out


def _value(param: SearchParam, modifier: str | None, raw: str) -> Value:
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise _bad(f"{param.code}:missing takes true or false, not {raw!r}")
        return Value("eq", raw)
    prefix, text = "eq", raw
    if param.type in _PREFIXED_TYPES and raw[:2] in PREFIXES and raw[2:3] not in ("", ","):
        prefix, text = raw[:2], raw[2:]
    if param.type == "date" and date_range(text) is None:
        raise _bad(f"{param.code}: {raw!r} is not a FHIR date")
    if param.type in ("number", "quantity") and parse_decimal(split_escaped(text, "|")[0]) is None:
        raise _bad(f"{param.code}: {raw!r} is not a number")
    if param.type == "composite":
        _check_composite(param, raw)
    if param.type == "token" and modifier in ("above", "below"):
        _check_subsumption(param, modifier, text)
    return Value(prefix, text)


def _check_subsumption(param: SearchParam, modifier: str, text: str) -> None:
    """search.html#token ``:above`` / ``:below``: subsumption, known here for ICD-10 only (hierarchy.py)."""
    system, bar, code = text.partition("|")
    if not bar or system != hierarchy.ICD10:
        raise BenhanError(
            ErrorCode.UNSUPPORTED_SEARCH_MODIFIER,
            f"{param.code}:{modifier} needs {hierarchy.ICD10}|code: ICD-10 is the only code system whose "
            "hierarchy this server knows",
        )
    known = hierarchy.icd10_below(code) if modifier == "below" else hierarchy.icd10_above(code)
    if known is None:
        raise _bad(f"{param.code}:{modifier}: {code!r} is not an ICD-10 code"
                   + (" or block (A00-A09)" if modifier == "below" else ""))


def _check_composite(param: SearchParam, raw: str) -> None:
    """search.html#composite: ``token$value[$value...]``, each part typed (and prefixed) like its component."""
    parts = split_escaped(raw, "$")
    if len(parts) != len(param.components):
        raise _bad(f"{param.code}: needs {len(param.components)} parts separated by $")
    if len(parts) > 2:
        if composite.n_part(param) is None:
            raise _Unknown()
        for c, part in zip(param.components, parts, strict=True):
            own = registry.lookup(param.resource_type, c.code)
            assert own is not None  # n_part checked it
            if not part:
                raise _bad(f"{param.code}: every part needs a value")
            _value(own, None, part)
        return
    second = registry.lookup(param.resource_type, param.components[-1].code)
    if len(parts) != 2 or second is None or second.type not in ("token", "string", "date", "number", "quantity",
                                                                "reference", "uri"):
        raise _Unknown()
    if not parts[0] or parts[0].endswith("|"):
        raise _bad(f"{param.code}: the first part needs a code ([system]|code)")
    _value(second, None, parts[1])


def _check_modifier(param: SearchParam, modifier: str | None) -> None:
    if modifier is None:
        return
    if param.type == "reference" and (modifier in param.targets or registry.params_of(modifier)):
        return
    if modifier not in _MODIFIERS.get(param.type, frozenset()):
        # search.html#modifiers: a modifier the server does not support is an error, whatever the handling.
        raise BenhanError(ErrorCode.UNSUPPORTED_SEARCH_MODIFIER,
                          f"modifier :{modifier} is not supported on {param.code} ({param.type})")


class _Unknown(Exception):
    """A parameter this server does not support: ignored (lenient) or BH-1013 (strict); the message, when
    given, says why."""


def _lookup(rtype: str, code: str) -> SearchParam:
    p = registry.lookup(rtype, code)
    if p is None or (p.type == "special" and code != "_list") or code == "_query":
        raise _Unknown()
    if code == "_content" and rtype not in registry.CONTENT_TYPES:
        raise _Unknown()  # not indexed for this type (storage budget, registry.CONTENT_TYPES)
    return p


def _test(rtype: str, key: str, raw: str) -> Test:
    if key.startswith("_has:"):
        parts = key.split(":", 3)
        if len(parts) < 4 or not registry.params_of(parts[1]):
            raise _bad(f"{key}: _has needs _has:Type:reference:parameter")
        ref = _lookup(parts[1], parts[2])
        if ref.type != "reference":
            raise _bad(f"{key}: {parts[2]} is not a reference parameter")
        return Has(parts[1], ref, _test(parts[1], parts[3], raw))
    head, dot, rest = key.partition(".")
    code, _, modifier = head.partition(":")
    param = _lookup(rtype, code)
    if dot:
        if param.type != "reference":
            raise _bad(f"{key}: only reference parameters can be chained")
        targets = (modifier,) if modifier else param.targets
        targets = tuple(t for t in targets if _has_param(t, rest))
        if not targets:
            raise _Unknown()
        return Chain(param, targets, _test(targets[0], rest, raw))
    _check_modifier(param, modifier or None)
    values = tuple(_value(param, modifier or None, v) for v in _split_or(raw))
    return ParamTest(param, modifier or None, values)


def _has_param(rtype: str, key: str) -> bool:
    code = key.split(".", 1)[0].split(":", 1)[0]
    return key.startswith("_has:") or registry.lookup(rtype, code) is not None


def _sort(rtype: str, raw: str) -> tuple[SortKey, ...]:
    keys = []
    for item in raw.split(","):
        code = item.strip().lstrip("-")
        p = registry.lookup(rtype, code)
        if p is None or p.type not in _SORTABLE:
            raise _bad(f"_sort: {code!r} is not a sortable parameter of {rtype}")
        keys.append(SortKey(p, item.strip().startswith("-")))
    return tuple(keys)


def _include(key: str, raw: str, types: tuple[str, ...]) -> Include:
    reverse = key.startswith("_revinclude")
    iterate = key.endswith((":iterate", ":recurse"))
    if raw == "*":
        return Include(types[0] if types else "", None, None, reverse, iterate)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not registry.params_of(parts[0]):
        raise _bad(f"{key}={raw}: expected Source:parameter[:Target]")
    param = None if parts[1] == "*" else registry.lookup(parts[0], parts[1])
    if parts[1] != "*" and (param is None or param.type != "reference"):
        raise _bad(f"{key}={raw}: {parts[1]} is not a reference parameter of {parts[0]}")
    return Include(parts[0], param, parts[2] if len(parts) == 3 else None, reverse, iterate)


def _count(raw: str) -> int:
    if not raw.isdigit():
        raise _bad(f"_count must be a non-negative integer, not {raw!r}")
    return min(int(raw), MAX_COUNT)


def _types(resource_type: str | None, params: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    if resource_type:
        if not registry.params_of(resource_type):
            raise BenhanError(ErrorCode.UNKNOWN_RESOURCE_TYPE, f"{resource_type} is not a FHIR R4 resource type")
        return (resource_type,)
    named = [t for k, v in params if k == "_type" for t in v.split(",") if t]
    for t in named:
        if not registry.params_of(t):
            raise _bad(f"_type: {t} is not a FHIR R4 resource type")
    return tuple(dict.fromkeys(named))


def _apply(q: dict[str, object], rtype: str, types: tuple[str, ...], key: str, raw: str) -> bool:
    """Apply one result/control parameter to ``q``; False when ``key`` is not one."""
    base = key.split(":", 1)[0]
    if base == "_sort":
        q["sort"] = _sort(rtype, raw)
    elif base == "_count":
        q["count"] = _count(raw)
    elif base == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise _bad("_total must be none, estimate or accurate")
        q["total"] = raw
    elif base == "_summary":
        if raw not in ("true", "text", "data", "count", "false"):
            raise _bad("_summary must be true, text, data, count or false")
        q["summary"] = raw
    elif base == "_elements":
        q["elements"] = tuple(e.strip() for e in raw.split(",") if e.strip())
    elif base in ("_include", "_revinclude"):
        q["includes"] = (*q.get("includes", ()), _include(key, raw, types))  # type: ignore[misc]
    elif base == "_cursor":
        q["cursor"] = raw
    elif base in ("_contained", "_containedType"):
        _contained(base, raw)
    elif base in ("_type", *_PASSIVE):
        pass
    else:
        return False
    return True


# search.html#contained: the defaults, _contained=false and _containedType=container, are what this server does.
_CONTAINED = {"_contained": ("false", ("true", "both")), "_containedType": ("container", ("contained",))}


def _contained(key: str, raw: str) -> None:
    """Contained resources are not indexed (rows.split_reference), so only the defaults can be honoured;
    asking for contained resources is an unsupported parameter (ignored when lenient, BH-1013 when strict)."""
    default, others = _CONTAINED[key]
    if raw in others:
        raise _Unknown(f"{key}={raw}: contained resources are not indexed; only {key}={default} is supported")
    if raw != default:
        raise _bad(f"{key} must be {' or '.join((default, *others))}, not {raw!r}")


def _localise(test: Test, base: str) -> Test:
    """search.html#reference: an absolute reference to this server's own base is the local ``Type/id``."""
    if isinstance(test, ParamTest):
        if test.param.type != "reference" or test.modifier == "identifier":
            return test
        values = tuple(Value(v.prefix, v.text[len(base):]) if v.text.startswith(base) else v for v in test.values)
        return replace(test, values=values)
    return replace(test, inner=_localise(test.inner, base))


def parse(
    resource_type: str | None, params: Sequence[tuple[str, str]], *, strict: bool = False,
    base_url: str | None = None,
) -> SearchQuery:
    """Parse decoded ``(name, value)`` pairs for a search on ``resource_type`` (None: system search).

    ``strict`` is ``Prefer: handling=strict``: an unknown parameter raises BH-1013 instead of being
    ignored (FHIR R4 search.html#errors). ``base_url`` is this server's FHIR base: reference values under
    it (``subject=http://host/fhir/Patient/1``) are searched as the local ``Patient/1``.
    """
    types = _types(resource_type, params)
    rtype = types[0] if types else "Resource"
    q: dict[str, object] = {"count": DEFAULT_COUNT}
    tests: list[Test] = []
    applied: list[tuple[str, str]] = []
    ignored: list[str] = []
    for key, raw in params:
        try:
            if key.startswith("_") and _apply(q, rtype, types, key, raw):
                if key not in _PASSIVE and key != "_cursor":
                    applied.append((key, raw))
                continue
            if raw == "":
                continue  # search.html: empty parameter values are ignored
            test = _test_all(types, key, raw)
        except _Unknown as unknown:
            if strict:
                raise BenhanError(
                    ErrorCode.UNKNOWN_SEARCH_PARAMETER,
                    f"Tham số tìm kiếm không được hỗ trợ: {key}" + (f" ({unknown})" if str(unknown) else ""),
                ) from None
            ignored.append(key)
            continue
        tests.append(_localise(test, base_url.rstrip("/") + "/") if base_url else test)
        applied.append((key, raw))
    return SearchQuery(types=types, tests=tuple(tests), applied=tuple(applied), ignored=tuple(ignored),
                       **q)  # type: ignore[arg-type]


def _test_all(types: tuple[str, ...], key: str, raw: str) -> Test:
    """Parse a filter; for a system search it must exist on every searched type (or be common)."""
    if not types:
        return _test("Resource" if registry.params_of("Resource") else "Patient", key, raw)
    first = _test(types[0], key, raw)
    for other in types[1:]:
        _test(other, key, raw)
    return first
