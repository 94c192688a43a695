"""Build FHIR R4 CodeSystem and ValueSet resources (plain dicts) from the code lists.

Systems (see README.md "Code systems"): ICD-10 uses ``http://hl7.org/fhir/sid/icd-10`` and ICD-9-CM
``http://hl7.org/fhir/sid/icd-9-cm`` (FHIR R4 terminologies-systems.html), each with a Vietnamese
``version`` naming the decision; LOINC is ``http://loinc.org`` (published as a ``fragment``). Lists with
no international system get benhan canonical URLs under ``https://benhan.vn/fhir/CodeSystem/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal

from benhan.terminology.admin_units import AdminUnits
from benhan.terminology.icd9 import Icd9Cm
from benhan.terminology.icd10 import Icd10
from benhan.terminology.loinc import LOINC_SYSTEM, LoincSubset

__all__ = [
    "ADMIN_UNITS_SYSTEM", "BASE", "ICD9CM_SYSTEM", "ICD10_SYSTEM", "SERVICE_SYSTEM", "to_codesystem", "to_valueset",
]  # fmt: skip

Resource = dict[str, object]
Concept = dict[str, object]
PropertyType = Literal["code", "string", "boolean", "integer", "decimal"]

BASE = "https://benhan.vn/fhir"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
ICD9CM_SYSTEM = "http://hl7.org/fhir/sid/icd-9-cm"
SERVICE_SYSTEM = f"{BASE}/CodeSystem/dvkt-tuong-duong"
ADMIN_UNITS_SYSTEM = f"{BASE}/CodeSystem/don-vi-hanh-chinh"
_VALUE_KEY = {"code": "valueCode", "string": "valueString", "boolean": "valueBoolean", "integer": "valueInteger",
              "decimal": "valueDecimal"}  # fmt: skip


def _prop(code: str, kind: PropertyType, value: object) -> dict[str, object]:
    return {"code": code, _VALUE_KEY[kind]: float(value) if isinstance(value, Decimal) else value}


def _concept(code: str, display: str, props: Iterable[dict[str, object]] = (), en: str = "") -> Concept:
    # display is 0..1; one service of Decision 4440 Appendix 3 has no name, so none is invented
    concept: Concept = {"code": code, "display": display} if display else {"code": code}
    if en:
        concept["designation"] = [{"language": "en", "value": en}]
    properties = list(props)
    if properties:
        concept["property"] = properties
    return concept


def codesystem(
    *,
    url: str,
    version: str,
    name: str,
    title: str,
    concepts: Sequence[Concept],
    properties: Sequence[tuple[str, PropertyType, str]] = (),
    content: Literal["complete", "fragment"] = "complete",
    hierarchy: bool = False,
) -> Resource:
    """A CodeSystem resource (FHIR R4 codesystem.html); ``properties`` are (code, type, description)."""
    resource: Resource = {
        "resourceType": "CodeSystem",
        "id": name.lower().replace("_", "-"),
        "url": url,
        "version": version,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "benhan",
        "language": "vi",
        "caseSensitive": True,
        "content": content,
        "count": len(concepts),
        "concept": list(concepts),
    }
    if hierarchy:
        resource["hierarchyMeaning"] = "part-of"
    if properties:
        resource["property"] = [
            {"code": c, "uri": f"{BASE}/CodeSystem/property#{c}", "type": t, "description": d} for c, t, d in properties
        ]
    return resource


def _icd10(db: Icd10) -> Resource:
    concepts = []
    for c in db:
        props = [_prop("chapter", "code", c.chapter.number)]
        if c.group is not None:
            props.append(_prop("group", "string", c.group.range))
        if len(c.xml_code) > 3:
            props.append(_prop("parent", "code", c.category))
        if c.mark:
            props.append(_prop("mark", "code", c.mark))
        concepts.append(_concept(c.code, c.name_vi, props, c.name_en))
    return codesystem(
        url=ICD10_SYSTEM, version=f"vn-{db.version}", name="ICD10_VN", title="ICD-10 (QĐ 4469/QĐ-BYT)",
        concepts=concepts,
        properties=[("chapter", "code", "Chương"), ("group", "string", "Nhóm bệnh"), ("parent", "code", "Mã loại"),
                    ("mark", "code", "dagger (†) | asterisk (*)")],
    )  # fmt: skip


def _icd9(db: Icd9Cm) -> Resource:
    concepts = [_concept(p.code, p.name_vi, [_prop("chapter", "string", p.chapter)]) for p in db]
    return codesystem(url=ICD9CM_SYSTEM, version=f"vn-{db.version}", name="ICD9CM_VN",
                      title="ICD-9-CM tập 3 (QĐ 4440/QĐ-BYT)", concepts=concepts,
                      properties=[("chapter", "string", "Chương")])  # fmt: skip


def services_codesystem(db: Icd9Cm) -> Resource:
    """Equivalent technical-service codes of Decision 4440 Appendix 3 with their ICD-9-CM codes."""
    concepts = []
    for s in db.services():
        props = [_prop("specialty", "code", s.specialty_code), _prop("tier", "code", s.tier)]
        props += [_prop("icd9cm", "code", code) for code in s.icd9cm]
        concepts.append(_concept(s.service_code, s.name_vi, props))
    return codesystem(url=SERVICE_SYSTEM, version=db.version, name="DVKT_TUONG_DUONG",
                      title="Dịch vụ kỹ thuật tương đương (QĐ 4440/QĐ-BYT Phụ lục 3)", concepts=concepts,
                      properties=[("specialty", "code", "Chuyên khoa"), ("tier", "code", "Phân tuyến"),
                                  ("icd9cm", "code", f"ICD-9-CM ({ICD9CM_SYSTEM})")])  # fmt: skip


def _admin(units: AdminUnits) -> Resource:
    def node(code: str, name: str, level: str, children: list[Concept]) -> Concept:
        concept = _concept(code, name, [_prop("level", "code", level)])
        return concept | {"concept": children} if children else concept

    def communes(parent: str) -> list[Concept]:
        return [node(c.code, c.name, "commune", []) for c in units.communes_of(parent)]

    concepts = []
    for p in units.provinces():
        districts = [node(d.code, d.name, "district", communes(d.code)) for d in units.districts_of(p.code)]
        concepts.append(node(p.code, p.name, "province", districts + communes(p.code)))
    resource = codesystem(url=ADMIN_UNITS_SYSTEM, version=units.version, name="DON_VI_HANH_CHINH",
                          title=f"Đơn vị hành chính Việt Nam ({units.version})", concepts=concepts,
                          properties=[("level", "code", "province | district | commune")], hierarchy=True)  # fmt: skip
    resource["count"] = len(units)
    return resource


def _loinc(subset: LoincSubset) -> Resource:
    concepts = []
    for c in subset:
        props = [_prop("group", "code", c.group)] + ([_prop("unit", "code", c.unit)] if c.unit else [])
        rr = c.reference_range
        if rr is not None and rr.low is not None:
            props.append(_prop("adult-low", "decimal", rr.low))
        if rr is not None and rr.high is not None:
            props.append(_prop("adult-high", "decimal", rr.high))
        concepts.append(_concept(c.code, c.display, props) | {"designation": [{"language": "vi", "value": c.name_vi}]})
    return codesystem(url=LOINC_SYSTEM, version=subset.version, name="LOINC_BENHAN_SUBSET",
                      title="LOINC (tập con benhan)", concepts=concepts, content="fragment",
                      properties=[("group", "code", "Nhóm"), ("unit", "code", "UCUM"),
                                  ("adult-low", "decimal", "Người lớn: giới hạn dưới"),
                                  ("adult-high", "decimal", "Người lớn: giới hạn trên")])  # fmt: skip


def to_codesystem(source: Icd10 | Icd9Cm | AdminUnits | LoincSubset) -> Resource:
    """The CodeSystem of a packaged list (for the services of Decision 4440 use :func:`services_codesystem`)."""
    if isinstance(source, Icd10):
        return _icd10(source)
    if isinstance(source, Icd9Cm):
        return _icd9(source)
    if isinstance(source, AdminUnits):
        return _admin(source)
    return _loinc(source)


def to_valueset(codesystem_resource: Resource, url: str, title: str, codes: Sequence[str] | None = None) -> Resource:
    """A ValueSet over a CodeSystem: all its codes, or only ``codes`` (FHIR R4 valueset.html#compose)."""
    include: dict[str, object] = {"system": codesystem_resource["url"], "version": codesystem_resource["version"]}
    if codes is not None:
        include["concept"] = [{"code": c} for c in codes]
    return {
        "resourceType": "ValueSet",
        "id": url.rstrip("/").rsplit("/", 1)[-1],
        "url": url,
        "version": codesystem_resource["version"],
        "name": url.rstrip("/").rsplit("/", 1)[-1].upper().replace("-", "_"),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "benhan",
        "compose": {"include": [include]},
    }
