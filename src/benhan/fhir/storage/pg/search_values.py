"""The value tests of FHIR search in SQL: one search value against the index rows of its type (alias ``x``).

String, token (``:in``, ``:of-type``, ICD-10 ``:below`` / ``:above``), date, number, quantity, reference and uri
values with their prefixes and modifiers, FHIR R4 search.html (#string #token #date #number #quantity
#reference #uri #prefix). :class:`benhan.fhir.storage.pg.search_sql.Sql` builds the resource-level predicates
around them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from benhan.fhir.search import hierarchy
from benhan.fhir.search.parse import split_escaped
from benhan.fhir.search.query import Value
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.rows import system_hash
from benhan.fhir.search.values import date_range, decimal_range, parse_decimal, ucum_factor
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.kernel.text import fold

__all__ = ["ValueSql"]

_FOLD_TOP = "~"  # folded text is [0-9a-z ], all below "~": prefix p matches [p, p + "~")


class ValueSql:
    """Collects positional arguments (``$n``) while translating values; ``value_sets``: the codes of each
    ``:in`` / ``:not-in`` value set, resolved by the caller."""

    def __init__(self, args: list[object], value_sets: dict[str, tuple[tuple[str, str], ...]]) -> None:
        self.args = args
        self.value_sets = value_sets

    def arg(self, value: object, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{'::' + cast if cast else ''}"

    def _value(self, p: SearchParam, modifier: str | None, v: Value) -> str:
        if p.type == "token" and modifier in ("in", "not-in"):
            return self._in(v.text)
        if p.type == "token" and modifier in ("above", "below"):
            return self._subsumed(modifier, v.text)
        if p.type == "string":
            return self._string(modifier, v.text)
        if p.type == "token" or (p.type == "reference" and modifier == "identifier"):
            return self._token(modifier if p.type == "token" else None, v.text)
        if p.type == "date":
            return self._date(v, "x.low", "x.high")
        if p.type == "number":
            return self._number(v, "x.value")
        if p.type == "quantity":
            return self._quantity(v)
        if p.type == "reference":
            return self._reference(modifier, v.text)
        return self._uri(modifier, v.text)

    def _in(self, url: str) -> str:
        """search.html#token ``:in`` — the code is one of the value set's (resolved by the caller)."""
        codes = self.value_sets.get(url)
        if codes is None:
            raise BenhanError(ErrorCode.UNPROCESSABLE, f"Value set {url} is not known to this server")
        return (f"(x.code, x.system) IN (SELECT * FROM unnest({self.arg([c for _s, c in codes], 'text[]')}, "
                f"{self.arg([system_hash(s) for s, _c in codes], 'int8[]')}))")

    def _string(self, modifier: str | None, text: str) -> str:
        if modifier == "exact":
            # `exact` is NULL when the original equals its folded form (storage, extract._add_string).
            return (f"x.value = {self.arg(fold(text)[:200])} AND (x.exact = {self.arg(text)} OR "
                    f"(x.exact IS NULL AND x.value = {self.arg(text)}))")
        if modifier == "contains":
            return f"x.value LIKE {self.arg('%' + fold(text) + '%')}"
        return self._prefix("x.value", text)

    def _prefix(self, column: str, text: str) -> str:
        """``column`` (folded, COLLATE "C") starts with the folded ``text``: a range on its btree."""
        folded = fold(text)
        return f"{column} >= {self.arg(folded)} AND {column} < {self.arg(folded + _FOLD_TOP)}"

    def _token(self, modifier: str | None, text: str) -> str:
        parts = split_escaped(text, "|")
        if modifier == "of-type":
            if len(parts) != 3:
                raise BenhanError(ErrorCode.INVALID_PARAMETER, ":of-type needs system|code|value")
            return f"x.system = {self.arg(system_hash(parts[0]))} AND x.code = {self.arg(parts[1] + '|' + parts[2])}"
        if len(parts) == 1:
            return f"x.code = {self.arg(parts[0])}"
        system, code = parts[0], "|".join(parts[1:])
        if not code:
            return f"x.system = {self.arg(system_hash(system))}"
        return f"x.code = {self.arg(code)} AND x.system = {self.arg(system_hash(system))}"

    def _date(self, v: Value, low: str, high: str) -> str:
        rng = date_range(v.text)
        assert rng is not None  # checked by the parser
        if v.prefix == "ap":
            # search.html#prefix `ap`: within 10% of the gap between the value and now.
            slack = max(abs(datetime.now(UTC) - rng[0]) / 10, timedelta(days=1))
            return f"{low} < {self.arg(rng[1] + slack)} AND {high} > {self.arg(rng[0] - slack)}"
        if v.prefix in ("gt", "sa"):
            return f"{high} > {self.arg(rng[1])}" if v.prefix == "gt" else f"{low} >= {self.arg(rng[1])}"
        if v.prefix in ("lt", "eb"):
            return f"{low} < {self.arg(rng[0])}" if v.prefix == "lt" else f"{high} <= {self.arg(rng[0])}"
        lo, hi = self.arg(rng[0]), self.arg(rng[1])
        eq = f"{low} >= {lo} AND {high} <= {hi}"
        # ge = gt or eq, le = lt or eq (search.html#prefix).
        return {"eq": eq, "ne": f"NOT ({eq})", "ge": f"({high} > {hi} OR ({eq}))",
                "le": f"({low} < {lo} OR ({eq}))"}[v.prefix]

    def _number(self, v: Value, col: str, number: Decimal | None = None, factor: Decimal = Decimal(1)) -> str:
        """Number test; ``factor`` scales the search value (and its implicit precision range) to canonical units."""
        raw = number if number is not None else parse_decimal(v.text)
        assert raw is not None
        lo, hi = (b * factor for b in decimal_range(raw))
        value = raw * factor
        if v.prefix == "ap":
            slack = abs(value) / 10
            return f"{col} >= {self.arg(value - slack)} AND {col} <= {self.arg(value + slack)}"
        if v.prefix in ("eq", "ne"):
            eq = f"{col} >= {self.arg(lo)} AND {col} < {self.arg(hi)}"
            return eq if v.prefix == "eq" else f"NOT ({eq})"
        op = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "sa": ">", "eb": "<"}[v.prefix]
        return f"{col} {op} {self.arg(value)}"

    def _quantity(self, v: Value) -> str:
        parts = split_escaped(v.text, "|")
        number = parse_decimal(parts[0])
        assert number is not None
        system = parts[1] if len(parts) > 1 and parts[1] else None
        code = parts[2] if len(parts) > 2 and parts[2] else None
        canon = ucum_factor(system, code)
        if canon is not None:
            # search.html#quantity: compare in canonical UCUM units when the server can convert.
            test = self._number(v, "x.canonical_value", number, canon[0])
            return f"x.canonical_code = {self.arg(canon[1])} AND {test}"
        out = [self._number(v, "x.value", number)]
        if code is not None:
            out.append(f"x.code = {self.arg(code)}")
        if system is not None:
            out.append(f"x.system = {self.arg(system_hash(system))}")
        return " AND ".join(out)

    def _reference(self, modifier: str | None, text: str) -> str:
        if modifier == "identifier":
            return self._token(None, text)
        if "://" in text or text.startswith("urn:"):
            return f"x.ref_id = {self.arg(text)}"
        if "/" in text:
            typ, _, rid = text.rpartition("/")
            typ = typ.rsplit("/", 1)[-1]
            return f"x.ref_type = {self.arg(typ)} AND x.ref_id = {self.arg(rid)}"
        if modifier:  # subject:Patient=123
            return f"x.ref_type = {self.arg(modifier)} AND x.ref_id = {self.arg(text)}"
        return f"x.ref_id = {self.arg(text)}"

    def _uri(self, modifier: str | None, text: str) -> str:
        """search.html#uri: exact, or ``:below`` / ``:above`` in the URL's path hierarchy (hierarchy.py)."""
        below = hierarchy.uri_below(text) if modifier == "below" else None
        if below is not None:  # a range on the (param, value) index, COLLATE "C": byte-wise prefixes
            return f"x.value >= {self.arg(below[0])} AND x.value < {self.arg(below[1])}"
        if modifier == "above":
            return f"x.value = ANY({self.arg(hierarchy.uri_above(text), 'text[]')})"
        return f"x.value = {self.arg(text)}"

    def _subsumed(self, modifier: str, text: str) -> str:
        """search.html#token ``:below`` / ``:above`` for ICD-10 (checked by the parser; hierarchy.py)."""
        code = split_escaped(text, "|")[1]
        system = f"x.system = {self.arg(system_hash(hierarchy.ICD10))}"
        if modifier == "below":
            rng = hierarchy.icd10_below(code)
            assert rng is not None
            return f"x.code >= {self.arg(rng[0])} AND x.code < {self.arg(rng[1])} AND {system}"
        return f"x.code = ANY({self.arg(hierarchy.icd10_above(code), 'text[]')}) AND {system}"
