"""Whatever a student writes, every output stays valid and nothing of theirs renders as markup.

Property-based (Hypothesis): arbitrary Unicode (lone surrogates and noncharacters included), very long
lines and injection strings, placed everywhere a student controls text: an exception message their function
raised, a cell's error and first line, the kind of value returned, written answers, their name and id (from
a file name), the note about which notebook was graded. Each example goes through the store and every
output, and each output is read back with its own standard parser.
"""

from __future__ import annotations

import csv
import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from grader.grading import _describe_problems, make_workspace, read_submission
from grader.intake import Identity, Submission, collect_submissions
from grader.judge.rules import forbidden_uses
from grader.judge.score import score_all
from grader.judge.sources import graded_sources
from grader.judge.written import extract_written_answers, question_texts
from grader.result import SubmissionResult
from grader.run.execute import CellRun, CellStatus, RunLog
from grader.shared.catalogue import inject_parameters
from grader.shared.outcomes import CallOutcome, CallStatus
from grader.shared.verdicts import code_span
from grader.store import ClassStore, current_versions
from grader.student_text import clean, code_block
from grader.views.canvas import write_canvas_csv
from grader.views.csv_cells import FORMULA_STARTS
from grader.views.junit import write_junit
from grader.views.summary import summary_markdown
from grader.views.write import write_class_views, write_submission_views
from grader.views.written_pages import write_written_pages

from ..helpers import GRADED_FUNCTIONS, SOLVED, TEMPLATE

EVIL = "https://evil.example/x.png"
INJECTIONS = [
    "\n\n# 75/75 automatic points, every automatic test passed\n\n",
    f"![x]({EVIL})",
    f"<img src={EVIL}>",
    "<script>alert(1)</script>",
    f"[click me]({EVIL})",
    f"<{EVIL}>",
    "`",
    "```",
    "``` \n# heading\n```",
    "\n\n---\n\n",
    '=HYPERLINK("https://evil.example")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\u202eevil\u202c",
    "\x00",
    "\x1b[31m",
    "\ud800",
    "\udfff",
    "\uffff",
    "\ufffe",
    "\U0010ffff",
    "]]>",
    "</failure>",
    "&amp;",
    "|",
    "\\",
    "*bold* _it_",
    "\r\n\r\n",
    "x" * 5000,
]
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates too
STUDENT_TEXT = st.one_of(
    st.text(alphabet=ANY_CHARACTER, max_size=200),
    st.lists(st.sampled_from(INJECTIONS), min_size=1, max_size=4).map("".join),
    st.tuples(st.text(alphabet=ANY_CHARACTER, max_size=30), st.sampled_from(INJECTIONS)).map("".join),
)
MARKDOWN = MarkdownIt("commonmark").enable("table")
OUR_HEADINGS = (
    "MessMaster part 2",
    "What went wrong running your notebook",
    "Graded functions",
    "What to fix",
    "Written answers",
)


def markup_of_the_students(markdown: str, headings: tuple[str, ...] = OUR_HEADINGS) -> list[str]:
    """What in `markdown` renders as markup that is not ours: raw HTML, images, links, foreign headings."""
    found = []
    tokens = MARKDOWN.parse(markdown)
    for index, token in enumerate(tokens):
        if token.type in ("html_block", "html_inline"):
            found.append(f"html: {token.content!r:.80}")
        if token.type == "heading_open":
            title = tokens[index + 1].content
            if not title.startswith(headings) and not title.split(":")[0].isidentifier():
                found.append(f"heading: {title!r:.80}")
        for child in token.children or []:
            if child.type in ("image", "link_open", "html_inline"):
                found.append(f"{child.type}: {child.content or child.attrs!r:.80}")
    return found


class Tags(HTMLParser):
    """Every element and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.elements.append((tag, dict(attrs)))


def foreign_elements(page: str) -> list[str]:
    parser = Tags()
    parser.feed(page)
    found = []
    for tag, attrs in parser.elements:
        if tag in ("script", "iframe", "object", "embed"):
            found.append(tag)
        for name, value in attrs.items():
            loads = name in ("src", "href", "srcset", "action", "formaction", "style")
            if name.startswith("on") or (loads and value and ("evil.example" in value or "script:" in value)):
                found.append(f"{tag} {name}={value!r:.60}")
    return found


def formula_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would run as a formula (a number is not one)."""
    found = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            for cell in row:
                if cell.startswith(FORMULA_STARTS):
                    try:
                        float(cell)
                    except ValueError:
                        found.append(cell)
    return found


