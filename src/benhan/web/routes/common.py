"""Home, language switch and the vendor assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from benhan.web.assets import STATIC_DIR, vendor_file
from benhan.web.i18n import LANGUAGES


async def home(request: Request) -> Response:
    return RedirectResponse("/reception", status_code=303)


async def set_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # no open redirect
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


async def vendor(request: Request) -> Response:
    path = vendor_file(request.path_params["name"])
    if path is None:
        return Response("not found", status_code=404)
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/lang/{lang}", set_language),
        Route("/static/vendor/{name}", vendor),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
