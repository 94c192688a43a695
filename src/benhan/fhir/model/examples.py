"""Generate valid example instances of any FHIR R4 resource type from the definitions.

``example_resource(type, seed)`` fills every required element recursively plus a deterministic,
seed-dependent selection of optional ones (fewer the deeper it goes), picks one variant of each
choice element, and takes codes from required bindings. No ``contained``, ``extension`` or
``meta``: the output is meant for round-trip and load tests, and passes ``validate_resource``.
FHIRPath invariants (e.g. "per-1: start <= end") are respected where a datatype makes it easy,
not in general.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from benhan.fhir.model.definitions import COMPLEX, MODEL, PRIMITIVE, ElementDef, TypeNode

# Probability of including an optional element, by nesting depth; deeper levels get only required ones.
_OPTIONAL_RATE = (0.7, 0.45, 0.25)
_MAX_DEPTH = 12
_SKIPPED = frozenset({"id", "extension", "modifierExtension", "contained", "meta", "implicitRules"})
# Types placed where any resource may go (Bundle.entry.resource, Parameters.parameter.resource).
_NESTED_TYPES = ("Patient", "Observation", "Organization", "Practitioner", "Encounter")
_XHTML_NS = "http://www.w3.org/1999/xhtml"


def example_resource(resource_type: str, seed: int = 0) -> dict[str, object]:
    """A valid instance of ``resource_type``; the same (type, seed) always gives the same dict."""
    if resource_type not in MODEL.resource_types:
        raise ValueError(f"not a FHIR R4 resource type: {resource_type!r}")
    gen = _Generator(random.Random(f"{resource_type}:{seed}"))  # test data, not security
    return gen.resource(resource_type, depth=0, id_=f"ex-{resource_type.lower()}-{seed}")


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stack: list[str] = []
        self.serial = 0

    def resource(self, resource_type: str, depth: int, id_: str | None = None) -> dict[str, object]:
        self.serial += 1
        out: dict[str, object] = {"resourceType": resource_type, "id": id_ or f"ex{self.serial}"}
        node = MODEL.nodes[resource_type]
        if "text" in node.elements:
            out["text"] = {"status": "generated", "div": _div(f"Example {resource_type}")}
        out.update(self.fill(node, depth, skip=frozenset({"text"})))
        return out

    def fill(self, node: TypeNode, depth: int, skip: frozenset[str] = frozenset()) -> dict[str, object]:
        if depth > _MAX_DEPTH:
            raise RecursionError(f"required elements of {node.name} recurse without end")
        self.stack.append(node.name)
        out: dict[str, object] = {}
        for name, variants in node.by_name.items():
            if name in _SKIPPED or name in skip or not self._wanted(variants[0], depth):
                continue
            el = variants[self.rng.randrange(len(variants))] if len(variants) > 1 else variants[0]
            count = 2 if el.is_array and depth == 0 and self.rng.random() < 0.3 else 1
            values = [self.value(el, depth + 1, i) for i in range(count)]
            out[el.key] = values if el.is_array else values[0]
        if not out:
            # FHIR R4 json.html: empty objects are invalid, so an all-optional node gets one element.
            el = self._fallback(node)
            value = self.value(el, depth + 1, 0)
            out[el.key] = [value] if el.is_array else value
        self.stack.pop()
        return out

    def _fallback(self, node: TypeNode) -> ElementDef:
        candidates = [
            variants[0]
            for name, variants in node.by_name.items()
            if name not in _SKIPPED and (variants[0].node is None or variants[0].node.name not in self.stack)
        ]
        primitives = [el for el in candidates if el.kind == PRIMITIVE]
        return (primitives or candidates)[0]

    def _wanted(self, el: ElementDef, depth: int) -> bool:
        if el.min >= 1:
            return True
        if el.node is not None and el.node.name in self.stack:
            return False  # Questionnaire.item.item ...: no optional recursion
        rate = _OPTIONAL_RATE[depth] if depth < len(_OPTIONAL_RATE) else 0.0
        return self.rng.random() < rate

    def value(self, el: ElementDef, depth: int, index: int) -> object:
        if el.kind == PRIMITIVE:
            return self.primitive(el, index)
        if el.kind == COMPLEX:
            assert el.node is not None
            special = _DATATYPES.get(el.type_code)
            if el.coded is not None:
                return self.coded(el)
            if special is not None:
                return special(self, el)
            return self.fill(el.node, depth)
        nested = el.type_code if el.type_code != "Resource" else self.rng.choice(_NESTED_TYPES)
        return self.resource(nested, depth)

    def primitive(self, el: ElementDef, index: int) -> object:
        if el.codes is not None:
            codes = sorted(el.codes)
            return codes[(self.rng.randrange(len(codes)) + index) % len(codes)]
        maker = _PRIMITIVES.get(el.type_code)
        if maker is None:
            raise ValueError(f"no example value for primitive type {el.type_code}")
        return maker(self, el, index)

    def coded(self, el: ElementDef) -> dict[str, object]:
        assert el.coded is not None
        system = sorted(el.coded)[0]
        codes = sorted(el.coded[system])
        coding: dict[str, object] = {"system": system, "code": codes[self.rng.randrange(len(codes))]}
        return {"coding": [coding]} if el.type_code == "CodeableConcept" else coding

    def reference(self, el: ElementDef) -> dict[str, object]:
        targets = [t for t in el.targets if t in MODEL.resource_types] or ["Patient"]
        target = targets[self.rng.randrange(len(targets))]
        return {"reference": f"{target}/ex-{target.lower()}-{self.rng.randrange(1000)}", "display": target}

    def uuid(self) -> str:
        return "urn:uuid:" + str(_uuid_from(self.rng))


def _uuid_from(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _div(text: str) -> str:
    return f'<div xmlns="{_XHTML_NS}"><p>{text}</p></div>'


def _code_value(gen: _Generator, el: ElementDef, index: int) -> str:
    # Codes whose (non-required or unexpandable) value set is well known get realistic values.
    by_name = {"contentType": "text/plain", "language": "vi", "currency": "VND", "unit": "mg"}
    return by_name.get(el.name, f"example-{el.name.lower()}-{index}")


def _uri_value(gen: _Generator, el: ElementDef, index: int) -> str:
    if el.type_code == "canonical":
        return f"http://example.org/fhir/StructureDefinition/example-{el.name.lower()}"
    return f"http://example.org/fhir/{el.name}/{index}"


_PRIMITIVES: dict[str, Callable[[_Generator, ElementDef, int], object]] = {
    "boolean": lambda gen, el, i: gen.rng.random() < 0.5,
    "integer": lambda gen, el, i: gen.rng.randrange(-5, 100),
    "unsignedInt": lambda gen, el, i: gen.rng.randrange(0, 100),
    "positiveInt": lambda gen, el, i: gen.rng.randrange(1, 100),
    "decimal": lambda gen, el, i: round(gen.rng.uniform(0, 200), 2),
    "string": lambda gen, el, i: f"Example {el.name} {i + 1}",
    "markdown": lambda gen, el, i: f"**Example** {el.name}",
    "code": _code_value,
    "id": lambda gen, el, i: f"ex-{el.name.lower()}-{i}",
    "uri": _uri_value,
    "url": _uri_value,
    "canonical": _uri_value,
    "oid": lambda gen, el, i: f"urn:oid:1.3.6.1.4.1.{gen.rng.randrange(1, 99999)}.{i + 1}",
    "uuid": lambda gen, el, i: gen.uuid(),
    "date": lambda gen, el, i: f"2024-{gen.rng.randrange(1, 13):02d}-{gen.rng.randrange(1, 29):02d}",
    "dateTime": lambda gen, el, i: f"2024-03-{gen.rng.randrange(1, 29):02d}T08:{i:02d}:00+07:00",
    "instant": lambda gen, el, i: f"2024-03-{gen.rng.randrange(1, 29):02d}T08:{i:02d}:00.000+07:00",
    "time": lambda gen, el, i: f"{gen.rng.randrange(0, 24):02d}:30:00",
    "base64Binary": lambda gen, el, i: "RXhhbXBsZSBjb250ZW50",  # "Example content"
    "xhtml": lambda gen, el, i: _div("Example narrative"),
}

_DATATYPES: dict[str, Callable[[_Generator, ElementDef], object]] = {
    "Reference": _Generator.reference,
    "Period": lambda gen, el: {"start": "2024-03-01T08:00:00+07:00", "end": "2024-03-02T17:00:00+07:00"},
    "Quantity": lambda gen, el: {
        "value": round(gen.rng.uniform(1, 200), 1),
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    },
    "CodeableConcept": lambda gen, el: {
        "coding": [{"system": "http://example.org/codes", "code": f"{el.name.lower()}-1", "display": el.name}],
        "text": f"Example {el.name}",
    },
    "Coding": lambda gen, el: {"system": "http://example.org/codes", "code": f"{el.name.lower()}-1"},
    "Identifier": lambda gen, el: {
        "system": "http://example.org/identifiers",
        "value": f"ID-{gen.rng.randrange(10**6):06d}",
    },
    "ContactPoint": lambda gen, el: {"system": "phone", "value": f"+84 90 {gen.rng.randrange(10**7):07d}"},
    "Attachment": lambda gen, el: {
        "contentType": "text/plain",
        "data": "RXhhbXBsZSBjb250ZW50",
        "title": "Example",
    },
    "Narrative": lambda gen, el: {"status": "generated", "div": _div("Example narrative")},
}
