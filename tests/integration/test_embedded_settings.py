"""A new embedded server starts with the machine's settings (kernel/pg_settings.py), and an operator's own
``ALTER SYSTEM`` survives benhan's next start."""

from __future__ import annotations

from pathlib import Path

from benhan.kernel import pg_settings
from benhan.kernel.db import start_embedded


def _show(server: object, name: str) -> str:
    out: str = server.psql(f"\\pset tuples_only on\n\\pset format unaligned\nSHOW {name};\n")  # type: ignore[attr-defined]
    return out.strip().splitlines()[-1]


def test_embedded_server_is_configured_once_and_keeps_an_operators_choice(tmp_path: Path) -> None:
    wanted = pg_settings.embedded_settings(pg_settings.machine_memory())
    embedded = start_embedded(tmp_path)
    try:
        mb = int(wanted["shared_buffers"].removesuffix("MB"))
        assert _show(embedded.server, "shared_buffers") == (f"{mb // 1024}GB" if mb % 1024 == 0 else f"{mb}MB")
        assert _show(embedded.server, "max_wal_size") == "4GB"
        embedded.server.psql("ALTER SYSTEM SET shared_buffers = '160MB';")
    finally:
        embedded.stop()
    embedded = start_embedded(tmp_path)
    try:
        assert _show(embedded.server, "shared_buffers") == "160MB"
    finally:
        embedded.stop()
