from __future__ import annotations

import dataclasses

from benhan.kernel.context import RequestContext

REQUEST_FIELDS = {"remote_addr", "user_agent", "request_id"}


def test_with_request_replaces_the_request_details_and_keeps_every_other_field() -> None:
    # with_request names each field (it is on every API request; dataclasses.replace costs twice as much):
    # a field added to RequestContext and not carried over there fails here.
    values: dict[str, object] = {}
    for f in dataclasses.fields(RequestContext):
        if f.name in REQUEST_FIELDS:
            continue
        if f.type == "bool":
            values[f.name] = True
        elif "frozenset" in str(f.type):
            values[f.name] = frozenset({f"{f.name}-1"})
        elif "dict" in str(f.type):
            values[f.name] = {"k": f.name}
        else:
            values[f.name] = f"{f.name}-value"
    ctx = RequestContext(**values)  # type: ignore[arg-type]
    copy = ctx.with_request(remote_addr="10.0.0.1", user_agent="ua", request_id="rq")
    assert (copy.remote_addr, copy.user_agent, copy.request_id) == ("10.0.0.1", "ua", "rq")
    assert dataclasses.replace(copy, remote_addr=None, user_agent=None, request_id=None) == ctx
