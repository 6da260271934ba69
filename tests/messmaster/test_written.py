"""Written answers: found where the template puts them (and where students move them), then from cell to grade.

The grading workers are replaced by an in-process stand-in (automatic tests at
zero, written answers extracted as the grader does): these tests are about the
TAs' loop, not kernels.
"""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

from examples.build_examples import copy_notebook
from grader import cli, pipeline
from grader.judge.written import extract_written_answers
from grader.pipeline import zero_result
from grader.result import SubmissionStatus
from grader.rubric import load_rubric
from grader.store import ClassStore

from ..helpers import TEMPLATE, read


def cell_index(notebook, tag):
    return next(i for i, c in enumerate(notebook.cells) if tag in c.metadata.get("tags", []))


def test_answers_in_the_tagged_cells_are_found(template):
    student = copy_notebook(template)
    student.cells[cell_index(student, "answer-q1a")].source += "\n\nVal picks hyperparameters."
    answers = extract_written_answers(student, template)
    assert answers["q1a"] == "Val picks hyperparameters."
    assert answers["q2c"] == ""


def test_an_answer_split_over_new_untagged_cells_is_kept_whole(template):
    student = copy_notebook(template)
    at = cell_index(student, "answer-q2b")
    student.cells[at].source += "\n\nMomentum averages gradients."
    student.cells.insert(at + 1, nbformat.v4.new_markdown_cell("Adaptive scaling evens out step sizes."))
    answers = extract_written_answers(student, template)
    assert answers["q2b"] == "Momentum averages gradients.\n\nAdaptive scaling evens out step sizes."


def test_an_answer_cell_moved_elsewhere_keeps_its_question(template):
    student = copy_notebook(template)
    at = cell_index(student, "answer-q1b")
    moved = student.cells.pop(at)
    moved.source += "\n\nIt is the NLL; energy is minus the logit."
    student.cells.append(moved)
    assert extract_written_answers(student, template)["q1b"] == "It is the NLL; energy is minus the logit."


def test_an_answer_typed_into_the_question_cell_is_found(template):
    student = copy_notebook(template)
    question = next(c for c in student.cells if "**Q2a.**" in c.source)
    question.source += "\nA constant learning rate."
    del student.cells[cell_index(student, "answer-q2a")]
    assert extract_written_answers(student, template)["q2a"] == "A constant learning rate."


# ---- from cell to grade: export for the TAs, their scores back, regrades that keep them --------------------

MATH = r"By the chain rule, $\frac{\partial L}{\partial W_1} = X^T \delta_1$ and $\text{<b>bold</b>}$"
INJECTED = '<script>document.title = "owned"</script><img src=x onerror="document.title=1">'


class WrittenStandIn:
    """Grades in process: every automatic test zero, the written answers extracted as the grader does."""

    def __call__(self, submissions, rubric, jobs, sandbox):
        template = read(TEMPLATE)
        for submission in submissions:
            result = zero_result(submission, rubric, SubmissionStatus.GRADED, "graded by the stand-in")
            result.written = extract_written_answers(read(submission.path), template)
            yield submission, result


def answered(template, answers: dict[str, str]):
    """The template with the tagged answer cells holding `answers`."""
    notebook = copy_notebook(template)
    for cell in notebook.cells:
        for question, text in answers.items():
            if f"answer-{question}" in cell.metadata.get("tags", []):
                cell.source = text
    return notebook


@pytest.fixture
def graded_class_with_answers(template, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "_grade_in_workers", WrittenStandIn())
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(answered(template, {"q1a": "Alice on q1a", "q2c": INJECTED}), submissions / "alice.ipynb")
    nbformat.write(answered(template, {"q1a": "Bob on q1a", "q1d": MATH}), submissions / "bob.ipynb")
    out = tmp_path / "class"
    assert cli.main(["grade", str(submissions), "--out", str(out)]) == 0
    return submissions, out


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_unscored_answers_are_awaiting_grading_never_failed(graded_class_with_answers):
    _, out = graded_class_with_answers
    results = json.loads((out / "alice" / "results.json").read_text())
    written = [t for t in results["tests"] if t["name"].startswith("written.")]
    assert len(written) == 9 and all(t["status"] == "pending" and "Awaiting grading" in t["output"] for t in written)
    feedback = (out / "alice" / "feedback.md").read_text()
    assert "awaiting grading by the course staff (25 points)" in feedback
    assert "### split: awaiting grading (1 point)" in feedback and "(2 points)" in feedback
    row = gradebook(out)["alice"]
    assert (row["total"], row["max"], row["written"], row["written_max"]) == ("0", "75", "", "25")


