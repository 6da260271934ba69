"""The second assignment's self-check, built by the engine as MessMaster's is: stamped from its judges, its public
cases shipped as numbers, zipped, and agreeing with the grader on notebooks as students leave them.

The agreement is judged in this process (the grader's probe on the hidden cases, the stamped self-check on its
public cases, each on the notebook's own functions); the bundle runs once from a shell, as a student runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import subprocess
import sys
import zipfile

import nbformat
import pytest

from grader.assignment import use_assignment
from grader.items import generate_cases
from grader.judge.rules import forbidden_uses, ignored_arguments_of
from grader.judge.score import score_all
from grader.rubric import load_rubric
from grader.selfcheck.bundle import BundleError, build_bundle, selfcheck_source, stale_cases
from tools.in_process import outcomes_in_process

from ..helpers import ROOT

LOGREG = ROOT / "examples" / "assignments" / "logreg"
SOLVED = LOGREG / "reference" / "logreg_solution.ipynb"
TEMPLATE = LOGREG / "student_template" / "logreg.ipynb"
FUNCTIONS = ("logistic_loss", "logistic_gradient", "descent_step", "train_logistic")

LOSS = "return (y * torch.nn.functional.softplus(-z) + (1 - y) * torch.nn.functional.softplus(z)).mean()"
STEP = "return w - learning_rate * dw, b - learning_rate * db"
RECORD = "        history.append(logistic_loss(w, b, X, y).item())\n"
UPDATE = "        w, b = descent_step(w, b, *logistic_gradient(w, b, X, y), learning_rate)\n"

# name -> (edits of the solved notebook's code, the functions that must lose points): each as a student leaves it
CORPUS: dict[str, tuple[list[tuple[str, str]], set[str]]] = {
    "solved": ([], set()),
    "loss summed": ([(".mean()", ".sum()")], {"logistic_loss", "train_logistic"}),
    "loss through log(sigmoid)": (
        [(LOSS, "p = torch.sigmoid(z)\n    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()")],
        {"logistic_loss"},
    ),
    "loss with an epsilon": (
        [
            (
                LOSS,
                "p = torch.sigmoid(z)\n"
                "    return -(y * torch.log(p + 1e-8) + (1 - y) * torch.log(1 - p + 1e-8)).mean()",
            )
        ],
        {"logistic_loss"},
    ),
    "loss by PyTorch (the rule)": (
        [(LOSS, "return torch.nn.functional.binary_cross_entropy_with_logits(z, y)")],
        {"logistic_loss"},
    ),
    "gradient not divided by N": (
        [(") / X.shape[0]", ")")],
        {"logistic_gradient", "train_logistic"},
    ),
    "gradient by autograd (the rule)": (
        [
            (
                "error = (torch.sigmoid(X @ w + b) - y) / X.shape[0]\n    return X.T @ error, error.sum()",
                "w, b = w.clone().requires_grad_(), b.clone().requires_grad_()\n"
                "    logistic_loss(w, b, X, y).backward()\n    return w.grad, b.grad",
            )
        ],
        {"logistic_gradient"},
    ),
    "gradient's db of shape (1,)": (
        [("error.sum()", "error.sum().reshape(1)")],
        {"logistic_gradient", "train_logistic"},  # its b comes back (1,) too: the training calls the gradient
    ),
    "step up the gradient": (
        [(STEP, "return w + learning_rate * dw, b + learning_rate * db")],
        {"descent_step", "train_logistic"},
    ),
    "step with its rate written in": (
        [(STEP, "return w - 0.1 * dw, b - 0.1 * db")],
        {"descent_step", "train_logistic"},
    ),
    "step in place": (
        [(STEP, "w -= learning_rate * dw\n    b -= learning_rate * db\n    return w, b")],
        None,
    ),
    "training with its rate written in": (
        [("*logistic_gradient(w, b, X, y), learning_rate)", "*logistic_gradient(w, b, X, y), 0.5)")],
        {"train_logistic"},
    ),
    "training that records after the step": ([(RECORD + UPDATE, UPDATE + RECORD)], {"train_logistic"}),
    "training of fixed length": ([("for _ in range(epochs):", "for _ in range(500):")], {"train_logistic"}),
    "training on the notebook's data": (
        [(RECORD + UPDATE, RECORD.replace("X, y", "X_train, y_train") + UPDATE.replace("X, y", "X_train, y_train"))],
        {"train_logistic"},
    ),
    "training from random weights": (
        [("torch.zeros(X.shape[1])", "torch.randn(X.shape[1])")],
        {"train_logistic"},
    ),
    "training whose history holds tensors": ([("logistic_loss(w, b, X, y).item()", "logistic_loss(w, b, X, y)")], None),
}


@pytest.fixture(scope="module")
def logreg():
    try:
        yield use_assignment(LOGREG)
    finally:
        use_assignment(ROOT)


@pytest.fixture(scope="module")
def stamped_selfcheck(logreg):
    """The assignment's committed selfcheck.py, imported as a student's Python imports it."""
    spec = importlib.util.spec_from_file_location("logreg_selfcheck", logreg.template_dir / "selfcheck.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import does: its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _notebook(name: str) -> nbformat.NotebookNode:
    if name == "template":
        return nbformat.read(TEMPLATE, as_version=4)
    notebook = nbformat.read(SOLVED, as_version=4)
    for old, new in CORPUS[name][0]:
        cells = [cell for cell in notebook.cells if cell.cell_type == "code" and old in cell.source]
        assert cells, f"{name}: {old!r} is not in the solved notebook"
        cells[0].source = cells[0].source.replace(old, new, 1)
    return notebook


def _namespace(notebook: nbformat.NotebookNode) -> dict:
    """The notebook's code run here (our own corpus), its training shortened; cells registered as IPython does,
    so that the self-check reads the functions' sources."""
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source.replace("EPOCHS = 500", "EPOCHS = 3")
        name = f"<notebook cell: {hashlib.sha256(source.encode()).hexdigest()[:12]}>"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)
    return namespace


