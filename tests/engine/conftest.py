"""The engine's kernel tests grade the small assignment (examples/assignments/logreg): its kernels import torch
alone and its hidden trainings take milliseconds, so a kernel test costs a kernel's start and what it tests.

`engine_class` is their one graded batch: files that are not notebooks, notebooks that break their kernel (a
syntax error, an endless loop, a cell or a call no signal stops, a kernel that exits), exports as they come (a
script, a zip in a zip, format 3, a lone surrogate) and a corpus of hostile submissions, each trying one kind of
thing. All are minimal notebooks: the logistic regression's graded functions and the cells under test.
"""

from __future__ import annotations

import io
import json
import socket
import zipfile
from pathlib import Path

import jupytext
import nbformat
import pytest

from examples.build_examples import replace_code
from grader.pipeline import grade_class
from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SandboxMode

from ..helpers import (
    BAD_FILES,
    LOGREG,
    LOGREG_SOLVED,
    LOGREG_TEMPLATE,
    SANDBOXED,
    UNINTERRUPTIBLE_CELL,
    assignment_of_process,
    attacks,
    computed_once,
    minimal_notebook,
    read,
    with_run,
)

# the logistic regression's step, hanging past every signal the grader sends (asleep, as UNINTERRUPTIBLE_CELL), and
# a training that takes its steps itself (the training, graded after the step, is harvested by a fresh kernel)
HANGING_STEP = """
import signal, time
def descent_step(*args, **kwargs):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        time.sleep(1)

def train_logistic(X, y, learning_rate=0.5, epochs=500):
    w, b = torch.zeros(X.shape[1]), torch.tensor(0.0)
    history = []
    for _ in range(epochs):
        history.append(logistic_loss(w, b, X, y).item())
        dw, db = logistic_gradient(w, b, X, y)
        w, b = w - learning_rate * dw, b - learning_rate * db
    return w, b, history
"""
SUMMED_LOSS = ("softplus(z)).mean()", "softplus(z)).sum()")  # a mistake: loss and the training lose points


@pytest.fixture
def as_logreg():
    """The small assignment as this process's for one test (what the command line's --assignment-dir does)."""
    with assignment_of_process(LOGREG):
        yield


@pytest.fixture(scope="module")
def as_logreg_module():
    """as_logreg for a whole module: its kernels' zygote, kept by this process from test to test, is the small
    assignment's (it imports torch and ipykernel alone: seconds sooner than MessMaster's)."""
    with assignment_of_process(LOGREG):
        yield


@pytest.fixture(scope="session")
def logreg_rubric() -> Rubric:
    """The small assignment's rubric with short time limits (its cells and calls take milliseconds) and three
    kernels per submission, so that hanging submissions cost seconds and kernel losses can be counted."""
    with assignment_of_process(LOGREG):
        rubric = load_rubric()
    return with_run(rubric, cell_timeout=6, call_timeout=3, recovery_timeout=4, notebook_timeout=60, kernel_restarts=2)


@pytest.fixture(scope="session")
def logreg_solved() -> nbformat.NotebookNode:
    return read(LOGREG_SOLVED)


@pytest.fixture(scope="session")
def logreg_template() -> nbformat.NotebookNode:
    return read(LOGREG_TEMPLATE)


@pytest.fixture(scope="session")
def engine_class(logreg_solved, logreg_template, logreg_rubric, tmp_path_factory) -> tuple[dict, Path, bool]:
    """The engine's one graded batch (see grade_engine_batch), graded once for every pytest-xdist worker."""

    def grade() -> tuple[dict, Path, bool]:
        with assignment_of_process(LOGREG):
            return grade_engine_batch(logreg_solved, logreg_template, logreg_rubric, tmp_path_factory)

    with assignment_of_process(LOGREG):  # what a worker unpickles names the small assignment's module
        return computed_once(tmp_path_factory, "engine_class", grade)


def grade_engine_batch(solved, template, rubric: Rubric, tmp_path_factory) -> tuple[dict, Path, bool]:
    """Grade every notebook the engine's kernel tests need in one batch, as an instructor would: three at a time,
    because its hangs sleep, and a third kernel takes the core they leave (30 s for the batch, not 38).

    Returns results by student, the class folder, and whether any kernel reached a server on the grader's
    loopback.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    folder = tmp_path_factory.mktemp("engine-submissions")
    out = tmp_path_factory.mktemp("engine-grades")
    summed = minimal_notebook(replace_code(solved, *SUMMED_LOSS))
    notebooks = {
        "alice": minimal_notebook(solved),
        "bob": minimal_notebook(template),
        "syntax_error": minimal_notebook(replace_code(solved, "z = X @ w + b\n    return (y", "z = X @ w + (\n    (y")),
        "repeat_a": summed,
        "repeat_b": nbformat.from_dict(json.loads(json.dumps(summed))),
    }
    # other bytes, the same code: a repeat that the store's cache cannot answer, so it really runs twice
    notebooks["repeat_b"].metadata["repeat"] = "b"
    # correct functions, then a cell no interrupt stops; correct functions but one graded call that hangs so
    notebooks["lost_in_a_cell"] = minimal_notebook(solved, UNINTERRUPTIBLE_CELL, "after_the_lost_cell = 1")
    notebooks["lost_in_a_call"] = minimal_notebook(solved, HANGING_STEP)
    if SANDBOXED:  # the attacks include an endless cell and a kernel that exits
        for name, cells in attacks(str(out), server.getsockname()[1]).items():
            notebooks[f"attack_{name}"] = minimal_notebook(template, *cells)
    else:
        notebooks["attack_infinite_loop"] = minimal_notebook(template, *attacks("", 0)["infinite_loop"])
        notebooks["attack_os_exit"] = minimal_notebook(template, *attacks("", 0)["os_exit"])
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    # correct functions, and half of a UTF-16 pair in a Markdown cell (JSON may escape one: "\ud800")
    surrogate = minimal_notebook(solved)
    surrogate.cells.append(nbformat.v4.new_markdown_cell("a lone surrogate: \ud800"))
    (folder / "surrogate_markdown.ipynb").write_text(json.dumps(surrogate), encoding="ascii")
    # correct functions in a notebook saved by an old Jupyter (format 3: worksheets, `input`)
    nbformat.write(minimal_notebook(solved), folder / "format3.ipynb", version=3)
    # correct functions handed in as a jupytext script, and zipped inside a zip (alice's bytes: graded once)
    (folder / "scripted.py").write_text(jupytext.writes(minimal_notebook(solved), fmt="py:percent"))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("work/logreg.ipynb", nbformat.writes(notebooks["alice"]))
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
    for name, text in BAD_FILES.items():
        (folder / f"{name}.ipynb").write_text(text)
    sandbox = SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    run = grade_class([folder], out, rubric, jobs=3, sandbox=sandbox)
    try:
        server.accept()
        contacted = True
    except OSError:
        contacted = False
    server.close()
    assert run.errors == [] and run.reused == 0
    return {r.identity.student: r for r in run.results}, out, contacted
