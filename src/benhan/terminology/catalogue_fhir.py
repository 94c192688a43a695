"""A facility's drug / service / supply catalogue as a FHIR R4 CodeSystem and ValueSet, and back.

Why CodeSystem + ValueSet (and not Medication, MedicationKnowledge or ChargeItemDefinition resources):

- a catalogue *is* a code list: its codes are what orders carry (``MedicationRequest.medicationCodeableConcept``,
  ``ServiceRequest.code``), and FHIR R4 defines code lists as CodeSystem resources (codesystem.html) whose
  concept ``property`` holds the per-code facts (ingredient, strength, route, price, maximum doses…);
- the terminology operations then work on it unchanged: ``ValueSet/$expand`` with ``filter`` is the
  type-ahead, ``CodeSystem/$lookup`` shows one item, ``$validate-code`` checks an order's code
  (terminology-service.html);
- one import is one versioned write of one resource: the history of a facility's list is the resource's
  history (``_history``), and a new price list never touches the orders that used the old one;
- FHIR R4 ``Medication`` is one product instance (medication.html: "primarily used for the identification and
  definition of a medication"), ``MedicationKnowledge`` is trial-use and has no type-ahead operation, and
  ``ChargeItemDefinition`` covers prices only: three resource types per drug instead of one concept.

Each facility has its own code system per kind, because a facility's code, price and dose limits are its own:
``https://benhan.vn/fhir/CodeSystem/{thuoc|dich-vu|vat-tu}-{facility id}``, with a ValueSet of the same id
holding all of its codes. Every import column is a concept property whose code is the BHXH element name
(``TEN_HOAT_CHAT``, ``DON_GIA`` …), so the resource converts back to the imported rows without loss.
The active ingredient is also a designation, so ``$expand?filter=`` finds a drug by ingredient.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast

from benhan.terminology.catalogue import (
    DRUGS,
    SERVICES,
    SUPPLIES,
    Catalogue,
    DrugItem,
    ServiceItem,
    SupplyItem,
    drug_catalogue,
    service_catalogue,
    supply_catalogue,
)
from benhan.terminology.catalogue_schema import Column
from benhan.terminology.fhir import BASE, PropertyType, codesystem

__all__ = [
    "INGREDIENT_USE", "KINDS", "Kind", "catalogue_id", "codesystem_url", "drugs_of", "is_catalogue_system",
    "items_of", "services_of", "supplies_of", "to_codesystem", "to_valueset", "valueset_url",
]  # fmt: skip

JsonObj = dict[str, Any]
Kind = Literal["drug", "service", "supply"]
KINDS: tuple[Kind, ...] = ("drug", "service", "supply")
_SLUG: dict[Kind, str] = {"drug": "thuoc", "service": "dich-vu", "supply": "vat-tu"}
_TITLE: dict[Kind, str] = {"drug": "Danh mục thuốc", "service": "Danh mục dịch vụ kỹ thuật",
                           "supply": "Danh mục vật tư y tế"}  # fmt: skip
_COLUMNS: dict[Kind, tuple[Column, ...]] = {"drug": DRUGS.columns, "service": SERVICES.columns,
                                           "supply": SUPPLIES.columns}  # fmt: skip
#: the designation use of a drug's active ingredient (FHIR R4 codesystem-definitions.html#concept.designation.use)
INGREDIENT_USE = {"system": f"{BASE}/CodeSystem/catalogue-designation", "code": "hoat-chat", "display": "Hoạt chất"}
_PROPERTY_TYPE: dict[str, PropertyType] = {"code": "code", "text": "string", "decimal": "decimal", "int": "integer",
                                           "sex": "code"}  # fmt: skip
_VALUE_KEY = {"code": "valueCode", "string": "valueString", "decimal": "valueDecimal", "integer": "valueInteger"}

I = TypeVar("I", DrugItem, ServiceItem, SupplyItem)  # noqa: E741 - the item type


def catalogue_id(kind: Kind, facility_id: str) -> str:
    """Resource id of the facility's catalogue (CodeSystem and ValueSet alike)."""
    return f"{_SLUG[kind]}-{facility_id}"


def codesystem_url(kind: Kind, facility_id: str) -> str:
    return f"{BASE}/CodeSystem/{catalogue_id(kind, facility_id)}"


def valueset_url(kind: Kind, facility_id: str) -> str:
    return f"{BASE}/ValueSet/{catalogue_id(kind, facility_id)}"


