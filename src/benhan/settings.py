"""One settings object, from environment variables (prefix ``BENHAN_``, plus ``DATABASE_URL``) and an
optional ``.env``-style file named by ``BENHAN_SETTINGS_FILE``.  Outside demo mode it refuses default secrets."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "benhan-demo-secret-change-me"  # noqa: S105 - a known default that is refused outside demo
#: the demo key of the pseudonyms in de-identified exports; refused in production like DEFAULT_SECRET
DEFAULT_PSEUDONYM_KEY = "benhan-demo-pseudonym-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BENHAN_", env_file=os.environ.get("BENHAN_SETTINGS_FILE"), extra="ignore"
    )

    mode: Literal["demo", "production", "test"] = "production"
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("./var")
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    base_url: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    db_pool_min: int = 2
    db_pool_max: int = 10
    log_format: Literal["json", "console"] | None = None
    log_level: str = "INFO"
    require_if_match: bool = False
    #: a province's overrides of the default access policy (docs/security.md)
    access_policy_file: Path | None = None
    #: read/search audit (docs/security.md): "wait" (each response waits for the group commit of its audit
    #: record, flushed to disk: nothing is lost even if the process or the database's host dies — issue 4:
    #: "audit of reads must never be lost"); "commit" (each response waits for the commit, not for its WAL
    #: flush: a crash of benhan loses nothing, a crash of the database's host the last ≤ 3 × wal_writer_delay);
    #: "batch" (queued, flushed every 100 ms and on shutdown: a crash of benhan loses the last 100 ms of reads)
    audit_reads: Literal["batch", "commit", "wait"] = "wait"
    #: False only to measure the audit's cost (bench/, issue 8): reads and searches are then not audited
    #: (writes always are).  Refused in production mode.
    audit_enabled: bool = True
    #: after start-up, load the terminology and templates and freeze the heap (``gc.freeze``) so the garbage
    #: collector's full sweeps skip them: removes 100-300 ms pauses from the screens' tail (kernel/heap.py)
    freeze_heap: bool = True
    #: HMAC key of the pseudonymous patient ids in de-identified bulk exports (DoH officers, council members;
    #: docs/security.md).  Keep it stable: the same patient gets the same pseudonym in every export while
    #: it is unchanged; changing it unlinks new exports from old ones.  Refused at its default in production.
    pseudonym_key: str = DEFAULT_PSEUDONYM_KEY
    #: seconds one search statement may run (``statement_timeout`` of searches, $everything, conditional
    #: matches); a longer one is cancelled in PostgreSQL and answered 503 BH-5003 — so an abandoned count over
    #: millions of rows cannot hold a core for minutes.  0: no limit.
    search_timeout: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.mode == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "BENHAN_SECRET_KEY must be set to a random value outside demo mode "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.mode == "production" and len(self.secret_key) < 32:
            raise ValueError("BENHAN_SECRET_KEY must be at least 32 characters")
        if self.mode == "production" and (self.pseudonym_key == DEFAULT_PSEUDONYM_KEY or len(self.pseudonym_key) < 32):
            raise ValueError(
                "BENHAN_PSEUDONYM_KEY must be set to a random value of at least 32 characters outside demo mode "
                "(it keys the pseudonyms of de-identified exports; keep it secret and stable)"
            )
        if self.mode == "production" and not self.audit_enabled:
            raise ValueError("BENHAN_AUDIT_ENABLED=false is for benchmarks only; it is refused in production")
        return self

    @property
    def effective_log_format(self) -> str:
        if self.log_format:
            return self.log_format
        return "json" if self.mode == "production" else "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