def test_the_committed_selfcheck_and_its_cases_are_current(logreg):
    rubric = load_rubric()
    assert (logreg.template_dir / "selfcheck.py").read_text() == selfcheck_source(logreg, rubric), (
        "run `python tools/build_student_bundle.py --assignment-dir examples/assignments/logreg`"
    )
    assert stale_cases(logreg, rubric) == []


def test_the_public_cases_have_every_kind_the_hidden_ones_have(logreg):
    rubric = load_rubric()
    hidden, public = generate_cases(rubric.run.grading_epochs), generate_cases(150, logreg.public_cases_file)
    for item, cases in hidden.items():
        assert {case.name for case in cases} <= {case.name for case in public[item]}
        assert all(case.spec != twin.spec for case in cases for twin in public[item])  # other sizes


@pytest.mark.parametrize("name", ["template", *CORPUS])
def test_a_function_passes_the_self_check_exactly_when_the_grader_gives_it_full_marks(
    name, logreg, stamped_selfcheck, tmp_path
):
    rubric = load_rubric()
    notebook = _notebook(name)
    namespace = _namespace(notebook)
    cases = generate_cases(rubric.run.grading_epochs)
    outcomes = outcomes_in_process(namespace, cases, tmp_path, rubric.watched)
    scored = score_all(
        cases, outcomes, rubric, forbidden_uses(notebook, rubric), ignored_arguments_of(notebook, rubric)
    )
    graded = {logreg.ITEMS[item].function: item for item in logreg.ITEMS}
    at_grader = {function for function, item in graded.items() if any(t.item == item and not t.passed for t in scored)}
    at_selfcheck = {o.item for o in stamped_selfcheck.run_checks(namespace) if not o.passed}
    assert at_selfcheck == at_grader, f"the self-check fails {at_selfcheck}, the grader docks {at_grader}"
    wanted = {"descent_step", "train_logistic"} if name == "template" else CORPUS[name][1]
    if wanted is not None:  # None: a policy either way, so long as both judges take the same
        assert at_grader == wanted


def test_the_corpus_fails_every_function_somewhere():
    assert len(CORPUS) >= 15
    assert set(FUNCTIONS) == set().union(*(wanted for _, wanted in CORPUS.values() if wanted))


@pytest.mark.slow
def test_the_students_zip_runs_its_self_check_from_a_shell(logreg, tmp_path):
    """Unzipped as a student unzips it: the template's planted bug is named (with where to look, not the fix) and
    the command fails; the solved notebook passes."""
    with zipfile.ZipFile(build_bundle(logreg, tmp_path / "logreg-student.zip", load_rubric())) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path)
    assert names == sorted(
        f"logreg/{name}"
        for name in ("logreg.ipynb", "selfcheck.py", "selfcheck_cases.npz", "README.md", "Makefile", "requirements.txt")
    )
    folder = tmp_path / "logreg"
    assert "def logistic_loss" not in (folder / "selfcheck.py").read_text()  # never the reference's code
    nbformat.write(nbformat.read(SOLVED, as_version=4), folder / "solved.ipynb")

    def check(notebook: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "selfcheck.py", notebook]
        return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)

    template, solved = check("logreg.ipynb"), check("solved.ipynb")
    assert template.returncode == 1, template.stdout + template.stderr
    assert "FAIL step (descent_step)" in template.stdout and "Hint (step_sign)" in template.stdout
    assert "w + learning_rate" not in template.stdout and "PASS loss (logistic_loss)" in template.stdout
    assert solved.returncode == 0 and "4 of 4 functions passed every check" in solved.stdout, solved.stdout
    assert "the notebook ran with EPOCHS = 50" in solved.stdout


def test_a_file_the_zip_names_must_exist_before_anything_is_written(logreg, tmp_path, monkeypatch):
    monkeypatch.setattr(logreg.module, "BUNDLE_FILES", ("README.md", "NOTES.md"))
    with pytest.raises(BundleError, match="NOTES.md"):
        build_bundle(logreg, tmp_path / "bundle.zip", load_rubric())
    assert not (tmp_path / "bundle.zip").exists()
