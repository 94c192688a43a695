"""Index value extraction per parameter type, folding, and the patient compartment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from benhan.fhir.search import composite, registry
from benhan.fhir.search.compartment import patient_compartment
from benhan.fhir.search.extract import extract
from benhan.fhir.search.paths import compile_expression
from benhan.fhir.search.rows import system_hash
from benhan.fhir.search.systems import CCCD
from benhan.fhir.search.values import MAX_INSTANT, date_range, decimal_range
from benhan.kernel.text import fold


def _pid(rtype: str, code: str) -> int:
    p = registry.lookup(rtype, code)
    assert p is not None
    return p.pid


def test_fold_vietnamese() -> None:
    assert fold("Nguyễn") == "nguyen"
    assert fold("Dương") == fold("Đường") == "duong"
    assert fold("ĐẶNG Thị") == "dang thi"


def test_registry_is_generated_and_has_vietnamese_params() -> None:
    assert registry.lookup("Observation", "code-value-quantity") is not None
    assert registry.lookup("Patient", "_lastUpdated") is not None
    assert registry.lookup("Patient", "cccd") is not None
    assert registry.lookup("Encounter", "ma-lk") is not None
    assert registry.lookup("Patient", "code") is None
    ids = [p.pid for t in ("Patient", "Observation", "Encounter") for p in registry.params_of(t).values()]
    assert len(ids) == len(set(ids))


def test_string_values_are_folded_and_exact_kept() -> None:
    rows = extract("Patient", {"resourceType": "Patient", "name": [{"family": "Dương", "given": ["Thị", "Bình"]}]})
    pid = _pid("Patient", "name")
    assert (pid, "duong", "Dương") in rows.strings
    assert (pid, "duong thi binh", "Dương Thị Bình") in rows.strings
    plain = extract("Patient", {"resourceType": "Patient", "name": [{"family": "lan"}]})
    assert (pid, "lan", None) in plain.strings  # the original is kept only when it differs from the folded form


def test_aliases_store_no_rows_of_their_own() -> None:
    combo = registry.lookup("Observation", "combo-code")
    patient = registry.lookup("Observation", "patient")
    phonetic = registry.lookup("Patient", "phonetic")
    assert combo is not None
    assert set(combo.stored) == {"code", "component-code"}
    assert not combo.indexed
    assert patient is not None
    assert patient.stored == ("subject",)
    assert patient.target_filter == "Patient"
    assert phonetic is not None
    assert phonetic.stored == ("name",)
    assert registry.lookup("Observation", "code").indexed  # type: ignore[union-attr]


def test_composite_rows_pair_components_within_one_element() -> None:
    bp = {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
          "component": [
              {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 140}},
              {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 90}}]}
    rows = extract("Observation", bp)
    comp = registry.lookup("Observation", "component-code-value-quantity")
    assert comp is not None
    got = {(r[0], r[1]) for r in rows.quantities}
    assert (registry.composite_id(comp, "8480-6"), Decimal(140)) in got
    assert (registry.composite_id(comp, "8462-4"), Decimal(90)) in got
    assert (registry.composite_id(comp, "8480-6"), Decimal(90)) not in got


def test_resource_level_composites_have_no_rows_of_their_own() -> None:
    """Observation code-value-* pair the resource's own code and value: answered from the code and value
    rows (search/composite.py), so extraction writes no composite rows for them; component composites keep
    theirs (several components per resource)."""
    hr = {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
          "valueQuantity": {"value": 72, "system": "http://unitsofmeasure.org", "code": "/min"}}
    rows = extract("Observation", hr)
    level = registry.lookup("Observation", "code-value-quantity")
    assert level is not None
    assert {r[0] for r in rows.quantities} == {_pid("Observation", "value-quantity")}
    assert registry.composite_id(level, "8867-4") not in {r[0] for r in rows.quantities}
    by_code = {p.code: composite.resource_level(p) for p in registry.params_of("Observation").values()
               if p.type == "composite"}
    assert {c for c, parts in by_code.items() if parts} == {"code-value-concept", "code-value-quantity"}
    # value-string also reads CodeableConcept.text; code-value-date reads value.as(DateTime), not dateTime
    assert by_code["code-value-string"] is None
    assert by_code["code-value-date"] is None
    assert by_code["component-code-value-quantity"] is None


def test_token_identifier_codeable_concept_and_boolean() -> None:
    pat = {"resourceType": "Patient", "active": True, "identifier": [{"system": CCCD, "value": "001"}]}
    rows = extract("Patient", pat)
    assert (_pid("Patient", "identifier"), system_hash(CCCD), "001") in rows.tokens
    assert (_pid("Patient", "cccd"), system_hash(CCCD), "001") in rows.tokens
    assert (_pid("Patient", "active"), 0, "true") in rows.tokens
    obs = {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}],
                                                   "text": "Nhịp tim"}}
    rows = extract("Observation", obs)
    assert (_pid("Observation", "code"), system_hash("http://loinc.org"), "8867-4") in rows.tokens


LOINC = "http://loinc.org"


def _texts(rows: Any, rtype: str, code: str) -> tuple[dict[tuple[int, int, str], str | None], set[str]]:
    """The token rows of a parameter with their texts, and its text-only rows' texts (``:text`` pseudo-id)."""
    p = registry.lookup(rtype, code)
    assert p is not None
    text_pid = registry.pseudo_id(p, "text")
    assert not any(pid == text_pid for pid, _v, _e in rows.strings)  # no sp_string rows for :text any more
    assert {r for r in rows.token_rows() if r[0] == text_pid} == {(text_pid, 0, "", t) for t in
                                                                  {t for pid, t in rows.text_rows if pid == text_pid}}
    return ({k: t for k, t in rows.tokens.items() if k[0] == p.pid},
            {t for pid, t in rows.text_rows if pid == text_pid})


