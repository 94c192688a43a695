"""Run the HTTP server: uvicorn in one process, or N worker processes that each own a listening socket.

Why not ``uvicorn --workers N``: its workers share one listening socket, and the kernel hands a new
connection to whichever worker is blocked in ``accept()`` first.  Under load with keep-alive clients (a
reverse proxy's upstream pool, a load generator, a lab system's persistent connection) the busiest
worker keeps winning, and one process serves nearly every request while the others idle: measured here,
8 keep-alive clients on ``uvicorn --workers 2`` put 4.04 CPU s on one worker and 0.01 s on the other.
Each worker here binds its own socket with ``SO_REUSEPORT`` (Linux ≥ 3.9, the way nginx's ``reuseport``
and HAProxy do it), so the kernel spreads connections over the workers by a hash of the 4-tuple.  Only
processes of the same user can join such a port group (socket(7)), so another user cannot steal traffic.

The parent only supervises: it restarts a worker that dies, and on SIGINT/SIGTERM stops them all and
returns, so the caller can stop the embedded PostgreSQL afterwards.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

APP = "benhan.app:create_app"
BACKLOG = 2048


def _config(**extra: object) -> object:
    import uvicorn

    from benhan.server_http import CoalescingHttpToolsProtocol

    return uvicorn.Config(APP, factory=True, log_level="warning", access_log=False, lifespan="on", loop="uvloop",
                          http=CoalescingHttpToolsProtocol, backlog=BACKLOG, **extra)  # type: ignore[arg-type]


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    sock = _reuseport_socket(host, port)
    server = uvicorn.Server(_config())  # type: ignore[arg-type]
    server.run(sockets=[sock])


def _check_port(host: str, port: int) -> None:
    """Fail early, in the parent, when the port is taken by someone else (bind without listen)."""
    _reuseport_socket(host, port).close()


def run(host: str, port: int, workers: int) -> None:
    """Serve until SIGINT/SIGTERM.  The database URL reaches the workers through the environment."""
    if workers <= 1:
        import uvicorn

        uvicorn.Server(_config(host=host, port=port)).run()  # type: ignore[arg-type]
        return
    _check_port(host, port)
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    procs: list[BaseProcess] = []
    try:
        procs = [_start(ctx, host, port) for _ in range(workers)]
        started = [time.monotonic()] * workers
        while not stopping:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                # A crashed worker is replaced, as uvicorn's supervisor does; one that dies at start-up (the
                # database is down, say) is retried at most every 5 s rather than in a tight loop.
                if time.monotonic() - started[i] < 5.0:
                    continue
                procs[i], started[i] = _start(ctx, host, port), time.monotonic()
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests, runs lifespan shutdown
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(ctx: multiprocessing.context.SpawnContext, host: str, port: int) -> BaseProcess:
    proc = ctx.Process(target=_worker, args=(host, port), name="benhan-worker", daemon=False)
    proc.start()
    return proc