def test_export_writes_a_page_per_question_with_every_answer_escaped(graded_class_with_answers):
    _, out = graded_class_with_answers
    assert cli.main(["written", "export", str(out)]) == 0
    page = (out / "written" / "q1a.html").read_text()
    assert "Alice on q1a" in page and "Bob on q1a" in page and "<strong>Q1a.</strong>" in page
    model = page.split("The model answer</h2>")[1].split("</section>")[0]
    assert "validation set" in model  # the reference's answer, beside the question
    injected = (out / "written" / "q2c.html").read_text()
    assert "<script>document" not in injected and "&lt;script&gt;" in injected and "<img src=x" not in injected
    math = (out / "written" / "q1d.html").read_text().split('id="bob"')[1]
    assert "<mfrac>" in math and "<msup><mi>X</mi><mi>T</mi></msup>" in math  # MathML, drawn without a script
    assert "<b>" not in math and "<mtext>bold</mtext>" in math  # what latex2mathml lets through is rebuilt
    with open(out / "written" / "written_scores.csv", newline="") as f:
        sheet = list(csv.DictReader(f))
    assert len(sheet) == 2 * 9 and {r["student"] for r in sheet} == {"alice", "bob"}
    assert all(r["score"] == "" for r in sheet)


def test_anonymised_pages_hide_who_and_import_maps_the_pseudonyms_back(graded_class_with_answers):
    _, out = graded_class_with_answers
    assert cli.main(["written", "export", str(out), "--anonymise"]) == 0
    page = (out / "written" / "q1a.html").read_text()
    assert "alice" not in page and "bob" not in page and "Alice on q1a" in page
    sheet_path = out / "written" / "written_scores.csv"
    first = sheet_path.read_text()
    assert cli.main(["written", "export", str(out), "--anonymise"]) == 0
    assert sheet_path.read_text() == first, "pseudonyms are stable"
    with open(sheet_path, newline="") as f:
        sheet = list(csv.DictReader(f))
    pseudonym = next(r["student"] for r in sheet if r["question"] == "q1a")
    filled = sheet_path.with_name("filled.csv")
    filled.write_text(f"student,question,score,comment\n{pseudonym},q1a,2,clear\n")
    assert cli.main(["written", "import", str(out), str(filled)]) == 0
    scored = {name: row["written"] for name, row in gradebook(out).items()}
    assert sorted(scored.values()) == ["", "2"]


def test_imported_scores_count_toward_totals_out_of_100_and_survive_a_regrade(graded_class_with_answers):
    submissions, out = graded_class_with_answers
    rows = [f"alice,{q},{points:g},ok" for q, points in load_rubric().written.items()]
    rows[0] = "alice,q1a,1.5,=HYPERLINK(evil) half right"
    scores = out / "scores.csv"
    scores.write_text("student,question,score,comment\n" + "\n".join(rows) + "\nbob,q1b,,not read yet\n")
    assert cli.main(["written", "import", str(out), str(scores)]) == 0
    for _ in range(2):  # as imported, then after the automatic part is graded again
        alice, bob = gradebook(out)["alice"], gradebook(out)["bob"]
        assert (alice["total"], alice["max"], alice["written"]) == ("24.5", "100", "24.5")
        assert (bob["total"], bob["max"], bob["written"]) == ("0", "75", "")
        results = json.loads((out / "alice" / "results.json").read_text())
        q1a = next(t for t in results["tests"] if t["name"] == "written.q1a")
        assert results["score"] == 24.5 and q1a["score"] == 1.5 and q1a["status"] == "failed"
        assert "=HYPERLINK(evil) half right" in (out / "alice" / "feedback.md").read_text()
        assert cli.main(["grade", str(submissions), "--out", str(out), "--force"]) == 0