def test_token_text_rides_on_the_coding_row() -> None:
    """Migration 0012: a coding's folded display is its own sp_token row's ``text``; a CodeableConcept.text
    equal (folded) to a display of the parameter needs no row of its own."""
    obs = {"resourceType": "Observation",
           "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Nhịp tim"}], "text": "NHỊP TIM"},
           "category": [{"coding": [{"code": "vital-signs", "display": "Dấu hiệu sinh tồn"}]},
                        {"coding": [{"code": "exam", "display": "Khám"}], "text": "Khám"}]}
    rows = extract("Observation", obs)
    assert _texts(rows, "Observation", "code") == ({(_pid("Observation", "code"), system_hash(LOINC), "8867-4"):
                                                    "nhip tim"}, set())
    tokens, strings = _texts(rows, "Observation", "category")
    assert set(tokens.values()) == {"dau hieu sinh ton", "kham"}
    assert strings == set()
    assert rows.texts == []  # every pending text was placed


def test_token_text_without_a_home_is_a_text_only_row() -> None:
    long = "Huyết áp " * 40
    obs = {"resourceType": "Observation",
           "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Huyết áp"},
                               {"system": LOINC, "display": "Không có mã"},  # a display without a code
                               {"system": LOINC, "code": "85354-9", "display": "BP panel"}],  # same row, 2nd text
                    "text": long}}
    tokens, strings = _texts(extract("Observation", obs), "Observation", "code")
    assert tokens == {(_pid("Observation", "code"), system_hash(LOINC), "85354-9"): "huyet ap"}
    assert strings == {"khong co ma", "bp panel", fold(long)[:200]}  # folded and cut as the string rows were


