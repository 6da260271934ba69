"""A second assignment, graded by the same engine: examples/assignments/logreg, a folder with a describing module.

In process first (its module, rubric, cases, judges and figures, on the engine's own probe), then end to end
through the documented commands on real kernels: `grade --assignment-dir`, a class store that remembers its
assignment (`similarity` and the desk without naming it; grading another assignment into it refused). Its
Gradescope zip is the one tests/engine/test_gradescope.py runs as Gradescope does.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from starlette.testclient import TestClient

from grader.assignment import AssignmentError, current_assignment, load_assignment, use_assignment
from grader.items import generate_cases
from grader.judge.score import score_all
from grader.rubric import load_rubric
from grader.store import ClassStore, class_assignment_of
from tools.in_process import outcomes_in_process

from ..helpers import ROOT

LOGREG = ROOT / "examples" / "assignments" / "logreg"
SOLVED = LOGREG / "reference" / "logreg_solution.ipynb"
TEMPLATE = LOGREG / "student_template" / "logreg.ipynb"


@pytest.fixture
def logreg():
    """The logistic-regression assignment as this process's, MessMaster's again afterwards."""
    try:
        yield use_assignment(LOGREG)
    finally:
        use_assignment(ROOT)


def _namespace(path: Path) -> dict:
    """A notebook's code run in this process (our own notebooks only), its training shortened."""
    namespace: dict = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            exec(cell.source.replace("EPOCHS = 500", "EPOCHS = 3"), namespace)
    return namespace


def _scored(path: Path, tmp_path: Path) -> list:
    rubric = load_rubric()
    cases = generate_cases(rubric.run.grading_epochs)
    outcomes = outcomes_in_process(_namespace(path), cases, tmp_path, rubric.watched)
    return score_all(cases, outcomes, rubric, {})


def test_the_folder_is_an_assignment_the_engine_loads(logreg):
    assert current_assignment() is logreg and logreg.TITLE == "Logistic regression by hand"
    rubric = load_rubric()
    cases = generate_cases(rubric.run.grading_epochs)
    assert list(rubric.items) == list(cases) == list(logreg.ITEMS) == ["loss", "gradient", "step", "train"]
    assert rubric.total == rubric.automatic_total + rubric.written_total == 100
    assert logreg.notebook.is_file() and logreg.solved_notebook.is_file()