@pytest.mark.parametrize(
    "line,says",
    [
        ("carol,q1a,1,", "line 3: unknown student 'carol'"),
        ("alice,q9,1,", "line 3: unknown question 'q9'"),
        ("alice,q1b,three,", "line 3: the score 'three' is not a number"),
        ("alice,q1b,4,", "line 3: the score 4 is out of range for q1b (0 to 3)"),
        ("alice,q1b,-1,", "line 3: the score -1 is out of range"),
        ("alice,q1a,1,again", "line 3: alice's q1a is scored twice (also on line 2)"),
    ],
)
def test_a_bad_scores_file_is_refused_whole_with_its_lines(graded_class_with_answers, capsys, line, says):
    _, out = graded_class_with_answers
    before = (out / "gradebook.csv").read_bytes()
    scores = out / "scores.csv"
    scores.write_text(f"student,question,score,comment\nalice,q1a,2,fine\n{line}\n")
    assert cli.main(["written", "import", str(out), str(scores)]) == 2
    error = capsys.readouterr().err
    assert says in error and "nothing was applied" in error
    assert (out / "gradebook.csv").read_bytes() == before
    with ClassStore.open(out, load_rubric()) as store:
        assert store.written_scores("alice") == {}


def test_written_commands_refuse_a_folder_never_graded_or_busy(graded_class_with_answers, tmp_path, capsys):
    _, out = graded_class_with_answers
    assert cli.main(["written", "export", str(tmp_path / "nowhere")]) == 2
    assert "grade into it first" in capsys.readouterr().err
    with ClassStore.open(out, load_rubric()):
        assert cli.main(["written", "export", str(out)]) == 2
    assert "is being graded by" in capsys.readouterr().err


def sheet_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_again_keeps_a_tas_unimported_scores_and_saves_the_sheet_it_replaces(graded_class_with_answers, capsys):
    _, out = graded_class_with_answers
    assert cli.main(["written", "export", str(out)]) == 0
    sheet = out / "written" / "written_scores.csv"
    rows = sheet_rows(sheet)
    assert {r["name"] for r in rows} == {""} and "name" in rows[0]  # names in the sheet (none in this class)
    for row in rows:  # a TA's work, not yet imported: one score, one note on a score still to be decided
        if (row["student"], row["question"]) == ("alice", "q1a"):
            row["score"], row["comment"] = "1.5", "half right"
        if (row["student"], row["question"]) == ("bob", "q2c"):
            row["comment"] = "ask about the learning rate"
    with open(sheet, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    edited = sheet.read_text()
    capsys.readouterr()
    assert cli.main(["written", "export", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 score(s) or comment(s) not yet imported" in said
    kept = {(r["student"], r["question"]): (r["score"], r["comment"]) for r in sheet_rows(sheet)}
    assert kept[("alice", "q1a")] == ("1.5", "half right") and kept[("bob", "q2c")] == (
        "",
        "ask about the learning rate",
    )
    (saved,) = (out / "written").glob("written_scores-before-*.csv")
    assert saved.read_text() == edited
    assert cli.main(["written", "import", str(out), str(sheet)]) == 0
    assert "1.5 / 2" in (out / "written" / "q1a.html").read_text()  # the pages refreshed on import
    assert gradebook(out)["alice"]["written"] == "1.5"
    report = " ".join((out / "report.html").read_text().split())
    assert "Totals of the 1 student(s) whose written answers have scores: mean 1.5 of up to 100" in report
    capsys.readouterr()
    assert cli.main(["written", "export", str(out)]) == 0
    # alice's score is in the store now; bob's note has no score, so it cannot be imported, and stays kept
    assert "held 1 score(s) or comment(s) not yet imported" in capsys.readouterr().out
