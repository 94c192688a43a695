"""``:above`` / ``:below`` for uri and ICD-10 tokens, and ``_contained`` (FHIR R4 search.html)."""

from __future__ import annotations

import pytest

from benhan.fhir.search.hierarchy import ICD10, TOP, icd10_above, icd10_below, uri_above, uri_below
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.query import ParamTest
from benhan.kernel.errors import BenhanError, ErrorCode


def _q(rtype: str, qs: str, strict: bool = False):  # type: ignore[no-untyped-def]
    return parse(rtype, parse_query_string(qs), strict=strict)


def test_uri_below_is_a_prefix_range_except_for_urns() -> None:
    assert uri_below("http://acme.org/fhir/") == ("http://acme.org/fhir/", "http://acme.org/fhir/" + TOP)
    assert uri_below("urn:oid:1.2.3") is None


def test_uri_above_walks_up_the_path() -> None:
    above = uri_above("http://acme.org/fhir/ValueSet/123/_history/5")
    assert above[0] == "http://acme.org/fhir/ValueSet/123/_history/5"
    assert {"http://acme.org/fhir/ValueSet/123", "http://acme.org/fhir/ValueSet/", "http://acme.org"} <= set(above)
    assert "http:" not in above
    assert "http://acme.org/fhir/Value" not in above  # cuts only at "/"
    assert uri_above("urn:uuid:1") == ["urn:uuid:1"]


def test_icd10_below_codes_and_blocks() -> None:
    assert icd10_below("e11") == ("E11", "E11" + TOP)
    assert icd10_below("E10-E14") == ("E10", "E14" + TOP)
    assert icd10_below("diabetes") is None
    assert icd10_below("E1") is None


def test_icd10_above_lists_the_ancestors() -> None:
    assert icd10_above("E11.65") == ["E11.65", "E11.6", "E11"]
    assert icd10_above("J18.9") == ["J18.9", "J18"]
    assert icd10_above("I10") == ["I10"]
    assert icd10_above("E10-E14") is None


def test_token_subsumption_parses_for_icd10_only() -> None:
    q = _q("Condition", f"code:below={ICD10}|E11")
    assert isinstance(q.tests[0], ParamTest)
    assert q.tests[0].modifier == "below"
    for qs in ("code:below=E11", "code:above=http://snomed.info/sct|73211009"):
        with pytest.raises(BenhanError) as err:
            _q("Condition", qs)
        assert err.value.error is ErrorCode.UNSUPPORTED_SEARCH_MODIFIER
    with pytest.raises(BenhanError) as bad:
        _q("Condition", f"code:above={ICD10}|E10-E14")
    assert bad.value.error is ErrorCode.INVALID_PARAMETER


def test_unsupported_modifiers_have_their_own_code() -> None:
    for rtype, qs in (("Patient", "name:below=x"), ("Observation", "date:above=2025"), ("Patient", "gender:foo=x")):
        with pytest.raises(BenhanError) as err:
            _q(rtype, qs)
        assert err.value.error is ErrorCode.UNSUPPORTED_SEARCH_MODIFIER


def test_contained_defaults_are_applied_the_rest_unsupported() -> None:
    q = _q("Observation", "_contained=false&_containedType=container&code=x")
    assert ("_contained", "false") in q.applied
    assert ("_containedType", "container") in q.applied
    lenient = _q("Observation", "_contained=true&_containedType=contained&code=x")
    assert lenient.ignored == ("_contained", "_containedType")
    assert lenient.applied == (("code", "x"),)
    with pytest.raises(BenhanError) as strict:
        _q("Observation", "_contained=both", strict=True)
    assert strict.value.error is ErrorCode.UNKNOWN_SEARCH_PARAMETER
    assert "not indexed" in strict.value.message
    with pytest.raises(BenhanError) as bad:
        _q("Observation", "_contained=maybe")
    assert bad.value.error is ErrorCode.INVALID_PARAMETER
