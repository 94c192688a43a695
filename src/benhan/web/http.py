"""Route construction for the web app: every page handler is wrapped so a repository error (not found,
forbidden, conflict) becomes a page with the message, never a stack trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benhan.kernel.errors import BenhanError
from benhan.web.templating import render

Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except BenhanError as exc:
            return render(
                request, "pages/error.html", {"status": exc.status, "code": exc.error.code}, status=exc.status
            )

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def route(path: str, handler: Handler, methods: list[str] | None = None) -> Route:
    return Route(path, guarded(handler), methods=methods)
