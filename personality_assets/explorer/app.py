"""The explorer's web app: server-rendered pages (Starlette + Jinja2, the stack Dagster's own
webserver runs on, so nothing new to install) over ``queries.py``. Read-only: every request runs in
a transaction that is rolled back."""

from __future__ import annotations

import math

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from personality_assets import settings
from personality_assets.db.engine import DatabaseTarget
from personality_assets.explorer import essays, queries, study, values
from personality_assets.explorer.web import page_number, render


def default_target() -> DatabaseTarget:
    return DatabaseTarget(settings.database_url(), settings.reference_schema(), settings.experiment_schema())


def read(request: Request):
    """A read-only connection to the research database for this request."""
    return queries.read_only(request.app.state.target)


def index(request: Request):
    with read(request) as connection:
        studies = queries.studies(connection)
    return render(request, "index.html", {"studies": studies})


def experiments(request: Request):
    selected = queries.ExperimentFilter.from_query(request.query_params)
    page = page_number(request)
    with read(request) as connection:
        rows, total = queries.experiments_page(connection, selected, page)
        choices = queries.filter_choices(connection)
    return render(
        request,
        "experiments.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages_of(total),
            "selected": selected,
            "choices": choices,
        },
    )


def pages_of(total: int) -> int:
    return max(1, math.ceil(total / queries.PAGE_SIZE))


def persona_page(request: Request):
    persona_id = request.path_params["persona_id"]
    with read(request) as connection:
        found = study.persona_page(connection, persona_id)
    if found is None:
        raise HTTPException(404, f"no persona {persona_id}")
    return render(request, "persona.html", {**found, "persona_fields": study.PERSONA_FIELDS})


def experiment_page(request: Request):
    experiment_id = request.path_params["experiment_id"]
    with read(request) as connection:
        found = study.experiment_page(connection, experiment_id)
    if found is None:
        raise HTTPException(404, f"no experiment {experiment_id}")
    return render(request, "experiment.html", found)


def personas(request: Request):
    params = request.query_params
    text, model, population = (params.get(k, "").strip() for k in ("q", "model", "population"))
    page = page_number(request)
    with read(request) as connection:
        rows, total = study.search_personas(connection, text, model, population, page)
        choices = queries.filter_choices(connection)
    return render(
        request,
        "personas.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages_of(total),
            "selected": {"q": text, "model": model, "population": population},
            "choices": choices,
        },
    )


def failures(request: Request):
    model = request.query_params.get("model", "").strip()
    page = page_number(request)
    with read(request) as connection:
        reasons = study.failure_reasons(connection)
        calls, total = study.failed_calls(connection, model, page)
        choices = queries.filter_choices(connection)
    return render(
        request,
        "failures.html",
        {
            "reasons": reasons,
            "calls": calls,
            "total": total,
            "page": page,
            "pages": pages_of(total),
            "model": model,
            "choices": choices,
        },
    )


SIDE_COLOURS = {
    "A": "#2457b3",
    "B": "#d9822b",
    "reference": "#8a8f98",
    "reference A": "#9bb3de",
    "reference B": "#efc08f",
}


def compare(request: Request):
    params = request.query_params
    questionnaire, scale = params.get("questionnaire", "").strip(), params.get("scale", "").strip()
    if "|" in params.get("qs", ""):  # the form's one select: questionnaire|scale
        questionnaire, scale = (part.strip() for part in params["qs"].split("|", 1))
    a, b = study.Side.from_query(params, "a"), study.Side.from_query(params, "b")
    page = page_number(request)
    context = {
        "questionnaire": questionnaire,
        "scale": scale,
        "a": a,
        "b": b,
        "page": page,
        "colours": SIDE_COLOURS,
        "query": {"questionnaire": questionnaire, "scale": scale, **a.as_query("a"), **b.as_query("b")},
    }
    with read(request) as connection:
        choices = queries.filter_choices(connection)
        context["choices"] = choices
        context["questionnaires"] = study.compare_choices(choices["questionnaire"])
        # A set is within one population: its people are that population's (a derived condition
        # keeps its people's ids, so rows pair a person across conditions).
        context["needs_population"] = bool(questionnaire) and not (a.population and b.population)
        if questionnaire and scale and a.population and b.population:
            summaries = {
                "A": study.side_summary(connection, a, questionnaire, scale),
                "B": study.side_summary(connection, b, questionnaire, scale),
            }
            rows, total = study.comparison_page(connection, questionnaire, scale, a, b, page)
            counts_a = study.score_counts(connection, a, questionnaire, scale)
            counts_b = study.score_counts(connection, b, questionnaire, scale)
            series = {"A": counts_a["scores"], "B": counts_b["scores"]}
            if a.population == b.population:  # the same people: one reference
                series["reference"] = counts_a["reference"]
            else:
                series |= {"reference A": counts_a["reference"], "reference B": counts_b["reference"]}
            bins = study.histogram(series)
            context |= {
                "summaries": summaries,
                "rows": rows,
                "total": total,
                "pages": pages_of(total),
                "svg": study.histogram_svg(bins, SIDE_COLOURS),
                "series": list(series),
                "scale_title": study.scale_title(questionnaire, scale),
                "questionnaire_title": study.questionnaire_title(questionnaire),
            }
    return render(request, "compare.html", context)


def create_app(target: DatabaseTarget | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", index, name="index"),
            Route("/experiments", experiments, name="experiments"),
            Route("/experiments/{experiment_id:int}", experiment_page, name="experiment"),
            Route("/personas", personas, name="personas"),
            Route("/personas/{persona_id:int}", persona_page, name="persona"),
            Route("/failures", failures, name="failures"),
            Route("/compare", compare, name="compare"),
            *values.ROUTES,
            *essays.ROUTES,
        ]
    )
    app.state.target = target or default_target()
    return app
