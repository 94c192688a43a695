"""``benhan user|client|facility|department`` call the same use-cases as the administration screens
(``benhan.admin``): the resources they write are versioned and audited, and bad input is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
from tests.integration.access_support import audit_rows, login
from typer.testing import CliRunner


def _cli(database_url: str, *args: str, stdin: str | None = None) -> Any:
    from benhan.cli import app
    from benhan.settings import get_settings

    get_settings.cache_clear()
    env = {"DATABASE_URL": database_url, "BENHAN_MODE": "test"}
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


async def _run(database_url: str, *args: str, stdin: str | None = None) -> Any:
    result = await asyncio.to_thread(_cli, database_url, *args, stdin=stdin)
    return result


async def test_cli_builds_the_tree_and_manages_users_and_clients(
    app: Any, anon_client: httpx.AsyncClient, db: asyncpg.Pool, database_url: str
) -> None:
    province = (await _run(database_url, "facility", "add", "Sở Y tế Thử", "--is-province")).output.strip()
    made = await _run(database_url, "facility", "add", "Bệnh viện Thử", "--code", "02003", "--province", province)
    assert made.exit_code == 0, made.output
    facility = made.output.strip()
    bad_code = await _run(database_url, "facility", "add", "Trạm", "--code", "12")
    assert bad_code.exit_code != 0
    assert "5 digits" in bad_code.output
    dept = (await _run(database_url, "department", "add", "Khoa Thử", "--facility", facility)).output.strip()
    added = await _run(database_url, "user", "add", "bs.thu", "--name", "Bác Sĩ Thử", "--role",
                       f"doctor@{facility}/{dept}", "--password-stdin", stdin="mat-khau-cli-12345\n")
    assert added.exit_code == 0, added.output
    elsewhere = await _run(database_url, "user", "add", "bs.lac", "--name", "Lạc", "--role",
                           f"doctor@{facility}/{province}", "--password-stdin", stdin="mat-khau-cli-12345\n")
    assert elsewhere.exit_code != 0
    assert "department" in elsewhere.output
    listed = await _run(database_url, "user", "list", "thu")
    assert f"doctor@{facility}/{dept}" in listed.output
    assert (await login(anon_client, "bs.thu", password="mat-khau-cli-12345")).status_code == 200
    assert (await _run(database_url, "user", "disable", "bs.thu")).exit_code == 0
    assert (await login(anon_client, "bs.thu", password="mat-khau-cli-12345")).status_code == 401
    assert (await _run(database_url, "user", "disable", "bs.thu", "--enable")).exit_code == 0
    assert (await _run(database_url, "user", "grant", "bs.thu", f"doctor@{facility}/{dept}", "--revoke")).exit_code == 0
    assert "doctor@" not in (await _run(database_url, "user", "list", "thu")).output
    client = await _run(database_url, "client", "add", "lis-thu", "--name", "LIS", "--facility", facility)
    assert "client secret (shown once)" in client.output
    rotated = await _run(database_url, "client", "rotate", "lis-thu")
    assert rotated.output.split(": ")[-1].strip() not in client.output
    assert (await _run(database_url, "client", "disable", "lis-thu")).exit_code == 0
    changes = [r["content"] for r in await audit_rows(db, action="admin")]
    assert len(changes) >= 6
    assert any(b"disable user bs.thu" in c for c in changes)
