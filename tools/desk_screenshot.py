"""The TA desk's picture for the docs: a copy of a graded class served by `python -m grader desk`, a rubric item
or two made and one applied, as a TA would, then photographed by headless Chromium (Playwright).

    python tools/desk_screenshot.py grades docs/screenshots/desk.png
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a class folder graded into (left unchanged: a copy is served)")
    parser.add_argument("picture", type=Path)
    args = parser.parse_args()
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        sys.exit("no Chromium here: install Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="grader-desk-") as scratch:
        copy = Path(scratch) / "class"
        shutil.copytree(args.folder, copy)
        server = subprocess.Popen(
            [sys.executable, "-m", "grader", "desk", str(copy), "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        try:
            url = server.stdout.readline().strip()
            with sync_playwright() as driver:
                chromium = driver.chromium.launch(executable_path=browser, args=["--no-sandbox"])
                page = chromium.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                page.fill("#ta-name", "Grace")
                items = (("1", "says what validation data is for"), ("1", "says the test set is used once"))
                for count, (points, comment) in enumerate(items, start=1):
                    page.fill("#new-points", points)
                    page.fill("#new-comment", comment)
                    page.locator("#new-comment").press("Enter")
                    expect(page.locator("#items li")).to_have_count(count)
                page.locator("#answer").focus()
                page.keyboard.press("1")
                expect(page.locator("#status")).to_contain_text("Saved")
                page.screenshot(path=str(args.picture), full_page=True)
                chromium.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"wrote {args.picture}")


if __name__ == "__main__":
    main()
