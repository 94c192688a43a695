"""The embedded PostgreSQL's settings for the machine it runs on.

initdb's defaults suit a small shared machine: 128 MB of ``shared_buffers`` and a checkpoint every 1 GB of
WAL. A province's records are millions of resources whose indexes do not fit in 128 MB: every write then
evicts (and often first writes out) a buffer and reads its page back from the kernel's cache, and a busy
hour checkpoints every few minutes, each checkpoint making the next change of every page log a full page
image. benhan runs the database next to itself on one machine, so it takes the rules of pgtune and the
PostgreSQL manual (runtime-config-resource.html: "a reasonable starting value for shared_buffers is 25% of
the memory"; runtime-config-wal.html ``max_wal_size``) at half that share, leaving the rest to the
application and the kernel's cache:

- ``shared_buffers`` = 1/8 of the memory, between 128 MB and 2 GB;
- ``effective_cache_size`` = 1/2 of the memory (a planner hint: what the kernel caches too);
- ``max_wal_size`` = 4 GB, ``min_wal_size`` = 256 MB (checkpoints by time, not by WAL volume).

They are written once with ``ALTER SYSTEM`` (``postgresql.auto.conf``), each only if that file does not
set it yet: an operator's own ``ALTER SYSTEM`` wins and is never overwritten (docs/admin.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["alter_system", "embedded_settings", "machine_memory", "missing"]

_MB = 1 << 20
_LINE = re.compile(r"^\s*([a-z_]+)\s*=", re.MULTILINE)


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its control group's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = Path("/sys/fs/cgroup/memory.max")  # cgroup v2 (containers)
    try:
        text = limit.read_text().strip()
    except OSError:
        return total
    return min(total, int(text)) if text.isdigit() else total


def embedded_settings(memory: int) -> dict[str, str]:
    mb = memory // _MB
    return {
        "shared_buffers": f"{min(max(mb // 8, 128), 2048)}MB",
        "effective_cache_size": f"{max(mb // 2, 512)}MB",
        "max_wal_size": "4GB",
        "min_wal_size": "256MB",
    }


def missing(pgdata: Path, wanted: dict[str, str]) -> dict[str, str]:
    """The settings of ``wanted`` that ``postgresql.auto.conf`` in ``pgdata`` does not set."""
    try:
        present = set(_LINE.findall((pgdata / "postgresql.auto.conf").read_text()))
    except OSError:
        present = set()
    return {k: v for k, v in wanted.items() if k not in present}


def alter_system(settings: dict[str, str]) -> str:
    """``ALTER SYSTEM`` statements for ``settings`` (names and values from :func:`embedded_settings` only)."""
    return "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in settings.items())
