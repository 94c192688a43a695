"""Bulk export jobs and their NDJSON files in PostgreSQL (``bulk_export_job``, ``bulk_export_file``; migration
0006), so that any server process answers the status and file requests of a job another one runs.

A job belongs to who kicked it off (``owner``): every query names the owner, so another user's job id reads
as unknown.  The process running a job records a heartbeat after each page; a ``running`` job whose
heartbeat is older than ``stale_after`` belonged to a process that died (killed, restarted) and is failed
on the next status request with an error saying so — the client starts a new export.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import orjson

from benhan.fhir.storage.export_types import ExportFile, ExportJob, JsonObj

DIED = "the server process running this export stopped before it finished; start a new export"


class PgExportJobs:
    """Implements :class:`benhan.fhir.storage.export_types.ExportJobs`."""

    def __init__(self, pool: asyncpg.Pool, stale_after: timedelta = timedelta(minutes=2)) -> None:
        self.pool = pool
        self.stale_after = stale_after

    async def create(self, job_id: str, owner: str, request: str, params: JsonObj, transaction_time: datetime,
                     deidentified: bool) -> None:
        await self.pool.execute(
            "INSERT INTO bulk_export_job (id, owner, state, request, params, transaction_time, deidentified,"
            " heartbeat) VALUES ($1, $2, 'running', $3, $4::jsonb, $5, $6, now())",
            job_id, owner, request, orjson.dumps(params).decode(), transaction_time, deidentified,
        )

    async def get(self, job_id: str, owner: str) -> ExportJob | None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE bulk_export_job SET state = 'failed', error = $3, finished = now() WHERE id = $1"
                " AND owner = $2 AND state = 'running' AND heartbeat < now() - $4::interval",
                job_id, owner, DIED, self.stale_after,
            )
            row = await conn.fetchrow(
                "SELECT id, state, request, transaction_time, deidentified, progress, error FROM bulk_export_job"
                " WHERE id = $1 AND owner = $2", job_id, owner,
            )
            if row is None:
                return None
            files = await conn.fetch(
                "SELECT name, type, count FROM bulk_export_file WHERE job_id = $1 ORDER BY name", job_id)
        return ExportJob(
            id=row["id"], state=row["state"], request=row["request"], transaction_time=row["transaction_time"],
            deidentified=row["deidentified"], progress=row["progress"], error=row["error"],
            files=tuple(ExportFile(f["name"], f["type"], f["count"]) for f in files),
        )

    async def beat(self, job_id: str, progress: str) -> bool:
        done = await self.pool.execute(
            "UPDATE bulk_export_job SET heartbeat = now(), progress = $2 WHERE id = $1 AND state = 'running'",
            job_id, progress,
        )
        return bool(done != "UPDATE 0")

    async def add_file(self, job_id: str, name: str, type_: str, count: int, content: bytes) -> bool:
        try:
            done = await self.pool.execute(
                "INSERT INTO bulk_export_file (job_id, name, type, count, content)"
                " SELECT id, $2, $3, $4, $5 FROM bulk_export_job WHERE id = $1 AND state = 'running'",
                job_id, name, type_, count, content,
            )
        except asyncpg.ForeignKeyViolationError:  # cancelled (deleted) while this file was being written
            return False
        return bool(done != "INSERT 0 0")

    async def finish(self, job_id: str, error: str | None) -> None:
        await self.pool.execute(
            "UPDATE bulk_export_job SET state = $2, error = $3, finished = now(), progress = NULL"
            " WHERE id = $1 AND state = 'running'", job_id, "failed" if error else "completed", error,
        )

    async def delete(self, job_id: str, owner: str) -> bool:
        done = await self.pool.execute("DELETE FROM bulk_export_job WHERE id = $1 AND owner = $2", job_id, owner)
        return bool(done != "DELETE 0")

    async def file(self, job_id: str, owner: str, name: str) -> bytes | None:
        content = await self.pool.fetchval(
            "SELECT f.content FROM bulk_export_file f JOIN bulk_export_job j ON j.id = f.job_id"
            " WHERE f.job_id = $1 AND j.owner = $2 AND f.name = $3 AND j.state = 'completed'",
            job_id, owner, name,
        )
        return bytes(content) if content is not None else None
