"""Search parameter parsing (FHIR R4 search.html): values, modifiers, prefixes, chains, _has, results."""

from __future__ import annotations

import pytest

from benhan.fhir.search.parse import parse, parse_query_string, split_escaped
from benhan.fhir.search.query import MAX_COUNT, Chain, Has, ParamTest
from benhan.kernel.errors import BenhanError, ErrorCode


def _q(rtype: str | None, qs: str, strict: bool = False):  # type: ignore[no-untyped-def]
    return parse(rtype, parse_query_string(qs), strict=strict)


def test_or_by_comma_and_by_repetition() -> None:
    q = _q("Observation", "code=a,b&code=c")
    assert [[v.text for v in t.values] for t in q.tests if isinstance(t, ParamTest)] == [["a", "b"], ["c"]]


def test_escapes() -> None:
    q = _q("Patient", r"name=a\,b")
    assert isinstance(q.tests[0], ParamTest)
    assert [v.text for v in q.tests[0].values] == ["a,b"]
    assert split_escaped(r"sys\|x|code", "|") == ["sys|x", "code"]
    assert split_escaped(r"a\$b$c", "$") == ["a$b", "c"]


def test_prefixes_only_on_ordered_types() -> None:
    q = _q("Observation", "date=ge2025-01&value-quantity=lt5.4|http://unitsofmeasure.org|mg&code=gt1")
    prefixes = [t.values[0].prefix for t in q.tests if isinstance(t, ParamTest)]
    assert prefixes == ["ge", "lt", "eq"]


def test_plus_sign_of_time_zone_survives() -> None:
    q = _q("Observation", "date=2025-01-01T10:00:00+07:00")
    assert isinstance(q.tests[0], ParamTest)
    assert q.tests[0].values[0].text.endswith("+07:00")


def test_bad_values_are_400() -> None:
    for qs in ("date=yesterday", "value-quantity=abc", "gender:missing=maybe", "_count=-1"):
        with pytest.raises(BenhanError) as err:
            _q("Observation" if "gender" not in qs else "Patient", qs)
        assert err.value.error is ErrorCode.INVALID_PARAMETER


def test_unsupported_modifier_is_rejected() -> None:
    with pytest.raises(BenhanError):
        _q("Patient", "name:below=x")


def test_chain_multi_level_and_type() -> None:
    q = _q("Observation", "subject:Patient.organization.name=benh vien")
    chain = q.tests[0]
    assert isinstance(chain, Chain)
    assert chain.target_types == ("Patient",)
    assert isinstance(chain.inner, Chain)
    assert chain.inner.target_types == ("Organization",)


def test_has_nested() -> None:
    q = _q("Patient", "_has:Observation:patient:_has:DiagnosticReport:result:status=final")
    has = q.tests[0]
    assert isinstance(has, Has)
    assert has.source_type == "Observation"
    assert isinstance(has.inner, Has)


def test_unknown_parameter_lenient_vs_strict() -> None:
    q = _q("Patient", "foo=1&name=an")
    assert q.ignored == ("foo",)
    assert q.applied == (("name", "an"),)
    with pytest.raises(BenhanError) as err:
        _q("Patient", "foo=1", strict=True)
    assert err.value.error is ErrorCode.UNKNOWN_SEARCH_PARAMETER


def test_result_parameters() -> None:
    q = _q("Observation", "_count=5000&_sort=-date,code&_total=accurate&_summary=count&_elements=code,subject"
                          "&_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target&_include=*")
    assert q.count == MAX_COUNT
    assert [(k.param.code, k.descending) for k in q.sort] == [("date", True), ("code", False)]
    assert (q.total, q.summary, q.elements) == ("accurate", "count", ("code", "subject"))
    inc, rev, star = q.includes
    assert (inc.target_type, inc.reverse, inc.iterate) == ("Patient", False, False)
    assert (rev.source_type, rev.reverse, rev.iterate) == ("Provenance", True, True)
    assert star.param is None
    assert _q("Patient", "").count == 20


def test_system_search_types() -> None:
    q = _q(None, "_type=Patient,Observation&_lastUpdated=gt2025")
    assert q.types == ("Patient", "Observation")
    assert q.resource_type is None


def test_unknown_type_and_sort() -> None:
    with pytest.raises(BenhanError):
        _q("Nonsense", "a=b")
    with pytest.raises(BenhanError):
        _q("Patient", "_sort=nonsense")
