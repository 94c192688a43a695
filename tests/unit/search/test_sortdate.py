"""``resource.sort_date`` is the descending key of the type's ``date`` parameter (search/sortdate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from benhan.fhir.search.extract import extract
from benhan.fhir.search.sortdate import param_of, pids_of, sort_date


def _obs(**effective: object) -> dict[str, object]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **effective}


def test_the_latest_instant_of_the_date_parameter() -> None:
    # a day (in Vietnam's time, without a zone) ends at the next midnight: the exclusive upper bound of its
    # range (search.html#date)
    assert sort_date("Observation", extract("Observation", _obs(effectiveDateTime="2025-03-01"))) == \
        datetime(2025, 3, 2, tzinfo=timezone(timedelta(hours=7)))
    timing = _obs(effectiveTiming={"event": ["2021-05-01T08:00:00Z", "2025-03-02T09:00:00Z"]})
    assert sort_date("Observation", extract("Observation", timing)) == datetime(2025, 3, 2, 9, 0, 1, tzinfo=UTC)
    # the value, not the issued time or other dates of the resource
    issued = _obs(effectiveDateTime="2020-01-01T00:00:00Z", issued="2026-01-01T00:00:00Z")
    assert sort_date("Observation", extract("Observation", issued)) == datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_none_without_the_parameter() -> None:
    assert sort_date("Observation", extract("Observation", _obs())) is None
    assert param_of("Patient") is None
    assert pids_of("Patient") == frozenset()
    patient = {"resourceType": "Patient", "birthDate": "1980-01-01"}
    assert sort_date("Patient", extract("Patient", patient)) is None
    assert param_of("Encounter") is not None
    assert pids_of("Encounter")
