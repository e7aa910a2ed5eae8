"""The explorer's web app: server-rendered pages (Starlette + Jinja2, the stack Dagster's own
webserver runs on, so nothing new to install) over ``queries.py``. Read-only: every request runs in
a transaction that is rolled back."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from personality_assets import settings
from personality_assets.db.engine import DatabaseTarget
from personality_assets.explorer import essays, queries, values

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def default_target() -> DatabaseTarget:
    return DatabaseTarget(settings.database_url(), settings.reference_schema(), settings.experiment_schema())


def read(request: Request):
    """A read-only connection to the research database for this request."""
    return queries.read_only(request.app.state.target)


def page_number(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def link(path: str, **query) -> str:
    """A URL of this app with the non-empty query parameters."""
    query = {k: v for k, v in query.items() if v not in ("", None)}
    return f"{path}?{urlencode(query)}" if query else path


def index(request: Request):
    with read(request) as connection:
        studies = queries.studies(connection)
    return TEMPLATES.TemplateResponse(request, "index.html", {"studies": studies, "link": link})


def experiments(request: Request):
    selected = queries.ExperimentFilter.from_query(request.query_params)
    page = page_number(request)
    with read(request) as connection:
        rows, total = queries.experiments_page(connection, selected, page)
        choices = queries.filter_choices(connection)
    pages = max(1, math.ceil(total / queries.PAGE_SIZE))
    return TEMPLATES.TemplateResponse(
        request,
        "experiments.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "selected": selected,
            "choices": choices,
            "link": link,
        },
    )


def create_app(target: DatabaseTarget | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", index, name="index"),
            Route("/experiments", experiments, name="experiments"),
            *values.ROUTES,
            *essays.ROUTES,
        ]
    )
    app.state.target = target or default_target()
    return app
