"""Every page type meets WCAG 2.1 AA as axe-core checks it in headless Chromium: a student's feedback (failing
tests, figures, written answers), the class report, the TAs' index and question pages. Zero violations."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from grader import cli

from ..helpers import BROWSERS, ROOT

AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what universities require of course material
STANDARD = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """
axe.run(document, {runOnly: {type: "tag", values: %s}}).then(result => {
  const out = document.createElement("pre");
  out.id = "axe-result";
  out.textContent = JSON.stringify(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))
  })));
  document.body.appendChild(out);
});
"""

pytestmark = pytest.mark.slow  # a browser per page


def violations(page, tmp_path) -> list[dict]:
    """axe-core's WCAG 2.1 AA violations on `page`, run in headless Chromium (the page's policy, which forbids
    every script, is lifted on a copy for axe alone; it changes nothing that axe checks)."""
    assert AXE.is_file(), "run `make install` (npm ci in tests/axe)"
    text = page.read_text()
    policy = text[text.index('<meta http-equiv="Content-Security-Policy"') :].split(">", 1)[0] + ">"
    script = f"<script>{AXE.read_text()}</script><script>{RUN_AXE % json.dumps(STANDARD)}</script>"
    checked = tmp_path / f"axe-{page.parent.name}-{page.name}"
    checked.write_text(text.replace(policy, "").replace("</body>", script + "</body>"))
    browser = next(found for name in BROWSERS if (found := shutil.which(name)))
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1000,1600",
         "--virtual-time-budget=20000", "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    found = re.search(r'<pre id="axe-result">(.*?)</pre>', run.stdout, re.DOTALL)
    assert found, "axe-core did not report: " + run.stderr[-2000:]
    return json.loads(html.unescape(found[1]))


@pytest.fixture(scope="module")
def pages(graded_class, engine_class, tmp_path_factory):
    """One page of each type, from the shared batches (the TAs' pages exported from a copy of MessMaster's class)."""
    _, out = graded_class
    copy = tmp_path_factory.mktemp("class") / "grades"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("grades.lock"))
    assert cli.main(["written", "export", str(copy)]) == 0
    return {
        "feedback with failing tests and figures": out / "carol_forgot_sign" / "feedback.html",
        "feedback of an unreadable file": engine_class[1] / "empty" / "feedback.html",
        "class report": out / "report.html",
        "TAs' index": copy / "written" / "index.html",
        "TAs' question page": copy / "written" / "q1d.html",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "feedback with failing tests and figures",
        "feedback of an unreadable file",
        "class report",
        "TAs' index",
        "TAs' question page",
    ],
)
def test_every_page_type_has_no_wcag_21_aa_violation(pages, kind, tmp_path):
    assert violations(pages[kind], tmp_path) == []


def test_the_checker_does_find_violations(tmp_path):
    """A page with an image without alt text and grey on grey text: axe reports both."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><meta http-equiv="Content-Security-Policy" content="default-src">'
        '<title>bad</title></head><body><main><img src="data:image/png;base64,iVBORw0KGgo=">'
        '<p style="color:#aaa;background:#bbb">faint</p></main></body></html>'
    )
    found = {v["id"] for v in violations(page, tmp_path)}
    assert {"image-alt", "color-contrast"} <= found
