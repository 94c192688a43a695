"""What the rest of benhan may ask of the resource store.  Implemented by ``storage.pg.PgRepository``."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from benhan.fhir.search.query import SearchQuery
from benhan.fhir.search.result import SearchResult
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord, Decision, Derived, Target, Visibility
from benhan.kernel.context import RequestContext

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored.  ``content`` is the exact JSON bytes sent to clients."""

    type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    content: bytes

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    def json(self) -> JsonObj:
        data: JsonObj = orjson.loads(self.content)
        return data


@dataclass(frozen=True, slots=True)
class WriteResult:
    resource: StoredResource
    created: bool
    #: conditional create matched an existing resource; nothing was written
    existing: bool = False


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    type: str | None = None
    id: str | None = None
    since: datetime | None = None
    at: datetime | None = None
    count: int = 20
    offset: int = 0
    #: upper bound fixed by the first page, so later pages neither skip nor repeat when writes happen
    snapshot: datetime | None = None


@dataclass(frozen=True, slots=True)
class EverythingQuery:
    """Parameters of Patient/$everything (FHIR R4 patient-operation-everything.html)."""

    start: datetime | None = None
    end: datetime | None = None
    since: datetime | None = None
    types: tuple[str, ...] = ()
    count: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A search of the audit log (``GET /fhir/AuditEvent``; the parameters in fhir.router.audit_events)."""

    patient_id: str | None = None
    #: ``Type/id`` the event is about
    entity: str | None = None
    #: the acting user, as their Practitioner id, username or user id (``agent``, ``agent-name``, ``altid``)
    practitioner_id: str | None = None
    user_name: str | None = None
    user_id: str | None = None
    #: benhan interactions (``read``, ``search``, ``login`` …), any of them
    actions: tuple[str, ...] = ()
    #: ``success`` | ``denied`` | ``failed``, any of them
    outcomes: tuple[str, ...] = ()
    facility_id: str | None = None
    #: (operator, instant) pairs on ``recorded``, operators ``>=``, ``>``, ``<``, ``<=``
    recorded: tuple[tuple[str, datetime], ...] = ()
    count: int = 50
    offset: int = 0
    #: the query as the caller wrote it (for the audit of this very search)
    text: str = ""


@dataclass(frozen=True, slots=True)
class Related:
    """Resources to fetch with the matches of a search (``Repository.search_json_related``).

    ``reverse``: resources of ``type`` whose reference parameter ``param`` points at a match (like
    ``_revinclude=Condition:encounter``); otherwise the targets of the matches' ``param`` (like
    ``_include=Encounter:subject``, ``type`` the target type).  ``params`` filter them (decoded pairs).
    """

    type: str
    param: str
    reverse: bool = True
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[StoredResource]
    #: whether more entries follow this page
    more: bool


class Repository(Protocol):
    async def read(self, ctx: RequestContext, type_: str, id_: str) -> StoredResource: ...

    async def vread(self, ctx: RequestContext, type_: str, id_: str, version: int) -> StoredResource: ...

    async def create(
        self, ctx: RequestContext, resource: JsonObj, *, if_none_exist: str | None = None,
        assigned_id: str | None = None,
    ) -> WriteResult:
        """Create with a server-assigned id (``assigned_id`` is for transaction Bundles that reserve ids)."""
        ...

    def unit_of_work(self) -> AbstractAsyncContextManager[Repository]:
        """A repository bound to one database transaction: everything inside commits or nothing does."""
        ...

    async def find_ids(self, ctx: RequestContext, type_: str, query: str) -> list[str]:
        """Ids of the current resources of ``type_`` matching a search query string."""
        ...

    async def update(
        self, ctx: RequestContext, type_: str, id_: str, resource: JsonObj, *, if_match: int | None = None
    ) -> WriteResult: ...

    async def conditional_update(
        self, ctx: RequestContext, type_: str, query: str, resource: JsonObj, *, if_match: int | None = None
    ) -> WriteResult: ...

    async def patch(
        self, ctx: RequestContext, type_: str, id_: str, patch: Any, content_type: str, *,
        if_match: int | None = None,
    ) -> WriteResult: ...

    async def delete(
        self, ctx: RequestContext, type_: str, id_: str, *, if_match: int | None = None
    ) -> StoredResource | None: ...

    async def conditional_delete(self, ctx: RequestContext, type_: str, query: str) -> int: ...

    async def history(self, ctx: RequestContext, query: HistoryQuery) -> HistoryPage: ...

    async def search(self, ctx: RequestContext, query: SearchQuery) -> SearchResult:
        """A FHIR search (one page), filtered by what ``ctx`` may see."""
        ...

    async def everything(self, ctx: RequestContext, patient_id: str, request: EverythingQuery) -> SearchResult:
        """One page of Patient/$everything."""
        ...

    async def search_json(self, ctx: RequestContext, type_: str, params: list[tuple[str, str]]) -> list[JsonObj]:
        """Search and return the matching current resources as dicts (for use-cases; no paging)."""
        ...

    async def audit_events(self, ctx: RequestContext, query: AuditQuery) -> tuple[list[JsonObj], bool]:
        """One page of the audit log as AuditEvent resources, newest first, and whether more follow."""
        ...

    async def audit_event(self, ctx: RequestContext, id_: str) -> JsonObj:
        """One audit record as an AuditEvent resource (404 when unknown or not visible)."""
        ...

    async def search_json_related(
        self, ctx: RequestContext, type_: str, params: list[tuple[str, str]], related: tuple[Related, ...]
    ) -> list[list[JsonObj]]:
        """``search_json`` and the ``related`` resources of its matches in one round trip: ``[matches,
        related[0]'s, …]``, each list in storage order, every resource filtered by what ``ctx`` may see."""
        ...


class AccessPolicy(Protocol):
    """The access policy the repository consults for every interaction (issue 4; ``benhan.access`` implements
    it).  Pure: the repository fetches the facts, the policy decides and shapes the audit record."""

    def decide(self, ctx: RequestContext, action: str, target: Target) -> Decision: ...

    def visibility(
        self, ctx: RequestContext, action: str, types: tuple[str, ...] | None
    ) -> tuple[Visibility, tuple[str, ...]]:
        """What a search/history of ``types`` (None: all) may see, and the types refused outright."""
        ...

    def derive(self, resource: JsonObj) -> Derived:
        """Care links, Consent opt-outs and organisation-tree facts a write of ``resource`` maintains."""
        ...

    def audit(self, ctx: RequestContext, info: AuditInfo) -> AuditRecord: ...
