"""Redraws docs/img/ui-reliability-report.png: the reliability report's alpha table in the web UI.

Run after `make run`, with `make ui` serving on http://127.0.0.1:3000 and Debian's chromium:

    .venv/bin/python docs/screenshot.py
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000"
OUT = Path(__file__).parent / "img" / "ui-reliability-report.png"

with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    page.goto(f"{BASE}/assets/reliability_report", wait_until="networkidle")
    page.get_by_text("missing_item_policy").wait_for()
    row = page.locator("tr").filter(has=page.get_by_text("alpha_forest", exact=True)).first
    row.get_by_text("[Show Markdown]").click()
    page.get_by_role("dialog").locator("img").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT))
    browser.close()
print(OUT)
