"""bench/server.cpu_seconds: the CPU of children a process has reaped counts for it (PostgreSQL's exited
backends and autovacuum workers, reaped by the postmaster), so a window's figure never goes negative."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.server import cpu_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_reaped_childs_cpu_counts_for_its_parent() -> None:
    me = os.getpid()
    with_children, alone = cpu_seconds([me], reaped=me), cpu_seconds([me])
    subprocess.run([sys.executable, "-c", BURN], check=True)  # runs ~0.3 s of CPU, exits, is waited for
    assert cpu_seconds([me], reaped=me) - with_children >= 0.25
    assert cpu_seconds([me]) - alone < 0.25
