"""Write generated resources to files: one FHIR transaction Bundle per patient, or NDJSON per type
(the layout of FHIR Bulk Data export, one ``<Type>.ndjson`` file per resource type)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal

import orjson

JsonObj = dict[str, Any]
Format = Literal["bundle", "ndjson"]


def transaction_bundle(resources: list[JsonObj]) -> JsonObj:
    """A transaction that PUTs every resource at its id (FHIR R4 http.html#transaction): idempotent."""
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


class Writer:
    """Writes groups of resources (the province, then one group per patient) under ``directory``."""

    def __init__(self, directory: Path, fmt: Format) -> None:
        self.directory = directory
        self.fmt = fmt
        self.counts: Counter[str] = Counter()
        self._files: dict[str, IO[bytes]] = {}
        self._bundles = 0
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, resources: list[JsonObj], name: str | None = None) -> None:
        self.counts.update(str(r["resourceType"]) for r in resources)
        if self.fmt == "bundle":
            self._bundles += 1
            path = self.directory / f"{name or f'bundle-{self._bundles:06d}'}.json"
            path.write_bytes(orjson.dumps(transaction_bundle(resources)))
            return
        for res in resources:
            type_ = str(res["resourceType"])
            handle = self._files.get(type_)
            if handle is None:
                handle = self._files[type_] = (self.directory / f"{type_}.ndjson").open("wb")
            handle.write(orjson.dumps(res) + b"\n")

    def write_all(self, groups: Iterable[list[JsonObj]]) -> None:
        for group in groups:
            self.write(group)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
