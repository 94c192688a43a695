"""`benhan serve --workers N`: one SO_REUSEPORT socket per worker, connections spread, crashed workers
replaced, SIGINT stops everything (benhan.server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENHAN = str(ROOT / ".venv" / "bin" / "benhan")
LISTEN, ESTABLISHED = "0A", "01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sockets_by_pid(port: int, state: str) -> dict[int, int]:
    """How many TCP sockets in ``state`` on local ``port`` each process holds (from /proc, Linux)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    owners: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        count = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
        if count:
            owners[int(entry.name)] = count
    return owners


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def server(database_url: str) -> subprocess.Popen[bytes]:
    port = free_port()
    env = {**os.environ, "BENHAN_MODE": "test", "DATABASE_URL": database_url, "BENHAN_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([BENHAN, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.port = port  # type: ignore[attr-defined]
    try:
        wait_for(lambda: len(sockets_by_pid(port, LISTEN)) == 2, timeout=60)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in sockets_by_pid(port, LISTEN):
            os.kill(pid, signal.SIGKILL)


def test_each_worker_listens_and_connections_spread(server: subprocess.Popen[bytes]) -> None:
    port: int = server.port  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: ready(url))
    workers = sockets_by_pid(port, LISTEN)
    assert len(workers) == 2, workers
    assert all(n == 1 for n in workers.values()), workers
    assert server.pid not in workers  # the supervisor only supervises
    # 24 keep-alive clients: with one shared accept queue the busiest worker takes them all; with one socket
    # per worker the kernel hashes them over both (all on one worker: probability 2 × 2^-24).
    clients = [httpx.Client(base_url=url, timeout=5.0) for _ in range(24)]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        held = sockets_by_pid(port, ESTABLISHED)
        serving = {pid: n for pid, n in held.items() if pid in workers}
        assert len(serving) == 2, serving
        assert sum(serving.values()) == 24, serving
    finally:
        for client in clients:
            client.close()


def test_a_crashed_worker_is_replaced_and_sigint_stops_all(server: subprocess.Popen[bytes]) -> None:
    port: int = server.port  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    victim = next(iter(sockets_by_pid(port, LISTEN)))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(sockets_by_pid(port, LISTEN)) == 2 and victim not in sockets_by_pid(port, LISTEN))
    wait_for(lambda: ready(url))
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=40) == 0, server.stderr.read() if server.stderr else ""
    assert sockets_by_pid(port, LISTEN) == {}
