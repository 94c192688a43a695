"""Composite parameters of three components: shape, parsing and the same-element path (search.html#composite)."""

from __future__ import annotations

import pytest

from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.search import registry
from benhan.fhir.search.composite import n_part, same_element_path
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.query import Value
from benhan.kernel.errors import BenhanError, ErrorCode


def test_every_r4_composite_of_three_or_more_parts_is_supported() -> None:
    many = [p for t in sorted(RESOURCE_TYPES) for p in registry.params_of(t).values()
            if p.type == "composite" and len(p.components) >= 3]
    assert {p.code for p in many} == {"chromosome-variant-coordinate", "chromosome-window-coordinate",
                                      "referenceseqid-variant-coordinate", "referenceseqid-window-coordinate"}
    assert all(n_part(p) is not None for p in many)


def test_same_element_path() -> None:
    p = registry.lookup("MolecularSequence", "chromosome-variant-coordinate")
    assert p is not None
    shape = n_part(p)
    assert shape is not None
    assert shape.element == "$.variant[*]"
    assert shape.components[0][1] == "$.referenceSeq[*].chromosome[*]"  # %resource: from the root
    assert shape.components[1][1] == "@.start[*]"
    path, variables = same_element_path(shape, [Value("eq", "1"), Value("gt", "123"), Value("eq", "345")])
    assert path.startswith("$.variant[*] ? (")
    assert "@ > $v1" in path
    assert "@ >= $l2 && @ < $h2" in path  # eq 345 is [344.5, 345.5)
    assert variables == {"c0": "1", "v1": 123, "l2": 344.5, "h2": 345.5}


@pytest.mark.parametrize("value", ["1$100", "1$abc$200", "$100$200", "1$100$200$300"])
def test_malformed_three_part_values_are_400(value: str) -> None:
    with pytest.raises(BenhanError) as err:
        parse("MolecularSequence", parse_query_string(f"chromosome-variant-coordinate={value}"))
    assert err.value.error is ErrorCode.INVALID_PARAMETER


def test_three_part_values_parse() -> None:
    q = parse("MolecularSequence", parse_query_string("chromosome-window-coordinate=1$ge0$le1000"))
    assert q.applied == (("chromosome-window-coordinate", "1$ge0$le1000"),)
