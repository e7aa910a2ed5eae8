"""The web UI in a real browser: Debian's chromium driven by Playwright (no browser download).

A small study is materialised with the real CLI into a temporary DAGSTER_HOME, then
`dagster-webserver` serves it and the browser opens what a researcher would: the reliability
report (its alpha table and its forest plot, rendered) and a run that failed (its message). The
results explorer serves the same data: a persona with its prompt and raw reply, the failures of a
model behind the local OpenAI-compatible server, two models side by side; and the HTML report's
Table 1 caption.
Skips with a reason when no chromium is installed, except under CI=true, where it fails
(`.ci/run` installs Debian's chromium when it is missing).
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from personality_assets_tests.support.helpers import (
    MATERIALIZE,
    ROOT,
    new_dagster_home,
    run_command,
    serving,
    skip_unless_ci,
)
from personality_assets_tests.support.llm_servers import FakeOpenAIServer
from personality_assets_tests.support.study import leaves_out_item_7

ESSAY_TOPIC = "Should homework be banned?"
CHROMIUM = os.environ.get("PERSONALITY_ASSETS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _browser_or_skip() -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        skip_unless_ci(reason)


STUDY = "personas,experiment_registrations,questionnaire_answers,questionnaire_scores"
FAILING = "gpt4o"  # behind the local OpenAI-compatible server, leaving out item 7


def _study_command(partition: str, people: int, answers_config: dict | None = None) -> list[str]:
    config = {
        "execution": {"config": {"in_process": {}}},
        "ops": {
            "personas": {"config": {"max_people": people}},
            "questionnaire_answers": {"config": answers_config or {}},
        },
    }
    return [
        *MATERIALIZE[:-2],
        "--select",
        STUDY,
        "--partition",
        partition,
        "--config-json",
        json.dumps(config),
    ]


@pytest.fixture(scope="module")
def served_study(tmp_path_factory):
    """A study of 2 conditions x 20 people on the simulator (and simulated_alt on sample), a model
    whose replies leave out an item (its experiments fail with the reason), the reports, one
    failed run, and the webserver and the explorer over them."""
    _browser_or_skip()
    root = tmp_path_factory.mktemp("ui")
    env = new_dagster_home(root / "home", root / "data")
    cli = [sys.executable, "-m", "personality_assets.cli"]
    run_command([*MATERIALIZE, "--select", "questionnaires"], env)
    run_command([*cli, "populations", "add", "sample", "sample_maxN", "nowhere"], env)
    run_command([*cli, "models", "add", "simulated", "simulated_alt", FAILING], env)
    for population in ("sample", "sample_maxN"):
        run_command([*MATERIALIZE, "--select", "reference_questionnaires", "--partition", population], env)
        run_command(_study_command(f"simulated|{population}", 20), env)
    run_command(_study_command("simulated_alt|sample", 20), env)
    with FakeOpenAIServer(reply=leaves_out_item_7) as server:
        failing_env = {**env, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test-browser"}
        # Every experiment fails; max_failed_share 1 keeps the run green so the reports follow.
        run_command(_study_command(f"{FAILING}|sample", 2, {"max_failed_share": 1.0}), failing_env)
    run_command([*MATERIALIZE, "--select", "group:reports"], env)
    # The essay track: one topic, a balanced sample of 20 essays.
    run_command([*cli, "topics", "add", ESSAY_TOPIC], env)
    run_command([*MATERIALIZE, "--select", "essay_dimensions"], env)
    run_command(
        [
            *MATERIALIZE[:-2],
            "--select",
            "research_seeds,essay_personas,essays",
            "--partition",
            ESSAY_TOPIC,
            "--config-json",
            '{"execution": {"config": {"in_process": {}}}, "ops": {"essay_personas": {"config": {"essays": 20}}}}',
        ],
        env,
    )
    # A population that was never loaded: the run fails at once with the reason.
    failed = subprocess.run(
        [*MATERIALIZE, "--select", "personas", "--partition", "simulated|nowhere"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failed.returncode != 0
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        failed_runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert len(failed_runs) == 1
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-m", "personality_assets.definitions"]
    explorer = [sys.executable, "-m", "personality_assets.explorer"]
    with (
        serving(command, env, root / "webserver.log", timeout=90) as base,
        serving(explorer, env, root / "explorer.log", timeout=60, flags=("--host", "--port"), ready="/") as explorer,
    ):
        yield Served(base, failed_runs[0].dagster_run.run_id, explorer, root / "data")


@dataclass
class Served:
    base: str  # the Dagster webserver
    failed_run_id: str
    explorer: str
    data: Path


@pytest.fixture
def page(served_study):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(30_000)
        # The community sign-up the UI shows on a first visit can appear at any moment: whenever it
        # covers what a step is about to click, Playwright dismisses it first.
        page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
        yield page
        browser.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")


def _show_markdown(page, key: str):
    """Opens the metadata entry ``key``'s markdown (the UI shows it in a dialog) and returns the dialog."""
    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True)).first
    row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog


