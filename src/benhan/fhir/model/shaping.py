"""``_summary`` and ``_elements`` shaping of a resource (FHIR R4 search.html#summary, #elements).

Both return a new dict and never mutate their input. A subsetted resource carries the
``SUBSETTED`` meta.tag so that it is not mistaken for the full resource (search.html#summary:
"the server SHOULD mark the resources with the tag SUBSETTED").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from benhan.fhir.model.definitions import MODEL, ElementDef, TypeNode

SUBSETTED_TAG: dict[str, object] = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
SUMMARY_MODES = frozenset({"true", "text", "data", "false"})
_ALWAYS = frozenset({"resourceType", "id", "meta"})
_Predicate = Callable[[ElementDef], bool]


def apply_summary(resource: Mapping[str, object], mode: str) -> dict[str, object]:
    """Shape ``resource`` for ``_summary=mode`` (true | text | data | false).

    - true: summary elements (isSummary in the base definition) and mandatory ones, recursively
      through backbone elements; datatype values are kept whole.
    - text: ``text``, ``id``, ``meta`` and mandatory top-level elements.
    - data: everything except ``text``.
    - false: the resource unchanged (a copy).
    Raises ValueError for any other mode (``count`` only applies to searches).
    """
    if mode not in SUMMARY_MODES:
        raise ValueError(f"unsupported _summary mode {mode!r}")
    if mode == "false":
        return dict(resource)
    node = _node_of(resource)
    if mode == "data":
        out = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    elif mode == "text":
        out = _keep(resource, node, lambda el: el.name == "text" or el.min >= 1)
    else:
        out = _summary_object(resource, node)
    return _tag_subsetted(out)


def apply_elements(resource: Mapping[str, object], elements: Iterable[str]) -> dict[str, object]:
    """Keep only the named top-level ``elements`` (``_elements=a,b``) plus id, meta and mandatory ones.

    Names may be given as ``name`` or ``Type.name``; a choice element is named without its type
    (``value`` keeps ``valueQuantity``). Unknown names are ignored, as search.html#elements allows.
    """
    node = _node_of(resource)
    prefix = node.name + "."
    wanted = {e.strip().removeprefix(prefix) for e in elements}
    wanted.discard("")
    out = _keep(resource, node, lambda el: el.name in wanted or el.min >= 1)
    return _tag_subsetted(out)


def _node_of(resource: Mapping[str, object]) -> TypeNode:
    rt = resource.get("resourceType")
    if type(rt) is not str or rt not in MODEL.resource_types:
        raise ValueError(f"not a FHIR R4 resource type: {rt!r}")
    return MODEL.nodes[rt]


def _element_for(node: TypeNode, key: str) -> ElementDef | None:
    # "_x" (primitive extension) follows the fate of "x".
    return node.elements.get(key[1:] if key.startswith("_") else key)


def _keep(obj: Mapping[str, object], node: TypeNode, keep: _Predicate) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in obj.items():
        el = _element_for(node, key)
        if key in _ALWAYS or (el is not None and keep(el)):
            out[key] = value
    return out


def _summary_object(obj: Mapping[str, object], node: TypeNode) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in obj.items():
        el = _element_for(node, key)
        if key in _ALWAYS:
            out[key] = value
        elif el is None or not (el.summary or el.min >= 1):
            continue
        elif el.node is not None and el.node.kind == "backbone" and not key.startswith("_"):
            out[key] = _summary_value(value, el.node)
        else:
            out[key] = value
    return out


def _summary_value(value: object, node: TypeNode) -> object:
    if type(value) is dict:
        return _summary_object(value, node)
    if type(value) is list:
        return [_summary_object(v, node) if type(v) is dict else v for v in value]
    return value


def _tag_subsetted(resource: dict[str, object]) -> dict[str, object]:
    meta = resource.get("meta")
    new_meta: dict[str, object] = dict(meta) if type(meta) is dict else {}
    tags = new_meta.get("tag")
    tag_list: list[object] = list(tags) if type(tags) is list else []
    if not any(type(t) is dict and t.get("code") == "SUBSETTED" for t in tag_list):
        tag_list.append(dict(SUBSETTED_TAG))
    new_meta["tag"] = tag_list
    out = dict(resource)
    out["meta"] = new_meta
    return out
