"""Translate a parsed FHIR search (:mod:`benhan.fhir.search.query`) into PostgreSQL predicates.

Every filter becomes ``r.rid IN (SELECT x.rid FROM sp_<type> x WHERE x.param = .. AND <value test>)``
(uncorrelated, so the planner may start from the index of the most selective filter and probe the others
by ``rid``); a search by the patient of a patient-scoped type starts from that patient's rows instead
(``r.patient_id = …``, :meth:`Sql._compartment_hint`) and checks the reference per row. Chains and
``_has`` nest a ``resource r`` subquery of their own, so the caller's access predicate (written over alias
``r``) applies at every level: nothing leaks through a chain. Matching rules: FHIR R4 search.html (#string
#token #date #number #quantity #reference #uri #chaining #has).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from benhan.fhir.search import compartment, composite, registry
from benhan.fhir.search.parse import PREFIXES, split_escaped
from benhan.fhir.search.query import Chain, Has, ParamTest, Test, Value
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.storage.pg.search_values import ValueSql
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.kernel.text import fold

__all__ = ["FirstRows", "Sql"]

_TABLE = {
    "string": "sp_string", "token": "sp_token", "date": "sp_date", "number": "sp_number",
    "quantity": "sp_quantity", "reference": "sp_reference", "uri": "sp_uri",
}


@dataclass(frozen=True, slots=True)
class FirstRows:
    """A page in ``rid`` order (the default sort): the ``limit`` smallest matching index rows after the
    cursor's rid ``after`` (the largest before it when ``descending``: a previous page)."""

    limit: int
    after: int | None = None
    descending: bool = False


