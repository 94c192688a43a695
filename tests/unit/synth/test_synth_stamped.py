"""The bulk loader's stamp gives the same bytes as the repository's, and the dict those bytes parse to."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from benhan.fhir.storage.pg.bulk import stamped
from benhan.fhir.storage.prepare import stamp
from benhan.kernel.clock import fhir_instant


def test_stamped_matches_the_repository_stamp() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    resources = [
        {"resourceType": "Observation", "id": "ignored", "status": "final", "valueQuantity": {"value": 36.6},
         "meta": {"tag": [{"code": "x"}], "versionId": "9"}, "note": [{"text": "Sốt nhẹ"}]},
        {"status": "active", "resourceType": "Patient", "name": [{"family": "Nguyễn"}], "active": True},
    ]
    for res in resources:
        body, content = stamped(res, str(res["resourceType"]), "abc", fhir_instant(when))
        assert content == stamp(res, str(res["resourceType"]), "abc", 1, when)
        assert body == orjson.loads(content)