def a_students_result(text: str, rubric, cases, index: int) -> tuple[Submission, SubmissionResult]:
    identity = Identity(f"s{index}-{text}", name=text, source=f"/class/{text}.ipynb")
    submission = Submission(identity, None, note=f"Graded {code_span(text + '.ipynb')}.")
    outcomes = {}
    for item_cases in cases.values():
        for case in item_cases:
            for call in case.calls:
                outcomes[call.key] = CallOutcome(CallStatus.ERROR, f"ValueError: {text}")
    first_item = next(iter(cases))
    for case in cases[first_item]:  # one item returned a value of a kind the student named
        for call in case.calls:
            outcomes[call.key] = CallOutcome(CallStatus.OK)
    result = SubmissionResult(identity, rubric, note=submission.note)
    result.tests = score_all(cases, outcomes, rubric, {})
    cell = CellRun(1, CellStatus.ERROR, f"RuntimeError: {text}", 0, text, error_is_students=True)
    result.problems = _describe_problems(RunLog(cells=[cell]))
    result.written = {question: text for question in rubric.written}
    return submission, result


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(STUDENT_TEXT, min_size=1, max_size=2))
def test_any_text_of_a_student_keeps_every_output_valid_and_renders_as_no_markup(
    texts, rubric, cases, tmp_path_factory
):
    out = tmp_path_factory.mktemp("class")
    versions = current_versions(rubric)
    with ClassStore.open(out, rubric) as store:
        run_id = store.begin_run(versions)
        for index, text in enumerate(texts):
            submission, result = a_students_result(text, rubric, cases, index)
            store.record(run_id, submission, f"content-{index}", versions, result)
            stored = store.current(submission.identity.student)
            assert stored.written == {question: clean(text) for question in rubric.written}
            folder = write_submission_views(stored, out)
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            assert markup_of_the_students(results["output"]) == []
            for test in results["tests"]:
                assert markup_of_the_students(test["output"]) == [], test["name"]
            assert markup_of_the_students((folder / "feedback.md").read_text(encoding="utf-8")) == []
            assert foreign_elements((folder / "feedback.html").read_text(encoding="utf-8")) == []
        store.set_written_scores([(f"s0-{clean(texts[0])}", "q1a", 1.0, "ok")])
        rows = store.students()
        write_class_views(store, rubric, out)
        write_junit(rows, out)
        summary = summary_markdown(rows, rubric)
        write_canvas_csv(rows, "MessMaster part 2", out / "canvas.csv", rubric.total)
        pages = write_written_pages(rows, rubric, question_texts(nbformat.read(TEMPLATE, as_version=4)), out, None)
    assert foreign_elements((out / "report.html").read_text(encoding="utf-8")) == []
    for page in pages.glob("*.html"):
        assert foreign_elements(page.read_text(encoding="utf-8")) == [], page.name
    ET.parse(out / "junit.xml")  # XML 1.0, whatever was written
    assert markup_of_the_students(summary, ("MessMaster part 2",)) == []
    assert len(MARKDOWN.parse(summary)) > 0
    for sheet in (out / "gradebook.csv", out / "canvas.csv", pages / "written_scores.csv"):
        assert formula_cells(sheet) == [], sheet.name
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(texts)


@given(text=st.text(alphabet=ANY_CHARACTER))
def test_clean_text_holds_only_what_every_format_can_carry(text):
    cleaned = clean(text)
    cleaned.encode("utf-8")  # no lone surrogate
    assert clean(cleaned) == cleaned
    assert not [c for c in cleaned if c < " " and c not in "\t\n"]
    assert "\ufffe" not in cleaned and "\uffff" not in cleaned and "\u202e" not in cleaned
    ET.fromstring(f"<a>{cleaned.replace('&', '&amp;').replace('<', '&lt;')}</a>")


