"""Generated examples: every R4 resource type, valid, deterministic, varied by seed."""

from __future__ import annotations

import pytest

from benhan.fhir.model import RESOURCE_TYPES, example_resource, validate_resource


@pytest.mark.parametrize("resource_type", sorted(RESOURCE_TYPES))
def test_generated_example_validates(resource_type: str) -> None:
    for seed in range(4):
        res = example_resource(resource_type, seed)
        assert res["resourceType"] == resource_type
        assert validate_resource(res) == [], (resource_type, seed)


def test_examples_are_deterministic_and_seed_dependent() -> None:
    assert example_resource("Patient", 3) == example_resource("Patient", 3)
    variants = {repr(example_resource("Observation", s)) for s in range(5)}
    assert len(variants) > 1


def test_examples_are_rich_and_fill_required_elements() -> None:
    obs = example_resource("Observation", 0)
    assert {"status", "code", "text", "id"} <= set(obs)
    assert len(obs) >= 8
    bundle = example_resource("Bundle", 1)
    assert "type" in bundle


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="Patientt"):
        example_resource("Patientt")
