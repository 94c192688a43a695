"""The parsed form of a FHIR search (typed AST), produced by :mod:`.parse` and run by storage/pg/search.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from benhan.fhir.search.registry import SearchParam

__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "Chain", "Has", "Include", "ParamTest", "SearchQuery", "SortKey", "Test",
           "Value"]

DEFAULT_COUNT = 20
MAX_COUNT = 1000


@dataclass(frozen=True, slots=True)
class Value:
    """One OR-alternative of a parameter value: a comparison prefix (``eq`` when none) and the text.

    ``text`` keeps the backslash escapes of ``|`` and ``$`` (they separate token and composite parts);
    use :func:`benhan.fhir.search.parse.split_escaped` to split and unescape it.
    """

    prefix: str
    text: str


@dataclass(frozen=True, slots=True)
class ParamTest:
    """``code[:modifier]=v1,v2``: matches when any value matches (OR)."""

    param: SearchParam  # resolved for the searched type (first of ``_type`` for system searches)
    modifier: str | None
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """``ref[:Type].inner``: the resource refers, through ``param``, to one that matches ``inner``."""

    param: SearchParam
    target_types: tuple[str, ...]
    inner: Test


@dataclass(frozen=True, slots=True)
class Has:
    """``_has:Source:ref:inner``: some ``Source`` resource refers to this one via ``ref`` and matches."""

    source_type: str
    ref: SearchParam
    inner: Test


Test = ParamTest | Chain | Has


@dataclass(frozen=True, slots=True)
class SortKey:
    param: SearchParam
    descending: bool


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Source:param[:Target]`` (or ``_revinclude``); ``param`` None stands for ``*``."""

    source_type: str
    param: SearchParam | None
    target_type: str | None
    reverse: bool
    iterate: bool


@dataclass(frozen=True, slots=True)
class SearchQuery:
    #: Types searched: one for a type search, several (or every type: empty) for ``/?_type=``.
    types: tuple[str, ...]
    #: AND of the tests (one per parameter occurrence).
    tests: tuple[Test, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = DEFAULT_COUNT
    #: Opaque keyset cursor from a next/previous link (``_cursor``).
    cursor: str | None = None
    total: str | None = None  # none | estimate | accurate (None: cheap default)
    summary: str | None = None  # true | text | data | count | false
    elements: tuple[str, ...] = ()
    includes: tuple[Include, ...] = ()
    #: (name, value) of every parameter applied, in request order, for the self link.
    applied: tuple[tuple[str, str], ...] = ()
    #: Names of parameters ignored (lenient handling) — reported back in an OperationOutcome if wanted.
    ignored: tuple[str, ...] = field(default=())
    #: Patient id for a compartment search ``Patient/[id]/[type]`` (FHIR R4 compartmentdefinition.html).
    compartment: str | None = None
    #: Codes of the value sets named by ``:in`` / ``:not-in`` (ValueSet URL → (system, code) pairs), filled
    #: by the caller before the query runs (the terminology lives above the storage layer).
    value_sets: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def value_set_urls(self) -> set[str]:
        """ValueSet URLs used with ``:in`` / ``:not-in`` anywhere in the query (chains and ``_has`` too)."""
        return {v.text for t in self.tests for p in _param_tests(t) if p.modifier in ("in", "not-in")
                for v in p.values}

    @property
    def resource_type(self) -> str | None:
        return self.types[0] if len(self.types) == 1 else None


def _param_tests(test: Test) -> list[ParamTest]:
    if isinstance(test, ParamTest):
        return [test]
    return _param_tests(test.inner)
