"""Start and stop benhan for a measurement: uvicorn (``benhan serve``) or granian, with N worker processes.

The server runs in its own session (process group) so that stopping it stops its workers too, and only
them.  Both servers get the same app factory (``benhan.app:create_app``) and the same environment.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def granian_available() -> bool:
    return (BIN / "granian").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerConfig:
    kind: str  # "uvicorn" | "granian"
    workers: int
    env: dict[str, str] = field(default_factory=dict)  # extra BENHAN_* settings (e.g. the audit switch)

    @property
    def label(self) -> str:
        return f"{self.kind}×{self.workers}"


class BenhanServer:
    """A running benhan; use as a context manager."""

    def __init__(self, config: ServerConfig, database_url: str) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "var" / "bench" / f"server-{config.kind}-{config.workers}.log"

    def _command(self) -> list[str]:
        c = self.config
        if c.kind == "granian":
            return [str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
                    "--port", str(self.port), "--workers", str(c.workers), "--loop", "uvloop", "--http", "1",
                    "--no-ws", "--log-level", "warning", "--backlog", "2048", "benhan.app:create_app"]
        # `benhan serve` as an operator runs it (one SO_REUSEPORT socket per worker, benhan.server), without
        # its migration step: the bench migrated once, and a server is started up to nine times per run.
        return [str(BIN / "benhan"), "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(c.workers)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.database_url, "BENHAN_MODE": "production",
            "BENHAN_SECRET_KEY": secrets.token_urlsafe(48), "BENHAN_PSEUDONYM_KEY": secrets.token_urlsafe(48),
            "BENHAN_LOG_LEVEL": "WARNING",
            "BENHAN_DATA_DIR": str(ROOT / "var" / "bench"),
        })
        env.update(self.config.env)
        return env

    def start(self, timeout: float = 60.0) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self._command(), env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.config.label} exited ({self.proc.returncode}); see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    self._wait_all_workers()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.config.label} did not become ready in {timeout:.0f}s; see {self.log}")

    def _wait_all_workers(self) -> None:
        # Workers bind one by one; give the last ones time to open their pools before measuring.
        time.sleep(0.5 + 0.4 * self.config.workers)

    def pids(self) -> list[int]:
        """The server's processes (master and workers), for CPU accounting and profiling."""
        if self.proc is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--sid", str(self.proc.pid)], capture_output=True, text=True,
                             check=False).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the master and its workers only
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> BenhanServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cpu_seconds(pids: list[int], reaped: int | None = None) -> float:
    """User + system CPU seconds consumed so far by the given processes (Linux /proc, proc(5) fields 14-17),
    plus, for ``reaped``, the CPU of its exited children it has waited for (cutime + cstime). PostgreSQL's
    backends and autovacuum workers come and go and the postmaster reaps them: without this, a backend that
    exited inside a window took its CPU out of the sum (negative PostgreSQL figures, its work counted as
    'other')."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == reaped:
            total += int(fields[13]) + int(fields[14])
    return total / tick
