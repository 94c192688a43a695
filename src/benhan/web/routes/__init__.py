"""Web routes by area; ``web_routes()`` is what ``create_app`` mounts. To add a screen: a module here with a
``routes()`` list, its templates under ``templates/pages`` (and ``partials`` for HTMX swaps), then add it below."""

from __future__ import annotations

from starlette.routing import BaseRoute

from benhan.web.routes import adt, board, chart, common, emar, orders, papers, reception, summary


def web_routes() -> list[BaseRoute]:
    return [
        *common.routes(), *reception.routes(), *adt.routes(), *chart.routes(), *board.routes(),
        *orders.routes(), *summary.routes(), *emar.routes(), *papers.routes(),
    ]