@pytest.mark.slow
def test_reliability_report_shows_the_alpha_table_and_a_rendered_plot(served_study, page):
    base = served_study.base
    _open(page, f"{base}/assets/reliability_report")
    page.get_by_text("missing_item_policy").wait_for()
    assert page.get_by_text("min_alpha", exact=True).count() == 1  # a headline number, not one per row

    # The table is inline: no click to read it.
    row = page.locator("tr").filter(has=page.get_by_text("table", exact=True)).first
    table = row.locator("table").first
    table.wait_for()
    headers = table.locator("th").all_inner_texts()
    assert headers[:6] == ["questionnaire", "scale", "model", "condition", "n", "alpha"] and "95% CI" in headers
    assert table.locator("tr", has_text="simulated").count() >= 9  # every scale of the simulated personas

    figure = _show_markdown(page, "alpha_forest")
    image = figure.locator("img").first
    image.wait_for()
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    # Decoded and laid out by the browser, not a broken-image icon.
    assert page.wait_for_function("img => img.complete && img.naturalWidth > 400", arg=image.element_handle())


@pytest.mark.slow
def test_a_failed_run_shows_the_clear_error(served_study, page):
    base, run_id = served_study.base, served_study.failed_run_id
    _open(page, f"{base}/runs/{run_id}")
    message = page.get_by_text("reference population 'nowhere' is not loaded").first
    message.wait_for()
    assert message.is_visible()


@pytest.mark.slow
def test_an_essay_topic_shows_its_tables_and_figures(served_study, page):
    base = served_study.base
    _open(page, f"{base}/assets/essays?view=events&partition={urllib.parse.quote(ESSAY_TOPIC)}")
    page.get_by_text("essays_per_stance", exact=True).wait_for()
    row = page.locator("tr").filter(has=page.get_by_text("essays_per_stance", exact=True)).first
    # Inline table metadata, read without a click.
    table = row.locator("table").first
    table.wait_for()
    assert table.locator("th").all_inner_texts()[:2] == ["stance", "essays"]
    cells = [cell.split() for cell in table.locator("tbody tr").all_inner_texts()]
    # The balanced sample of 20: 4 essays at each of the five stances, in the dimensions file's order.
    assert cells == [[stance, "4"] for stance in ("strongly_for", "for", "neutral", "against", "strongly_against")]
    figure = _show_markdown(page, "word_count_plot")
    image = figure.locator("img").first
    image.wait_for()
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert page.wait_for_function("img => img.complete && img.naturalWidth > 400", arg=image.element_handle())


@pytest.mark.slow
def test_the_explorer_opens_a_persona_with_its_prompt_and_raw_reply(served_study, page):
    _open(page, f"{served_study.explorer}/experiments?model=simulated&population=sample")
    page.locator("#experiments tbody tr").first.get_by_role("link").nth(1).click()  # its persona
    page.get_by_role("heading", name="Answers beside the reference person's").wait_for()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Persona ")
    first = page.locator("section.experiment").first  # its first experiment, folded on the persona page
    first.locator("summary", has_text="Prompt sent").click()
    prompt = first.locator("pre.message-user")
    assert prompt.is_visible() and "Answer every statement of this questionnaire" in prompt.inner_text()
    first.locator("summary", has_text="Raw reply").click()
    reply = first.locator("pre.reply")
    assert reply.is_visible() and '"answers"' in reply.inner_text()


@pytest.mark.slow
def test_the_explorer_filters_the_failures_with_their_reason(served_study, page):
    _open(page, f"{served_study.explorer}/experiments")
    page.locator("select[name=status]").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=failed**")
    rows = page.locator("#experiments tbody tr")
    # Every experiment of the failing model (2 personas x the questionnaires with item texts), and nothing else.
    failed = rows.count()
    assert failed >= 2 and set(rows.locator("td:nth-child(2)").all_inner_texts()) == {FAILING}
    assert page.locator("#match-count").inner_text() == f"{failed} experiments match."
    _open(page, f"{served_study.explorer}/experiments?model={FAILING}")
    assert page.locator("#match-count").inner_text() == f"{failed} experiments match."
    _open(page, f"{served_study.explorer}/experiments?status=failed")
    assert all("7" in reason for reason in rows.locator("td:last-child").all_inner_texts())
    _open(page, f"{served_study.explorer}/failures")
    # Each failed experiment's invalid reply (one call each), with what failed validation.
    calls = page.locator("#failed-calls tbody tr")
    assert calls.count() == failed and all(FAILING in row for row in calls.all_inner_texts())


@pytest.mark.slow
def test_the_explorer_shows_two_models_side_by_side(served_study, page):
    _open(page, f"{served_study.explorer}/compare")
    page.locator("select[name=qs]").select_option("bigfive|AGR")
    for side, model in (("a", "simulated"), ("b", "simulated_alt")):
        page.locator(f"select[name={side}_model]").select_option(model)
        page.locator(f"select[name={side}_population]").select_option("sample")
    page.get_by_role("button", name="Compare").click()
    summary = page.locator("#summary")
    summary.wait_for()
    labels = summary.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert labels == ["simulated · sample", "simulated_alt · sample"]
    assert summary.locator("td.n").all_inner_texts() == ["20", "20"]
    assert page.locator("svg.histogram").is_visible()


@pytest.mark.slow
def test_the_html_report_has_table_1_with_its_caption_and_fits_the_window(served_study, page):
    _open(page, (served_study.data / "reports" / "study_report.html").as_uri())
    caption = page.locator("#table-1")
    assert caption.is_visible() and caption.inner_text().startswith("Table 1.")
    assert "mean ± sd" in caption.inner_text() and "Holm" in caption.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
