"""Primitive formats per FHIR R4 datatypes.html, exercised through Extension.value[x] (all primitives)."""

from __future__ import annotations

import pytest

from benhan.fhir.model import validate_resource

VALID: dict[str, list[object]] = {
    "boolean": [True, False],
    "integer": [0, -5, 2147483647, -2147483648],
    "unsignedInt": [0, 42],
    "positiveInt": [1, 2147483647],
    "decimal": [0, 1.5, -0.001, 1e3],
    "string": ["a", "Nguyễn Văn An", "line\nbreak"],
    "markdown": ["**bold**"],
    "code": ["final", "a b", "text/plain"],
    "id": ["a", "A-1.b", "x" * 64],
    "uri": ["http://example.org", "urn:oid:1.2", "relative/path"],
    "url": ["https://example.org/x"],
    "canonical": ["http://hl7.org/fhir/StructureDefinition/Patient|4.0.1"],
    "oid": ["urn:oid:1.2.840.113619"],
    "uuid": ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520"],
    "date": ["2024", "2024-02", "2024-02-29"],
    "dateTime": ["2024", "2024-02", "2024-02-29", "2024-02-29T23:59:60+07:00", "2024-01-01T00:00:00.123Z"],
    "instant": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+14:00"],
    "time": ["00:00:00", "23:59:59.999"],
    "base64Binary": ["RXhhbXBsZQ==", "QUJD"],
}

INVALID: dict[str, list[tuple[object, str]]] = {
    "boolean": [("true", "structure"), (1, "structure")],
    "integer": [(1.0, "structure"), ("1", "structure"), (2147483648, "value"), (True, "structure")],
    "unsignedInt": [(-1, "value")],
    "positiveInt": [(0, "value"), (-3, "value")],
    "decimal": [("1.5", "structure"), (False, "structure")],
    "string": [("", "value"), (3, "structure"), ("bad\x0bchar", "value")],
    "markdown": [("", "value")],
    "code": [(" final", "value"), ("final ", "value"), ("a  b", "value"), ("", "value")],
    "id": [("a b", "value"), ("x" * 65, "value"), ("a_b", "value"), ("", "value")],
    "uri": [("has space", "value"), (5, "structure")],
    "url": [("http://x y", "value")],
    "canonical": [("a b", "value")],
    "oid": [("1.2.3", "value"), ("urn:oid:3.1", "value")],
    "uuid": [
        ("c757873d-ec9a-4326-a141-556f43239520", "value"),
        ("urn:uuid:C757873D-EC9A-4326-A141-556F43239520", "value"),
    ],
    "date": [
        ("2024-13", "value"),
        ("2023-02-29", "value"),
        ("24-01-01", "value"),
        ("2024-01-01T10:00:00Z", "value"),
    ],
    "dateTime": [("2024-01-01T10:00", "value"), ("2024-01-01T10:00:00", "value"), ("2024-04-31", "value")],
    "instant": [("2024-01-01", "value"), ("2024-01-01T10:00:00", "value")],
    "time": [("24:00:00", "value"), ("10:00", "value")],
    "base64Binary": [("abc", "value"), ("!!!!", "value")],
}


def _ext(type_code: str, value: object) -> dict[str, object]:
    key = "value" + type_code[0].upper() + type_code[1:]
    return {
        "resourceType": "Basic",
        "code": {"text": "t"},
        "extension": [{"url": "http://example.org/e", key: value}],
    }


@pytest.mark.parametrize(("type_code", "value"), [(t, v) for t, vs in VALID.items() for v in vs])
def test_valid_primitive_values(type_code: str, value: object) -> None:
    assert validate_resource(_ext(type_code, value)) == []


@pytest.mark.parametrize(("type_code", "value", "code"), [(t, v, c) for t, vs in INVALID.items() for v, c in vs])
def test_invalid_primitive_values(type_code: str, value: object, code: str) -> None:
    issues = validate_resource(_ext(type_code, value))
    assert [(i.code, i.expression) for i in issues] == [(code, f"Basic.extension[0].value.ofType({type_code})")]
    assert type_code in issues[0].message
