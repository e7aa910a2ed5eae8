"""What every page of the explorer shares (app.py's, values.py's, essays.py's): the templates
(base.html included) and the helpers for links and page numbers. Kept apart from app.py, which
imports the pages' routes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def page_number(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def link(path: str, **query) -> str:
    """A URL of this app with the non-empty query parameters."""
    query = {k: v for k, v in query.items() if v not in ("", None)}
    return f"{path}?{urlencode(query)}" if query else path


def render(request: Request, template: str, context: dict, status_code: int = 200):
    return TEMPLATES.TemplateResponse(request, template, {"link": link, **context}, status_code=status_code)
