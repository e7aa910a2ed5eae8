"""The web UI in a real browser: Debian's chromium driven by Playwright (no browser download).

A small study is materialised with the real CLI into a temporary DAGSTER_HOME, then
`dagster-webserver` serves it and the browser opens what a researcher would: the reliability
report (its alpha table and its forest plot, rendered) and a run that failed (its message).
Skips with a reason when no chromium is installed, except under CI=true, where it fails
(`.ci/run` installs Debian's chromium when it is missing).
"""

import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
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


@pytest.fixture(scope="module")
def served_study(tmp_path_factory):
    """A study of 2 conditions x 20 people on the simulator, its reports, one failed run, and the
    webserver over them. Yields (base URL, failed run id)."""
    _browser_or_skip()
    root = tmp_path_factory.mktemp("ui")
    env = new_dagster_home(root / "home", root / "data")
    cli = [sys.executable, "-m", "personality_assets.cli"]
    run_command([*MATERIALIZE, "--select", "questionnaires"], env)
    run_command([*cli, "populations", "add", "sample", "sample_maxN", "nowhere"], env)
    run_command([*cli, "models", "add", "simulated"], env)
    for population in ("sample", "sample_maxN"):
        run_command([*MATERIALIZE, "--select", "reference_questionnaires", "--partition", population], env)
        run_command(
            [
                *MATERIALIZE[:-2],
                "--select",
                "personas,experiment_registrations,questionnaire_answers,questionnaire_scores",
                "--partition",
                f"simulated|{population}",
                "--config-json",
                '{"execution": {"config": {"in_process": {}}}, "ops": {"personas": {"config": {"max_people": 20}}}}',
            ],
            env,
        )
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
    with serving(command, env, root / "webserver.log", timeout=90) as base:
        yield base, failed_runs[0].dagster_run.run_id


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
    base, _ = served_study
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
    base, run_id = served_study
    _open(page, f"{base}/runs/{run_id}")
    message = page.get_by_text("reference population 'nowhere' is not loaded").first
    message.wait_for()
    assert message.is_visible()


@pytest.mark.slow
def test_an_essay_topic_shows_its_tables_and_figures(served_study, page):
    base, _ = served_study
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