def is_catalogue_system(system: str | None, kind: Kind) -> bool:
    """Whether ``system`` is some facility's ``kind`` catalogue (orders keep the system they were written with)."""
    return bool(system) and str(system).startswith(f"{BASE}/CodeSystem/{_SLUG[kind]}-")


def _columns(kind: Kind) -> tuple[Column, ...]:
    return _COLUMNS[kind]


def _name_column(kind: Kind) -> str:
    return "TEN_THUOC" if kind == "drug" else _columns(kind)[1].name


def _property_columns(kind: Kind) -> list[Column]:
    """Every column but the code and the name (those are the concept's ``code`` and ``display``)."""
    return [c for c in _columns(kind)[1:] if c.name != _name_column(kind)]


def _prop(column: Column, value: object) -> JsonObj:
    kind = _PROPERTY_TYPE[column.kind]
    if isinstance(value, Decimal):  # JSON number (FHIR R4 datatypes.html#decimal); whole values stay whole
        value = int(value) if value == value.to_integral_value() else float(value)
    return {"code": column.name, _VALUE_KEY[kind]: value}


def _concept(kind: Kind, item: DrugItem | ServiceItem | SupplyItem) -> JsonObj:
    values = dataclasses.asdict(item)
    code = values[_columns(kind)[0].name.lower()]
    concept: JsonObj = {"code": code, "display": values[_name_column(kind).lower()]}
    if isinstance(item, DrugItem):
        # no language: the designation is another name of the drug, not its Vietnamese display
        concept["designation"] = [{"use": INGREDIENT_USE, "value": item.ten_hoat_chat}]
    props = [_prop(c, values[c.name.lower()]) for c in _property_columns(kind) if values[c.name.lower()] is not None]
    if props:
        concept["property"] = props
    return concept


def to_codesystem(
    kind: Kind,
    facility_id: str,
    facility_name: str,
    items: Sequence[DrugItem | ServiceItem | SupplyItem],
    version: str,
) -> JsonObj:
    """The facility's catalogue as a CodeSystem (``content: complete``: the list is the facility's own)."""
    cid = catalogue_id(kind, facility_id)
    properties = [(c.name, _PROPERTY_TYPE[c.kind], c.name) for c in _property_columns(kind)]
    resource = codesystem(url=codesystem_url(kind, facility_id), version=version,
                          name=cid.upper().replace("-", "_"), title=f"{_TITLE[kind]} — {facility_name}",
                          concepts=[_concept(kind, it) for it in items], properties=properties)  # fmt: skip
    resource["id"] = cid
    return resource


def to_valueset(codesystem_resource: JsonObj) -> JsonObj:
    """All codes of the facility's catalogue: what ``$expand`` answers the type-ahead from."""
    cid = str(codesystem_resource["id"])
    return {
        "resourceType": "ValueSet", "id": cid, "url": f"{BASE}/ValueSet/{cid}",
        "version": codesystem_resource["version"], "name": codesystem_resource["name"],
        "title": codesystem_resource["title"], "status": "active", "experimental": False, "publisher": "benhan",
        "compose": {"include": [{"system": codesystem_resource["url"], "version": codesystem_resource["version"]}]},
    }  # fmt: skip


def _value(prop: JsonObj) -> object:
    for key, value in prop.items():
        if key.startswith("value"):
            return Decimal(str(value)) if key == "valueDecimal" else value
    return None


def _items(kind: Kind, resource: JsonObj, build: Callable[..., I]) -> list[I]:
    code, name = _columns(kind)[0].name.lower(), _name_column(kind).lower()
    known = {c.name for c in _property_columns(kind)}
    out: list[I] = []
    for c in resource.get("concept") or []:
        fields: dict[str, object] = {code: c["code"], name: c.get("display", "")}
        fields |= {str(p["code"]).lower(): _value(p) for p in c.get("property") or [] if p.get("code") in known}
        out.append(build(**fields))
    return out


def drugs_of(resource: JsonObj) -> Catalogue[DrugItem]:
    return drug_catalogue(_items("drug", resource, DrugItem))


def services_of(resource: JsonObj) -> Catalogue[ServiceItem]:
    return service_catalogue(_items("service", resource, ServiceItem))


def supplies_of(resource: JsonObj) -> Catalogue[SupplyItem]:
    return supply_catalogue(_items("supply", resource, SupplyItem))


def items_of(kind: Kind, resource: JsonObj) -> Catalogue[Any]:
    return cast("Catalogue[Any]", {"drug": drugs_of, "service": services_of, "supply": supplies_of}[kind](resource))