def test_token_text_fills_a_row_without_display() -> None:
    """A text the parameter's rows do not carry goes on one of its rows without a text (any row answers
    ``:text`` for the resource), in key order so that extraction is deterministic."""
    obs = {"resourceType": "Observation",
           "code": {"coding": [{"system": LOINC, "code": "8867-4"}, {"system": LOINC, "code": "1111-1"}],
                    "text": "Nhịp tim"}}
    tokens, strings = _texts(extract("Observation", obs), "Observation", "code")
    pid = _pid("Observation", "code")
    assert tokens == {(pid, system_hash(LOINC), "1111-1"): "nhip tim", (pid, system_hash(LOINC), "8867-4"): None}
    assert strings == set()
    ident = {"resourceType": "Patient", "identifier": [{"system": CCCD, "value": "001", "type": {"text": "Căn cước"}}]}
    tokens, strings = _texts(extract("Patient", ident), "Patient", "identifier")
    assert tokens == {(_pid("Patient", "identifier"), system_hash(CCCD), "001"): "can cuoc"}


def test_meta_tags_and_composites_carry_no_text() -> None:
    obs = {"resourceType": "Observation", "meta": {"tag": [{"system": "s", "code": "t", "display": "Thẻ"}]},
           "component": [{"code": {"coding": [{"code": "8480-6", "display": "Tâm thu"}]},
                          "valueCodeableConcept": {"coding": [{"code": "high", "display": "Cao"}]}}]}
    rows = extract("Observation", obs)
    assert rows.tokens[(_pid("Observation", "_tag"), system_hash("s"), "t")] is None
    assert _texts(rows, "Observation", "component-code")[0] == {
        (_pid("Observation", "component-code"), 0, "8480-6"): "tam thu"}
    comp = registry.lookup("Observation", "component-code-value-concept")
    assert comp is not None
    assert rows.tokens[(registry.composite_id(comp, "8480-6"), 0, "high")] is None


def test_dates_by_precision_and_period() -> None:
    lo, hi = date_range("2025")  # type: ignore[misc]
    assert (lo.year, hi.year) == (2025, 2026)
    lo, hi = date_range("2025-02-28T23:59:59Z")  # type: ignore[misc]
    assert hi - lo == datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)
    enc = {"resourceType": "Encounter", "period": {"start": "2025-03-01"}}
    ((_p, low, high),) = extract("Encounter", enc).dates
    assert low == date_range("2025-03-01")[0]  # type: ignore[index]
    assert high == MAX_INSTANT  # open-ended period


def test_zoned_seconds_fast_path_agrees_with_the_general_rule() -> None:
    # date_range reads "YYYY-MM-DDThh:mm:ss(Z|±hh:mm)" with datetime.fromisoformat; the result must be the
    # second the general parser gives, and malformed values must still be refused.
    for text, offset in (("2025-12-26T22:25:00+07:00", 7 * 60), ("2024-02-29T00:00:59Z", 0),
                         ("2025-01-01T00:00:00-03:30", -210)):
        lo, hi = date_range(text)  # type: ignore[misc]
        assert lo.utcoffset() == timedelta(minutes=offset)
        assert (lo.second, hi - lo) == (int(text[17:19]), timedelta(seconds=1))
    for bad in ("2025-12-26T22:25:61+07:00", "2025-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2025-12-26T22:25:00+0700",
                "2025-12-26 22:25:00+07:00"):
        assert date_range(bad) is None, bad


def test_quantity_with_ucum_canonical_and_number_precision() -> None:
    obs = {"resourceType": "Observation",
           "valueQuantity": {"value": 65.5, "system": "http://unitsofmeasure.org", "code": "kg"}}
    rows = extract("Observation", obs)
    row = next(r for r in rows.quantities if r[0] == _pid("Observation", "value-quantity"))
    assert row[1] == Decimal("65.5")
    assert (row[4], row[5]) == (Decimal("65500"), "g")
    assert decimal_range(Decimal("100")) == (Decimal("99.5"), Decimal("100.5"))


