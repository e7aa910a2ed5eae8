"""Redraws the screenshots in docs/img: the reliability report's alpha table in the Dagster UI, the
results explorer's persona page and side-by-side view, and the HTML report's first table.

Run after `make run`, with `make ui` serving (the Dagster UI on http://127.0.0.1:3000, the explorer
on http://127.0.0.1:3001) and Debian's chromium:

    .venv/bin/python docs/screenshot.py [DAGSTER_URL] [EXPLORER_URL]
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DAGSTER = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000"
EXPLORER = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:3001"
IMAGES = Path(__file__).parent / "img"
REPORT = Path("data/reports/study_report.html").resolve()

with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())

    page.goto(f"{DAGSTER}/assets/reliability_report", wait_until="networkidle")
    page.get_by_text("missing_item_policy").wait_for()
    row = page.locator("tr").filter(has=page.get_by_text("alpha_forest", exact=True)).first
    row.get_by_text("[Show Markdown]").click()
    page.get_by_role("dialog").locator("img").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(IMAGES / "ui-reliability-report.png"))

    # A persona with its first experiment's prompt and raw reply unfolded.
    page.goto(f"{EXPLORER}/experiments?model=simulated&population=sample", wait_until="networkidle")
    persona = page.locator("#experiments tbody tr").first.get_by_role("link").nth(1).get_attribute("href")
    page.goto(f"{EXPLORER}{persona}", wait_until="networkidle")
    first = page.locator("section.experiment").first
    first.locator("summary", has_text="Prompt sent").click()
    first.locator("summary", has_text="Raw reply").click()
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / "explorer-persona.png"))

    page.goto(
        f"{EXPLORER}/compare?qs=bigfive%7CAGR&a_model=simulated&a_population=sample"
        "&b_model=simulated_acquiescent&b_population=sample",
        wait_until="networkidle",
    )
    page.screenshot(path=str(IMAGES / "explorer-side-by-side.png"))

    page.goto(REPORT.as_uri(), wait_until="networkidle")
    page.locator("#table-1").scroll_into_view_if_needed()
    page.screenshot(path=str(IMAGES / "report-table-1.png"))
    browser.close()
print(*sorted(IMAGES.glob("*.png")), sep="\n")
