"""The TA desk in real headless Chromium (Playwright driving Debian's chromium), served by the real command:
a TA grades a question with the keyboard, applies and re-weights a rubric item, adjusts an automatic item; two
TAs conflict and the second is told; a corpus of hostile answers runs nothing, opens no dialog and sends no
request anywhere but the desk."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import httpx2
import pytest

from grader import cli

from ..helpers import BROWSERS, STUDENTS, make_desk_class

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow  # a browser and a server
WAIT_MS = 60_000  # what the page waits for comes; on a busy machine it may come late

HOSTILE = {
    "h01": "<script>window.owned = 1; alert(1)</script>",
    "h02": '<img src=x onerror="window.owned = 2; alert(2)">',
    "h03": "[click me](javascript:window.owned=3)",
    "h04": '<a href="javascript:window.owned=4">a link</a>',
    "h05": '<iframe src="https://example.org/"></iframe>',
    "h06": "<style>body { display: none }</style>",
    "h07": '<form action="https://example.org/"><input name="x"><button>go</button></form>',
    "h08": '<svg onload="window.owned = 8"><circle r="5"/></svg>',
    "h09": "$\\href{javascript:window.owned=9}{x}$ and $\\text{<img src=x onerror=window.owned=9>}$",
    "h10": "![pixel](https://example.org/pixel.png)",
    "h11": "<math><mtext><table><mglyph><style><img src=x onerror=window.owned=11></style></mglyph></table></mtext>"
    "</math>",
    "h12": '<details open ontoggle="window.owned = 12"><summary>x</summary></details>',
    "h13": '<meta http-equiv="refresh" content="0;url=https://example.org/">',
    "h14": "<object data=\"javascript:window.owned=14\"></object><embed src='javascript:window.owned=14'>",
}


@pytest.fixture(scope="module")
def served(rubric, tmp_path_factory):
    """The desk over a class with the hostile corpus, served by `python -m grader desk` on a free port."""
    folder = tmp_path_factory.mktemp("desk-class")
    make_desk_class(folder, rubric, STUDENTS | {s: (f"Student {s}", text) for s, text in HOSTILE.items()})
    server = subprocess.Popen(
        [sys.executable, "-m", "grader", "desk", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = server.stdout.readline().strip()  # the first line: the address with the token, once it listens
    assert url.startswith("http://127.0.0.1:") and "/?token=" in url, server.stderr.read()
    yield folder, url
    server.terminate()
    server.wait(timeout=60)


@pytest.fixture(scope="module")
def browser():
    executable = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    assert executable, "no Chromium here: `make install` installs Debian's chromium (as root), or install it"
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def api(url: str) -> httpx2.Client:
    parts = urlsplit(url)
    token = parts.query.removeprefix("token=")
    return httpx2.Client(base_url=f"{parts.scheme}://{parts.netloc}", headers={"Authorization": f"Bearer {token}"})


def open_desk(browser, url: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    playwright.expect.set_options(timeout=WAIT_MS)
    page.goto(url)
    page.fill("#ta-name", name)
    page.locator("#ta-name").press("Tab")
    playwright.expect(page.locator("#answer-title")).to_have_text("Ada Lovelace (ada)")
    return page


def saved(page, text: str) -> None:
    playwright.expect(page.locator("#status")).to_contain_text(text)


def test_a_ta_grades_a_question_with_the_keyboard_and_reweights_an_item(served, browser):
    folder, url = served
    page = open_desk(browser, url, "Grace")
    page.fill("#new-points", "1")
    page.fill("#new-comment", "says what the test set is for")
    page.locator("#new-comment").press("Enter")
    playwright.expect(page.locator("#items li")).to_have_count(1)
    page.locator("#answer").focus()
    page.keyboard.press("1")  # apply item 1 to ada's answer
    saved(page, "Saved ada's q1a: 1 / 2")
    page.keyboard.press("j")
    playwright.expect(page.locator("#answer-title")).to_have_text("Bo Diddley (bo)")
    playwright.expect(page.locator("#answer math")).to_have_count(1)  # $\frac{1}{N}$ as MathML
    page.keyboard.press("1")
    saved(page, "Saved bo's q1a: 1 / 2")
    page.keyboard.press("c")
    page.keyboard.type("Half of it: also say why only once.")
    page.keyboard.press("Control+Enter")
    saved(page, "Saved bo's q1a")
    page.keyboard.press("Escape")
    page.keyboard.press("n")  # the next answer not yet scored: cy's (no answer)
    playwright.expect(page.locator("#answer-title")).to_have_text("Cy Twombly (cy)")
    playwright.expect(page.locator("#progress")).to_contain_text("scored 2 of")
    answers = {a["student"]: a for a in api(url).get("/api/answers/q1a").json()}
    assert (answers["ada"]["score"], answers["bo"]["score"], answers["cy"]["score"]) == (1.0, 1.0, None)
    assert answers["bo"]["comment"] == "Half of it: also say why only once." and answers["bo"]["by"] == "Grace"
    # the item is worth more after all: every answer that has it follows
    page.locator("#items li button.edit").click()
    page.locator("form.edit-item input[type=number]").fill("2")
    page.locator("form.edit-item button").click()
    saved(page, "Item saved")
    answers = {a["student"]: a for a in api(url).get("/api/answers/q1a").json()}
    assert (answers["ada"]["score"], answers["bo"]["score"]) == (2.0, 2.0)
    assert api(url).get("/api/pages", timeout=90).json() == {"written": True}  # the files follow the saves
    results = (folder / "ada" / "results.json").read_text()
    assert '"name": "written.q1a",\n      "score": 2.0' in results
    page.close()


def test_a_ta_adjusts_an_automatic_item_and_the_gradebook_shows_it(served, browser):
    folder, url = served
    page = open_desk(browser, url, "Alan")
    page.click("#show-automatic")
    page.select_option("#student-select", "cy")
    row = page.locator('#automatic-items tr[data-item="backward"]')
    row.locator("input").nth(0).fill("5")
    row.locator("input").nth(1).fill("regrade request upheld: the mask was right")
    row.locator("button").click()
    saved(page, "Saved: backward +5 for cy, by Alan")
    assert api(url).get("/api/pages", timeout=90).json() == {"written": True}
    gradebook = {r["student"]: r for r in csv.DictReader(open(folder / "gradebook.csv"))}
    assert float(gradebook["cy"]["backward"]) == 5 and "Alan" in gradebook["cy"]["adjustments"]
    canvas = folder / "canvas.csv"
    assert cli.main(["export", "canvas", str(folder), "--out", str(canvas)]) == 0
    cy = next(r for r in csv.reader(open(canvas)) if len(r) > 1 and r[1] == "cy")
    assert float(cy[-1]) == float(gradebook["cy"]["total"])
    page.close()


def test_two_tas_on_one_answer_the_second_is_told_and_keeps_their_words(served, browser):
    _, url = served
    first, second = open_desk(browser, url, "First"), open_desk(browser, url, "Second")
    for page, words in ((first, "From the first TA."), (second, "From the second TA.")):
        page.fill("#comment", words)
    first.click("#save")
    saved(first, "Saved ada's q1a")
    second.click("#save")
    status = second.locator("#status")
    playwright.expect(status).to_have_class("conflict")
    playwright.expect(status).to_contain_text("From the second TA.")  # nothing lost: their words are shown
    playwright.expect(second.locator("#comment")).to_have_value("From the first TA.")  # the stored one, reloaded
    assert api(url).get("/api/answers/q1a").json()[0]["comment"] == "From the first TA."
    first.close()
    second.close()


def test_hostile_answers_run_nothing_open_no_dialog_and_send_nothing_out(served, browser):
    _, url = served
    page = open_desk(browser, url, "Careful")
    desk = urlsplit(url).netloc
    dialogs, elsewhere = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: urlsplit(request.url).netloc != desk and elsewhere.append(request.url))
    shown = set()
    count = len(STUDENTS) + len(HOSTILE)
    for index in range(count):
        playwright.expect(page.locator("#progress")).to_contain_text(f"answer {index + 1} of {count}")
        shown.add(page.locator("#answer-title").inner_text())
        answer = page.locator("#answer")
        assert answer.locator("script, iframe, form, style, img, svg, object, embed, meta, a, details").count() == 0
        assert page.evaluate("window.owned") is None
        answer.focus()
        page.keyboard.press("j")
    assert {f"Student {s} ({s})" for s in HOSTILE} <= shown
    assert page.evaluate("window.owned") is None and dialogs == [] and elsewhere == []
    assert page.locator("body").is_visible()  # no answer's <style> hid the page
    assert page.title() == "MessMaster part 2: TA desk"
    page.close()


def test_the_desk_meets_wcag_aa(served, browser):
    """axe-core (as the static pages are checked) on the grading view and the automatic items' view."""
    from ..helpers import ROOT

    _, url = served
    context = browser.new_context(bypass_csp=True)  # axe is injected into the page for this check alone
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    playwright.expect(page.locator("#answer-title")).to_have_text("Ada Lovelace (ada)")
    page.add_script_tag(path=str(ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"))
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    for view in ("grading", "automatic"):
        if view == "automatic":
            page.click("#show-automatic")
            playwright.expect(page.locator('#automatic-items tr[data-item="late"]')).to_have_count(1)
        found = page.evaluate("(tags) => axe.run(document, {runOnly: tags})", tags)
        assert [v["id"] for v in found["violations"]] == [], found["violations"]
    context.close()


def test_a_groups_answers_are_scored_together_until_a_ta_scores_one_apart(rubric, browser, tmp_path):
    folder = tmp_path / "group-class"
    make_desk_class(folder, rubric, STUDENTS | {"dee": ("Dee Dee", STUDENTS["ada"][1])}, same_file={"dee": "ada"})
    server = subprocess.Popen(
        [sys.executable, "-m", "grader", "desk", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        page = open_desk(browser, url, "Grace")
        playwright.expect(page.locator("#linked")).to_contain_text("Linked with dee (the same file handed in)")
        page.fill("#new-points", "1")
        page.fill("#new-comment", "the group's answer")
        page.locator("#new-comment").press("Enter")
        playwright.expect(page.locator("#items li")).to_have_count(1)
        page.locator("#answer").focus()
        page.keyboard.press("1")
        saved(page, "Saved ada's (and dee's, linked) q1a: 1 / 2")
        answers = {a["student"]: a for a in api(url).get("/api/answers/q1a").json()}
        assert answers["dee"]["score"] == 1.0 and answers["dee"]["items"] == answers["ada"]["items"]
        page.get_by_role("button", name="Score apart").click()
        saved(page, "ada is scored apart from dee now")
        playwright.expect(page.locator("#linked")).to_be_empty()
        answers = {a["student"]: a for a in api(url).get("/api/answers/q1a").json()}
        assert answers["ada"]["linked"] == [] and answers["dee"]["linked"] == []
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