def test_reference_forms() -> None:
    obs: dict[str, Any] = {"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
                           "performer": [{"reference": "http://other.vn/fhir/Practitioner/9"},
                                         {"identifier": {"system": "s", "value": "v"}}]}
    rows = extract("Observation", obs)
    # `patient` = subject.where(resolve() is Patient): answered by the subject rows, none of its own.
    assert (_pid("Observation", "subject"), "Patient", "p1") in rows.references
    assert not any(r[0] == _pid("Observation", "patient") for r in rows.references)
    assert (_pid("Observation", "performer"), "Practitioner", "http://other.vn/fhir/Practitioner/9") in rows.references
    ident = registry.pseudo_id(registry.lookup("Observation", "performer"), "identifier")  # type: ignore[arg-type]
    assert (ident, system_hash("s"), "v") in rows.tokens


def test_where_resolve_filters_by_target_type() -> None:
    walk = compile_expression("Observation.subject.where(resolve() is Patient)", "Observation")
    assert walk({"resourceType": "Observation", "subject": {"reference": "Group/1"}}) == []
    assert walk({"resourceType": "Observation", "subject": {"reference": "Patient/1"}})


def test_patient_compartment() -> None:
    assert patient_compartment({"resourceType": "Patient", "id": "p9"}) == "p9"
    assert patient_compartment({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}) == "p1"
    assert patient_compartment({"resourceType": "Observation", "subject": {"reference": "Group/g"},
                                "performer": [{"reference": "Patient/p2"}]}) == "p2"
    assert patient_compartment({"resourceType": "Organization", "id": "o"}) is None


def test_text_and_content() -> None:
    rows = extract("Patient", {"resourceType": "Patient", "name": [{"family": "Võ"}],
                               "text": {"status": "generated", "div": "<div><b>Võ</b> Văn Kiệt</div>"}})
    assert rows.narrative.split() == ["vo", "van", "kiet"]
    assert "vo" in rows.content.split()


def test_content_is_the_text_not_ids_timestamps_or_base64() -> None:
    doc = {"resourceType": "DocumentReference", "id": "Xk2abc", "status": "current",
           "meta": {"versionId": "3", "lastUpdated": "2026-11-26T08:15:00.071Z", "tag": [{"code": "synthetic"}]},
           "description": "Tóm tắt ra viện", "date": "2026-11-20T10:00:00+07:00",
           "content": [{"attachment": {"contentType": "text/plain", "data": "VMOzbSB04bqvdA==", "title": "Giấy"}}]}
    words = extract("DocumentReference", doc).content.split()
    assert {"tom", "tat", "ra", "vien", "giay", "current", "text", "plain"} <= set(words)
    for noise in ("xk2abc", "3", "2026", "071z", "synthetic", "vmozbsb04bqvdA".lower()):
        assert noise not in words, noise


def test_deceased_is_compiled_and_agrees_with_fhirpathpy() -> None:
    """R4 Patient-deceased, ``Patient.deceased.exists() and Patient.deceased != false``, runs without
    fhirpathpy and selects what fhirpathpy selects: ``false`` when absent, so ``deceased=false`` finds the
    living."""
    from benhan.fhir.search import paths

    expression = "Patient.deceased.exists() and Patient.deceased != false"
    native = compile_expression(expression, "Patient")
    reference = paths._fhirpath_walker(expression)
    assert native.__qualname__.startswith("_exists_not_false")
    cases: list[dict[str, Any]] = [
        {}, {"deceasedBoolean": False}, {"deceasedBoolean": True}, {"deceasedDateTime": "2026-11-01T08:00:00+07:00"},
        {"gender": "male", "name": [{"family": "Trần"}]},
    ]
    for extra in cases:
        patient = {"resourceType": "Patient", "id": "p", **extra}
        assert native(patient) == reference(patient), extra
    assert [v for v, _t in native({"resourceType": "Patient"})] == [False]
    assert [v for v, _t in native({"resourceType": "Patient", "deceasedDateTime": "2026"})] == [True]
    pid = _pid("Patient", "deceased")
    tokens = extract("Patient", {"resourceType": "Patient", "id": "p"}).tokens
    assert (pid, 0, "false") in tokens
