"""What the rest of benhan may ask of the resource store.  Implemented by ``storage.pg.PgRepository``."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

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

    async def search_json(self, ctx: RequestContext, type_: str, params: list[tuple[str, str]]) -> list[JsonObj]:
        """Search and return the matching current resources as dicts (for use-cases; no paging)."""
        ...