class Sql(ValueSql):
    """Collects positional arguments; ``access`` is a predicate over alias ``r`` using ``$1..$k``."""

    def __init__(
        self, access: str | None, access_args: list[object] | None,
        value_sets: dict[str, tuple[tuple[str, str], ...]] | None = None,
    ) -> None:
        super().__init__(list(access_args or []), value_sets or {})
        self.access = access

    # -- resource level ---------------------------------------------------------------------------
    def resource_where(self, types: tuple[str, ...], tests: tuple[Test, ...], compartment: str | None = None,
                       first: FirstRows | None = None) -> str:
        """Predicate over ``r`` for a current, visible resource of ``types`` matching every test
        (and, for a compartment search, in that patient's compartment: the indexed ``patient_id``).
        ``first``: the caller wants only that page in rid order, and runs the search again without it when
        the page comes back short (:meth:`_string_rows`); a chain's or ``_has``'s inner search never gets it."""
        parts = ["NOT r.deleted"]
        if compartment is not None:
            parts.insert(0, f"r.patient_id = {self.arg(compartment)}")
        if len(types) == 1:
            parts.insert(0, f"r.type = {self.arg(types[0])}")
        elif types:
            parts.insert(0, f"r.type = ANY({self.arg(list(types), 'text[]')})")
        if self.access:
            parts.append(f"({self.access})")
        if tests:
            if len(types) <= 1:
                rtype = types[0] if types else ""
                capped = next((t for t in tests if isinstance(t, ParamTest) and self._capped(rtype, t)), None) \
                    if first is not None else None
                parts += [self._param_test(rtype, t, first) if t is capped else self.test(rtype, t)
                          for t in tests]
            else:
                per_type = [" AND ".join([f"r.type = {self.arg(rt)}", *(self.test(rt, t) for t in tests)])
                            for rt in types]
                parts.append("(" + " OR ".join(f"({p})" for p in per_type) + ")")
        return " AND ".join(parts)

    def test(self, rtype: str, test: Test) -> str:
        if isinstance(test, Chain):
            return self._chain(rtype, test)
        if isinstance(test, Has):
            return self._has(rtype, test)
        return self._param_test(rtype, test)

    def _resolve(self, rtype: str, param: SearchParam) -> SearchParam:
        if not rtype or param.resource_type == rtype:
            return param
        found = registry.lookup(rtype, param.code)
        if found is None:
            raise BenhanError(ErrorCode.UNKNOWN_SEARCH_PARAMETER, f"{param.code} is not a parameter of {rtype}")
        return found

    def params(self, p: SearchParam, suffix: str | None = None, alias: str = "x") -> str:
        """``x.param = …`` for the rows answering ``p`` (its own, or those of the parameters it aliases,
        registry.SearchParam.stored), with the target-type filter of ``where(resolve() is T)`` aliases."""
        owners = [p] if p.indexed else [o for o in (registry.lookup(p.resource_type, c) for c in p.stored) if o]
        pids = [registry.pseudo_id(o, suffix) if suffix else o.pid for o in owners]
        cond = f"{alias}.param = {self.arg(pids[0])}" if len(pids) == 1 else \
            f"{alias}.param = ANY({self.arg(pids, 'int4[]')})"
        if p.target_filter and p.type == "reference" and suffix is None:
            cond += f" AND {alias}.ref_type = {self.arg(p.target_filter)}"
        return cond

    def _chain(self, rtype: str, chain: Chain) -> str:
        param = self._resolve(rtype, chain.param)
        inner = " OR ".join(f"({self.resource_where((t,), (chain.inner,))})" for t in chain.target_types)
        return (f"r.rid IN (SELECT x.rid FROM sp_reference x WHERE {self.params(param)} AND "
                f"(x.ref_type, x.ref_id) IN (SELECT r.type, r.id FROM resource r WHERE {inner}))")

    def _has(self, rtype: str, has: Has) -> str:
        inner = self.resource_where((has.source_type,), (has.inner,))
        return (f"(r.type, r.id) IN (SELECT x.ref_type, x.ref_id FROM sp_reference x "
                f"WHERE {self.params(has.ref)} AND x.rid IN (SELECT r.rid FROM resource r WHERE {inner}))")

    # -- one parameter --------------------------------------------------------------------------
    def _capped(self, rtype: str, test: ParamTest) -> bool:
        return _string_rows_test(self._resolve(rtype, test.param), test.modifier)

    def _param_test(self, rtype: str, test: ParamTest, first: FirstRows | None = None) -> str:
        p = self._resolve(rtype, test.param)
        special = self._special(p, test)
        if special is not None:
            return special
        if p.type == "composite":
            return self._composite(p, test)
        table, suffix = _TABLE[p.type], None
        if test.modifier == "missing":
            exists = f"EXISTS (SELECT 1 FROM {table} x WHERE x.rid = r.rid AND {self.params(p)})"
            return f"NOT {exists}" if test.values[0].text == "true" else exists
        if p.type == "token" and test.modifier == "text":
            return self._token_text(p, test)
        if p.type == "token" and test.modifier == "of-type":
            suffix = "of-type"
        if p.type == "reference" and test.modifier == "identifier":
            table, suffix = "sp_token", "identifier"
        ors = " OR ".join(f"({self._value(p, test.modifier, v)})" for v in test.values)
        hint = self._compartment_hint(rtype, p, test) if p.type == "reference" else ""
        if test.modifier in ("not", "not-in"):
            return (f"NOT EXISTS (SELECT 1 FROM {table} x WHERE x.rid = r.rid AND {self.params(p, suffix)} "
                    f"AND ({ors}))")
        params = self.params(p, suffix)
        rows = f"SELECT x.rid FROM {table} x WHERE {params} AND ({ors})"
        if _string_rows_test(p, test.modifier):
            # Name and address prefixes: the planner cannot estimate a range of folded strings (at 5 M resources
            # 'la' was estimated 4,945 rows for 449, 'tran' 10 for 2,345) and, guessing many, hashed every
            # Patient (25-70 ms).  Read the matching index rows first (an InitPlan) and look the resources up
            # by primary key: 1.3-10 ms for the same names, whatever the estimate.
            return f"r.rid = ANY(ARRAY({self._string_rows(table, params, ors, first)}))"
        if hint:
            # The patient's rows drive (resource_patient_date, in sort_date order); the reference is checked
            # per row.  As ``IN`` the planner could start from the reference rows, which it misestimates
            # (29 for a patient's 950 Observations at 5 M resources), and sort every one for a first page
            # (7,700 buffers, 3.9 ms; 375 buffers, 0.46 ms this way).  OFFSET 0 keeps the EXISTS a per-row
            # check (PostgreSQL does not pull such a sublink up into a join).
            return f"{hint}EXISTS (SELECT 1 FROM {table} x WHERE x.rid = r.rid AND {params} AND ({ors}) OFFSET 0)"
        return f"r.rid IN ({rows})"

    def _string_rows(self, table: str, params: str, ors: str, first: FirstRows | None) -> str:
        """The rids of a string test's index rows, or only the first ``first.limit`` in rid order: a common
        family name's page took every match and sorted them all (85,100 rows for 'nguyen' among 110,000
        Patients, 19 ms), the smallest by a top-N sort 7.6 ms. ``x.rid + 0`` keeps the plan a range scan of the
        value index (trusting a misestimate, the planner may walk ``sp_string_rid`` over the whole table).
        Exact when the page comes back full: the rows taken are every match below the largest one taken, so
        the page's first rows after every other filter are the first of all matches. A short page (other
        filters, a patient with more matching names than the margin) may have missed some: the caller runs
        it again without ``first``."""
        if first is None:
            return f"SELECT x.rid FROM {table} x WHERE {params} AND ({ors})"
        bound = "" if first.after is None else f" AND x.rid {'<' if first.descending else '>'} {self.arg(first.after)}"
        return (f"SELECT x.rid + 0 FROM {table} x WHERE {params} AND ({ors}){bound} "
                f"ORDER BY 1{' DESC' if first.descending else ''} LIMIT {first.limit}")

    def _token_text(self, p: SearchParam, test: ParamTest) -> str:
        """search.html#token ``:text``: a display or text of the element starts with the (folded) value.
        Texts are ``sp_token.text`` (migration 0012): on the parameter's own rows (a coding's display) or on
        text-only rows under its ``:text`` pseudo-parameter (extract._place_texts). One table, so the plan
        can walk ``sp_token_rid`` in ``rid`` order for a first page (a UNION of two tables cannot)."""
        owners = [p] if p.indexed else [o for o in (registry.lookup(p.resource_type, c) for c in p.stored) if o]
        pids = [o.pid for o in owners] + [registry.pseudo_id(o, "text") for o in owners]
        ors = " OR ".join(f"({self._prefix('x.text', v.text)})" for v in test.values)
        return f"r.rid IN (SELECT x.rid FROM sp_token x WHERE x.param = ANY({self.arg(pids, 'int4[]')}) AND ({ors}))"

    def _compartment_hint(self, rtype: str, p: SearchParam, test: ParamTest) -> str:
        """``r.patient_id = …`` in front of a patient reference test, when it cannot change the result.

        ``resource.patient_id`` is the Patient named by the type's first compartment parameter
        (compartment.patient_compartment).  When the tested parameter reads that same single-valued element,
        every match has ``patient_id`` equal to the referenced Patient, so the redundant predicate only
        hands the planner the indexed, well-estimated ``resource_patient_date`` path (no plan that scans a
        whole category when statistics lag behind a bulk load; with one Patient, an equality, so the index
        also gives ``_sort=-date`` order: migrations 0014)."""
        if test.modifier not in (None, "Patient") or not compartment.is_first_single_param(rtype, p):
            return ""
        ids: list[str] = []
        for v in test.values:
            text = v.text
            if "://" in text or text.startswith("urn:"):
                return ""
            typ, _, ident = text.rpartition("/")
            if typ and typ.rsplit("/", 1)[-1] != "Patient":
                return ""
            if not typ and test.modifier is None and p.targets != ("Patient",):
                return ""
            ids.append(ident)
        if len(ids) == 1:
            return f"r.patient_id = {self.arg(ids[0])} AND "
        return f"r.patient_id = ANY({self.arg(ids, 'text[]')}) AND " if ids else ""

    def _composite(self, p: SearchParam, test: ParamTest) -> str:
        """search.html#composite ``[system|]code$value``: rows of the value's table under
        ``registry.composite_id(owner, code)``; the code's system is checked on the resource."""
        if composite.n_part(p) is not None:
            return self._composite_n(p, test)
        owners = [p] if p.indexed else [o for o in (registry.lookup(p.resource_type, c) for c in p.stored) if o]
        first = registry.lookup(p.resource_type, p.components[0].code)
        second = registry.lookup(p.resource_type, p.components[1].code)
        if test.modifier is not None or first is None or second is None:
            raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{p.code}: this composite form is not supported")
        levels = [parts for parts in (composite.resource_level(o) for o in owners) if parts is not None]
        with_rows = [o for o in owners if composite.resource_level(o) is None]
        ors = []
        for v in test.values:
            token, value = split_escaped(v.text, "$")
            system, code = (None, token) if "|" not in token else token.split("|", 1)
            for own_first, own_second in levels:  # the resource is the element: both component parameters
                ors.append("(" + " AND ".join([
                    self._param_test(p.resource_type, ParamTest(own_first, None, (Value("eq", token),))),
                    self._param_test(p.resource_type, ParamTest(own_second, None, (_prefixed(own_second, value),))),
                ]) + ")")
            if not with_rows:
                continue
            pids = [registry.composite_id(o, code) for o in with_rows]
            cond = (f"r.rid IN (SELECT x.rid FROM {_TABLE[second.type]} x WHERE x.param = ANY("
                    f"{self.arg(pids, 'int4[]')}) AND ({self._value(second, None, _prefixed(second, value))}))")
            if system is not None:
                cond += f" AND {self._param_test(p.resource_type, ParamTest(first, None, (Value('eq', token),)))}"
            ors.append(f"({cond})")
        return "(" + " OR ".join(ors) + ")"

    def _composite_n(self, p: SearchParam, test: ParamTest) -> str:
        """An N-part composite (search/composite.py): every component's own indexed test (necessary, uses
        the indexes), then one SQL/JSON path over the stored resource for the same-element rule."""
        shape = composite.n_part(p)
        assert shape is not None
        ors = []
        for v in test.values:
            parts = [_prefixed(own, text) for (own, _path), text in
                     zip(shape.components, split_escaped(v.text, "$"), strict=True)]
            indexed = [self._param_test(p.resource_type, ParamTest(own, None, (part,)))
                       for (own, _path), part in zip(shape.components, parts, strict=True)]
            path, variables = composite.same_element_path(shape, parts)
            exact = (f"jsonb_path_exists(convert_from(r.content, 'UTF8')::jsonb, {self.arg(path)}::jsonpath, "
                     f"{self.arg(orjson.dumps(variables).decode())}::jsonb)")
            ors.append("(" + " AND ".join([*indexed, exact]) + ")")
        return "(" + " OR ".join(ors) + ")"

    def _special(self, p: SearchParam, test: ParamTest) -> str | None:
        if p.code == "_id":
            ids = [v.text for v in test.values]
            cond = f"r.id = ANY({self.arg(ids, 'text[]')})"
            return f"NOT ({cond})" if test.modifier == "not" else cond
        if p.code == "_lastUpdated":
            return " OR ".join(
                f"({self._date(v, 'r.last_updated', 'r.last_updated')})" for v in test.values)
        if p.code in ("_text", "_content"):
            col = "narrative" if p.code == "_text" else "content"
            ors = " OR ".join(f"x.{col} @@ plainto_tsquery('simple', {self.arg(fold(v.text))})" for v in test.values)
            return f"r.rid IN (SELECT x.rid FROM sp_text x WHERE {ors})"
        if p.code == "_list":
            item = registry.lookup("List", "item")
            assert item is not None
            ids = [v.text.rsplit("/", 1)[-1] for v in test.values]
            return (f"(r.type, r.id) IN (SELECT x.ref_type, x.ref_id FROM sp_reference x JOIN resource l "
                    f"ON l.rid = x.rid WHERE x.param = {self.arg(item.pid)} AND l.type = 'List' "
                    f"AND NOT l.deleted AND l.id = ANY({self.arg(ids, 'text[]')}))")
        return None


def _string_rows_test(p: SearchParam, modifier: str | None) -> bool:
    """A string prefix or exact test, read from its index rows as ``r.rid = ANY(ARRAY(…))``
    (``_text`` / ``_content`` are full-text tests of their own, ``Sql._special``)."""
    return p.type == "string" and modifier in (None, "exact") and p.code not in ("_text", "_content")


def _prefixed(param: SearchParam, text: str) -> Value:
    """A composite's value part as a :class:`Value` (its own prefix for date, number and quantity)."""
    if param.type in ("date", "number", "quantity") and text[:2] in PREFIXES:
        return Value(text[:2], text[2:])
    return Value("eq", text)
