"""In-memory terminology served by ``$lookup``, ``$expand`` and ``$validate-code``.

Built once per process from the packaged code lists (:mod:`benhan.terminology`) through the same
CodeSystem builders whose output is loaded into the repository (``benhan terminology load``), so the
operations and the stored resources cannot disagree. Look-ups are dictionary hits and filters use the
terminology package's accent-insensitive prefix index: an ICD-10 type-ahead costs a few milliseconds
instead of a scan of a 12,000-concept resource.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology._index import SearchIndex, code_key

JsonObj = dict[str, Any]
VS_BASE = "https://benhan.vn/fhir/ValueSet"


@dataclass(frozen=True, slots=True)
class Concept:
    system: str
    version: str
    code: str
    display: str
    designations: tuple[tuple[str, str], ...]  # (language, value)
    properties: tuple[JsonObj, ...]

    def display_in(self, language: str | None) -> str:
        """The display in ``language`` ("en", "vi"); the CodeSystem's own display (Vietnamese) otherwise."""
        if language:
            wanted = language.lower().split("-")[0]
            for lang, value in self.designations:
                if lang.lower().split("-")[0] == wanted:
                    return value
        return self.display

    def matches_display(self, text: str) -> bool:
        from benhan.kernel.text import fold

        folded = fold(text)
        return folded == fold(self.display) or any(folded == fold(v) for _, v in self.designations)


class CodeSystemIndex:
    """One code system: concepts by code and an accent-insensitive search index over their names."""

    def __init__(self, resource: JsonObj) -> None:
        self.url = str(resource["url"])
        self.version = str(resource.get("version") or "")
        self.name = str(resource.get("name") or "")
        self.title = str(resource.get("title") or self.name)
        self.id = str(resource["id"])
        self.concepts = tuple(_flatten(resource.get("concept") or [], self.url, self.version))
        self._by_code = {c.code: c for c in self.concepts}
        self._by_key: dict[str, Concept] = {}
        for c in self.concepts:
            self._by_key.setdefault(code_key(c.code), c)
        self._index = SearchIndex(self.concepts, lambda c: c.code, _names)

    def __len__(self) -> int:
        return len(self.concepts)

    def lookup(self, code: str) -> Concept | None:
        """Exact code first; then the same code without dots/case ("J189" → "J18.9", as the XML writes it)."""
        return self._by_code.get(code) or self._by_key.get(code_key(code)) if code else None

    def search(self, text: str) -> list[Concept]:
        """Every concept matching ``text`` (code prefix or word prefixes), best first."""
        return self._index.search(text, len(self.concepts))


def _names(c: Concept) -> tuple[str, ...]:
    return (c.display, *(v for _, v in c.designations))


def _flatten(concepts: Iterable[JsonObj], system: str, version: str) -> Iterator[Concept]:
    for c in concepts:
        designations = tuple((str(d.get("language", "")), str(d["value"])) for d in c.get("designation") or [])
        yield Concept(system, version, str(c["code"]), str(c.get("display", "")), designations,
                      tuple(c.get("property") or []))  # fmt: skip
        yield from _flatten(c.get("concept") or [], system, version)


@dataclass(frozen=True, slots=True)
class ValueSetDef:
    """A packaged value set: all codes of some systems, or a listed subset of one."""

    id: str
    url: str
    title: str
    includes: tuple[tuple[str, tuple[str, ...] | None], ...]  # (system, codes or None for all)


class TerminologyIndex:
    def __init__(self, codesystems: Sequence[JsonObj], valuesets: Sequence[ValueSetDef]) -> None:
        self.codesystem_resources = tuple(codesystems)
        self.systems = {cs["url"]: CodeSystemIndex(cs) for cs in codesystems}
        self._systems_by_id = {s.id: s for s in self.systems.values()}
        self.valuesets = {vs.url: vs for vs in valuesets}
        self._valuesets_by_id = {vs.id: vs for vs in valuesets}

    def system(self, url_or_id: str) -> CodeSystemIndex | None:
        url = url_or_id.split("|", 1)[0]
        return self.systems.get(url) or self._systems_by_id.get(url)

    def valueset(self, url_or_id: str) -> ValueSetDef | None:
        """A packaged value set by canonical URL or id; ``<system>?vs`` (or the bare system URL) is the
        implicit value set of a whole code system (FHIR R4 codesystem.html#valueSet)."""
        url = url_or_id.split("|", 1)[0]
        found = self.valuesets.get(url) or self._valuesets_by_id.get(url)
        if found is not None:
            return found
        system = self.system(url.removesuffix("?vs"))
        if system is None:
            return None
        return ValueSetDef(system.id, f"{system.url}?vs", system.title, ((system.url, None),))

    def valueset_resources(self) -> list[JsonObj]:
        """The packaged value sets as FHIR ValueSet resources (for loading into the repository)."""
        return [_valueset_resource(vs, self) for vs in self.valuesets.values()]


