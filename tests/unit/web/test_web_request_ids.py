"""Request ids (web.auth): the client's X-Request-Id if it sends one, else a new random one, 32 hex digits
like ``uuid4().hex``."""

from __future__ import annotations

import re

from benhan.web.auth import who_of


def test_a_request_without_an_id_gets_a_new_one_each_time() -> None:
    ids = [who_of({}, ("10.0.0.1", 5000)).request_id for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i is not None and re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_the_clients_id_is_kept() -> None:
    ctx = who_of({"x-request-id": "abc-123", "user-agent": "curl"}, None)
    assert (ctx.request_id, ctx.user_agent, ctx.remote_addr) == ("abc-123", "curl", None)