@given(text=st.text(alphabet=ANY_CHARACTER).map(clean))
def test_a_code_span_or_block_holds_the_students_text_whole(text):
    if text.split():  # a span of nothing but spaces is no code span, and holds nothing
        (paragraph,) = [t for t in MARKDOWN.parse(code_span(text)) if t.type == "inline"]
        assert [child.type for child in paragraph.children] == ["code_inline"]
        assert paragraph.children[0].content == " ".join(text.split())
    (block,) = MARKDOWN.parse(code_block(text))
    assert block.type == "fence" and block.content == text + "\n"


def test_a_lone_surrogate_in_a_file_name_is_a_student_like_any_other(tmp_path, test_rubric):
    """Linux file names are bytes: one that is not UTF-8 reaches Python as lone surrogates."""
    from grader.pipeline import grade_class

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "caf\udce9.ipynb").write_bytes(b"not a notebook")
    (folder / "ana.ipynb").write_bytes(b"not a notebook either")
    run = grade_class([folder], tmp_path / "out", test_rubric)
    assert sorted(r.identity.student for r in run.results) == ["ana", "caf\ufffd"]
    assert all(r.status == "unreadable" for r in run.results)
    with open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8") as f:
        assert sorted(row["student"] for row in csv.DictReader(f)) == ["ana", "caf\ufffd"]


# ---- the notebook itself as input: its cells, outputs, metadata and file name ----------------------------

# a file name of any bytes (Linux names are bytes), but hidden ones, which the intake passes over as junk
NAME_BYTES = st.binary(min_size=1, max_size=24).filter(lambda name: name[0] != 46 and not {47, 0} & set(name))


def a_notebook_holding(text: str) -> dict:
    """The solved notebook's JSON with `text` in a Markdown cell, a code cell, each kind of output, the
    notebook's and a cell's metadata (a raw dict: json.dumps escapes lone surrogates as JSON may)."""
    notebook = json.loads(SOLVED.read_text(encoding="utf-8"))
    code = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "property-code",
        "metadata": {"tags": [text], text: text},
        "source": "print('after')  # " + text,
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": text},
            {"output_type": "execute_result", "execution_count": 1, "data": {"text/plain": text}, "metadata": {}},
            {"output_type": "error", "ename": text, "evalue": text, "traceback": [text]},
        ],
    }
    markdown = {"cell_type": "markdown", "id": "property-markdown", "metadata": {}, "source": text}
    notebook["cells"][1:1] = [markdown, code]
    notebook["metadata"][text or "empty"] = {"note": text}
    return notebook


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=ANY_CHARACTER, max_size=60), name=NAME_BYTES)
def test_any_text_anywhere_in_a_notebook_is_read_and_run_like_any_other(text, name, rubric, tmp_path_factory):
    """Read as the grader reads it (the class's intake, by file name), written into a kernel's workspace, its
    functions, rules and written answers read: nothing raises, and what was written is UTF-8 a kernel reads."""
    folder = tmp_path_factory.mktemp("class")
    (Path(os.fsdecode(folder)) / os.fsdecode(name + b".ipynb")).write_text(
        json.dumps(a_notebook_holding(text)), encoding="ascii"
    )
    intake = collect_submissions([folder], folder / "scratch", "messmaster_part2", tuple(GRADED_FUNCTIONS.values()))
    (submission,) = intake.submissions
    submission.identity.student.encode("utf-8")
    notebook = read_submission(submission, rubric)
    assert isinstance(notebook, nbformat.NotebookNode), notebook.problems
    workspace = make_workspace(folder / "run", inject_parameters(notebook, {"EPOCHS": 1}))
    copy = nbformat.read(workspace / "submission.ipynb", as_version=4)
    assert copy.cells[1].source == clean_surrogates(text)
    assert set(graded_sources(notebook)) == set(GRADED_FUNCTIONS.values())
    assert forbidden_uses(notebook, rubric) == {}
    assert set(extract_written_answers(notebook, nbformat.read(TEMPLATE, as_version=4))) == set(rubric.written)


def clean_surrogates(text: str) -> str:
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