def _valueset_resource(vs: ValueSetDef, index: TerminologyIndex) -> JsonObj:
    includes: list[JsonObj] = []
    for system_url, codes in vs.includes:
        system = index.systems[system_url]
        include: JsonObj = {"system": system.url, "version": system.version}
        if codes is not None:
            include["concept"] = [{"code": c} for c in codes]
        includes.append(include)
    return {
        "resourceType": "ValueSet", "id": vs.id, "url": vs.url, "name": vs.id.upper().replace("-", "_"),
        "title": vs.title, "status": "active", "experimental": False, "publisher": "benhan",
        "compose": {"include": includes},
    }  # fmt: skip


def _packaged_codesystems() -> list[JsonObj]:
    from benhan.terminology import admin_units, icd9, icd10, loinc
    from benhan.terminology.fhir import services_codesystem, to_codesystem

    icd9_db = icd9.default()
    return [
        to_codesystem(icd10.default()), to_codesystem(icd9_db), services_codesystem(icd9_db),
        to_codesystem(loinc.default()), to_codesystem(admin_units.default()),
    ]  # fmt: skip


def _packaged_valuesets(codesystems: Sequence[JsonObj]) -> list[ValueSetDef]:
    from benhan.terminology import loinc

    by_name = {str(cs["name"]): str(cs["url"]) for cs in codesystems}
    whole = [
        ("icd-10-vn", "ICD-10 (QĐ 4469/QĐ-BYT) — chẩn đoán", "ICD10_VN"),
        ("icd-9-cm-vn", "ICD-9-CM (QĐ 4440/QĐ-BYT) — thủ thuật", "ICD9CM_VN"),
        ("dvkt-tuong-duong", "Dịch vụ kỹ thuật tương đương (QĐ 4440)", "DVKT_TUONG_DUONG"),
        ("loinc-benhan", "Xét nghiệm và dấu hiệu sinh tồn (LOINC)", "LOINC_BENHAN_SUBSET"),
        ("don-vi-hanh-chinh", "Đơn vị hành chính", "DON_VI_HANH_CHINH"),
    ]
    found = [ValueSetDef(i, f"{VS_BASE}/{i}", t, ((by_name[n], None),)) for i, t, n in whole if n in by_name]
    vitals = tuple(c.code for c in loinc.default().group("vital-signs"))
    labs = tuple(c.code for c in loinc.default() if c.group != "vital-signs")
    found.append(ValueSetDef("loinc-vital-signs", f"{VS_BASE}/loinc-vital-signs", "Dấu hiệu sinh tồn",
                             ((loinc.LOINC_SYSTEM, vitals),)))  # fmt: skip
    found.append(ValueSetDef("loinc-xet-nghiem", f"{VS_BASE}/loinc-xet-nghiem", "Xét nghiệm thường quy",
                             ((loinc.LOINC_SYSTEM, labs),)))  # fmt: skip
    return found


def _clean(value: Any) -> Any:
    """Drop empty property values and turn non-breaking spaces into spaces: the source lists (QĐ 4440)
    contain both, and FHIR R4 forbids empty codes and only allows ordinary whitespace in strings
    (datatypes.html#string: regex ``[ \\r\\n\\t\\S]+``)."""
    if isinstance(value, str):
        return value.replace("\xa0", " ")
    if isinstance(value, list):
        cleaned = [_clean(v) for v in value]
        return [v for v in cleaned if not (isinstance(v, dict) and _empty_property(v))]
    if isinstance(value, dict):
        fields = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in fields.items() if v != []}
    return value


def _empty_property(prop: JsonObj) -> bool:
    return "code" in prop and any(k.startswith("value") and v == "" for k, v in prop.items())


@functools.cache
def default_index() -> TerminologyIndex:
    """The packaged terminology, built on first use (about two seconds) and kept for the process."""
    codesystems = [_clean(cs) for cs in _packaged_codesystems()]
    return TerminologyIndex(codesystems, _packaged_valuesets(codesystems))


#: stored code systems already indexed, by (url, version id): a catalogue is indexed once per version
_STORED: dict[tuple[str, str], CodeSystemIndex] = {}
_STORED_MAX = 256


async def find_system(repo: Repository, ctx: RequestContext, url_or_id: str) -> CodeSystemIndex | None:
    """A packaged code system, else one stored in the repository (a facility catalogue), read with ``ctx``.

    The stored resource is read on every call (so a new import is seen at once and the read is access-checked
    and audited like any other); its search index is built once per stored version.
    """
    packaged = default_index().system(url_or_id)
    if packaged is not None:
        return packaged
    url = url_or_id.split("|", 1)[0]
    found = await repo.search_json(ctx, "CodeSystem", [("url", url)])
    if not found:
        return None
    resource = found[0]
    key = (str(resource["url"]), str((resource.get("meta") or {}).get("versionId", "")))
    system = _STORED.get(key)
    if system is None:
        if len(_STORED) >= _STORED_MAX:
            _STORED.pop(next(iter(_STORED)))
        system = _STORED[key] = CodeSystemIndex(resource)
    return system


def packaged_resources() -> list[JsonObj]:
    """Every packaged CodeSystem and ValueSet resource, with stable ids (what ``benhan terminology load`` writes)."""
    index = default_index()
    return [*index.codesystem_resources, *index.valueset_resources()]