def test_its_notebooks_and_reference_are_built_from_one_source():
    built = subprocess.run(
        [sys.executable, str(LOGREG / "reference" / "build_notebooks.py"), "--check"], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr


def test_the_reference_earns_every_point_and_the_planted_bug_is_found(logreg, tmp_path):
    solved = _scored(SOLVED, tmp_path / "solved")
    assert all(test.passed for test in solved), [test.output for test in solved if not test.passed]
    template = _scored(TEMPLATE, tmp_path / "template")
    failed = {test.name for test in template if not test.passed}
    assert {"step.small", "step.large_rate"} <= failed and not [name for name in failed if name.startswith("loss")]
    step = next(test for test in template if test.name == "step.small")
    assert step.mistake == "step_sign" and "Hint (step_sign)" in step.output and "Part 3" in step.output


def test_its_figures_draw_what_its_judging_stored(logreg, tmp_path):
    rubric = load_rubric()
    cases = generate_cases(rubric.run.grading_epochs)
    plots = logreg.plot_data(cases, outcomes_in_process(_namespace(SOLVED), cases, tmp_path, rubric.watched))
    (figure,) = logreg.figures(json.loads(json.dumps(plots)))  # as the store gives them back
    assert figure.image.startswith("data:image/png") and figure.table.rows[0] == ["0", "0.6931"]
    (empty,) = logreg.figures({})
    assert empty.image is None and "nothing to draw" in empty.missing


def test_a_folder_without_a_describing_module_is_refused_with_what_is_missing(tmp_path):
    with pytest.raises(AssignmentError, match="assignment.py"):
        load_assignment(tmp_path)
    (tmp_path / "assignment.py").write_text('TITLE = "Half"\n')
    with pytest.raises(AssignmentError, match="does not give: SLUG"):
        load_assignment(tmp_path)


@contextlib.contextmanager
def use_assignment_of(folder: Path) -> Iterator[None]:
    """The class folder's assignment as this process's for a block (as the command line chooses it)."""
    try:
        use_assignment(class_assignment_of(folder))
        yield
    finally:
        use_assignment(ROOT)


def _grader(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_graded_end_to_end_by_the_documented_commands(tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "class"
    submissions.mkdir()
    shutil.copy(SOLVED, submissions / "ada.ipynb")
    shutil.copy(TEMPLATE, submissions / "bo.ipynb")
    graded = _grader("--assignment-dir", str(LOGREG), "grade", str(submissions), "--out", str(out))
    assert graded.returncode == 0, graded.stderr
    ada, bo = (json.loads((out / name / "results.json").read_text()) for name in ("ada", "bo"))
    assert ada["score"] == 90 and bo["score"] == 50  # the written answer awaits a TA
    assert {test["name"].split(".")[0] for test in bo["tests"]} == {"loss", "gradient", "step", "train", "written"}
    page = (out / "bo" / "feedback.html").read_text()
    assert "Logistic regression by hand: feedback for" in page and 'id="losses"' in page and "MessMaster" not in page
    assert class_assignment_of(out) == LOGREG.resolve()

    # later commands on the class need not name its assignment
    similar = _grader("similarity", str(out))
    assert similar.returncode == 0, similar.stderr
    assert (out / "similarity.csv").is_file()
    with use_assignment_of(out), ClassStore.shared(out) as store:
        from grader.desk.app import Desk, make_app

        desk = Desk(store, out)
        client = TestClient(make_app(desk))
        client.headers["Authorization"] = f"Bearer {desk.token}"
        (question,) = client.get("/api/questions").json()
        assert question["question"] == "q1" and "divided by N" in question["model_html"]
        assert [s["student"] for s in client.get("/api/students").json()] == ["ada", "bo"]
        desk.pages.close()

    # another assignment into this class is refused, with what to do; nothing is graded
    other = _grader("--assignment-dir", str(ROOT), "grade", str(submissions), "--out", str(out), "--sandbox", "off")
    assert other.returncode == 2 and "graded for the assignment in" in other.stderr


def test_a_folder_named_that_is_no_assignment_is_refused_at_start(tmp_path, capsys):
    from grader import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--assignment-dir", str(tmp_path), "history", str(tmp_path), "ada"])
    assert exited.value.code == 2 and "has no assignment.py" in capsys.readouterr().err
    use_assignment(ROOT)


def test_a_class_whose_assignment_is_gone_says_to_name_where_it_is_now(tmp_path, capsys, rubric):
    from grader import cli
    from grader.store import ASSIGNMENT_SETTING

    with ClassStore.open(tmp_path, rubric) as store:
        store.set_setting(ASSIGNMENT_SETTING, str(tmp_path / "moved"))
    assert cli.main(["history", str(tmp_path), "ada"]) == 2
    assert "which is not there: pass --assignment-dir" in capsys.readouterr().err


# ---- the engine's judging framework, on the small assignment's functions ---------------------------------------

AUTOGRAD_GRADIENT = """
def logistic_gradient(w, b, X, y):
    w, b = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    logistic_loss(w, b, X, y).backward()
    return w.grad, b.grad
"""
RATE_WRITTEN_IN = """
def descent_step(w, b, dw, db, learning_rate):
    return w - 0.1 * dw, b - 0.1 * db
"""
LOSS_RAISES = """
def logistic_loss(w, b, X, y):
    raise ValueError("not yet")
"""


def _item_tests(tmp_path: Path, extra: str) -> dict[str, list]:
    from ..helpers import score_in_process

    rubric = load_rubric()
    notebook = nbformat.read(SOLVED, as_version=4)
    tests = score_in_process(notebook, rubric, generate_cases(rubric.run.grading_epochs), tmp_path, extra)
    found: dict[str, list] = {}
    for test in tests:
        found.setdefault(test.item, []).append(test)
    return found


def test_a_rule_broken_costs_the_item_whatever_its_values(logreg, tmp_path):
    gradient = _item_tests(tmp_path, AUTOGRAD_GRADIENT)["gradient"]
    assert all(test.score == 0 and test.trouble == "rule" for test in gradient)
    assert all("logistic_gradient must compute the gradient by hand" in test.output for test in gradient)


def test_an_argument_written_in_is_named_where_its_values_fail(logreg, tmp_path):
    step = {test.name: test for test in _item_tests(tmp_path, RATE_WRITTEN_IN)["step"]}
    assert step["step.small"].passed and not step["step.large_rate"].passed  # right only at the rate written in
    assert step["step.large_rate"].mistake == "argument_ignored" and "`learning_rate`" in step["step.large_rate"].output


def test_a_function_that_raises_fails_its_own_tests_and_no_other(logreg, tmp_path):
    found = _item_tests(tmp_path, LOSS_RAISES)
    assert all(test.trouble == "raised" and "ValueError: not yet" in test.output for test in found["loss"])
    assert all(test.passed for test in found["gradient"] + found["step"])


def test_a_history_as_long_as_the_notebooks_data_is_not_taken_for_its_data(logreg, tmp_path):
    """A training of exactly as many epochs as the notebook has rows returns a history that long: a number the
    grader passed, not the notebook's own data, so a wrong training is not told it used the notebook's globals."""
    from ..helpers import score_in_process, with_run

    rubric = with_run(load_rubric(), grading_epochs=logreg.TRAINING_ROWS)
    cases = generate_cases(rubric.run.grading_epochs)
    tests = score_in_process(nbformat.read(TEMPLATE, as_version=4), rubric, cases, tmp_path)
    train = [test for test in tests if test.item == "train"]
    assert train and not any(test.passed for test in train)  # the planted step bug costs the training
    assert not [test.name for test in train if test.mistake == "globals_for_arguments"]
