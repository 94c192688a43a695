"""Load the packaged code lists as CodeSystem and ValueSet resources (``benhan demo``, ``benhan terminology
load``). Goes through the repository (validated, indexed, versioned): a resource is written when it is new
or its content changed (a newer list), and left alone otherwise, so loading is idempotent."""

from __future__ import annotations

from collections import Counter
from typing import Any

from benhan.fhir.operations.terminology_index import packaged_resources
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

JsonObj = dict[str, Any]


def _same(stored: JsonObj, new: JsonObj) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == {k: v for k, v in new.items() if k != "meta"}


async def load_terminology(repo: Repository, ctx: RequestContext) -> Counter[str]:
    """Write every packaged CodeSystem/ValueSet; returns counts of ``created``, ``updated``, ``unchanged``."""
    counts: Counter[str] = Counter()
    for res in packaged_resources():
        type_, id_ = str(res["resourceType"]), str(res["id"])
        try:
            stored = (await repo.read(ctx, type_, id_)).json()
        except BenhanError as err:
            if err.error not in (ErrorCode.NOT_FOUND, ErrorCode.GONE):
                raise
            stored = None
        if stored is not None and _same(stored, res):
            counts["unchanged"] += 1
            continue
        await repo.update(ctx, type_, id_, res)
        counts["created" if stored is None else "updated"] += 1
    return counts
