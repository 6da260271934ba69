"""Fixtures shared by the test modules: the rubric, the built notebooks, hidden cases at test size, one graded batch."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tempfile
import zipfile
from pathlib import Path

import jupytext
import nbformat
import pytest

from examples.build_examples import OUT as EXAMPLES
from examples.build_examples import replace_code
from grader.items import generate_cases
from grader.pipeline import grade_class
from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SLOTS_VARIABLE, SandboxMode
from grader.shared.outcomes import Case

from .helpers import (
    BAD_FILES,
    BENIGN_THREADS,
    HANGING_TRAIN_MANUAL,
    HELPERS_STARTED_EARLIER,
    SANDBOXED,
    SOLVED,
    TEMPLATE,
    UNINTERRUPTIBLE_CELL,
    attacks,
    fork_server,
    minimal_notebook,
    mutant,
    read,
    with_run,
)

# The reference's numbers are kept for this session only (the grader keeps them in the user's cache folder): a
# test never reads what another session's code computed
# (pytest-xdist's workers share their controller's)
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["GRADER_CACHE"] = tempfile.mkdtemp(prefix="grader-cache-")
else:  # each worker's kernels run as users of its own slots: a test that finds none left sees only its worker's
    worker = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    os.environ[SLOTS_VARIABLE] = f"{worker * 100}-{worker * 100 + 99}"
# The self-checks tests run from a shell keep no kernel ready for a next check (one test turns it on and ends it)
os.environ["SELFCHECK_SPARE"] = "0"

# The hidden trainings run for this many epochs in tests: the reference is past the holdout bar from 200
# on (test_scoring checks it also is at the rubric's own epochs and at half of them), and 300 cost 3/5 of 500.
TEST_EPOCHS = 300
# the examples graded as whole notebooks in the shared batch: a correct one, the template, one with a mistake
WHOLE_EXAMPLES = ("alice_correct", "bob_untouched_template", "carol_forgot_sign")


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric()


@pytest.fixture(scope="session")
def test_rubric(rubric: Rubric) -> Rubric:
    """The real rubric with fewer epochs and short time limits, so that hanging submissions cost seconds."""
    return with_run(
        rubric, grading_epochs=TEST_EPOCHS, cell_timeout=15, notebook_timeout=150, call_timeout=10, recovery_timeout=10
    )


@pytest.fixture(scope="session")
def cases(test_rubric: Rubric) -> dict[str, list[Case]]:
    return generate_cases(test_rubric.run.grading_epochs)


@pytest.fixture(scope="session")
def solved() -> nbformat.NotebookNode:
    return read(SOLVED)


@pytest.fixture(scope="session")
def template() -> nbformat.NotebookNode:
    return read(TEMPLATE)


@pytest.fixture(scope="session")
def graded_class(solved, template, test_rubric, tmp_path_factory):
    """The one graded batch of the session (see grade_batch). Under pytest-xdist the first worker that asks grades
    it, holding a lock in the folder the workers share, and keeps it there; a worker that asks later reads it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return grade_batch(solved, template, test_rubric, tmp_path_factory)
    import fcntl
    import pickle

    shared = tmp_path_factory.getbasetemp().parent  # the controller's: every worker's basetemp is in it
    with open(shared / "graded_class.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held while the batch is graded: another worker waits for it
        kept = shared / "graded_class.pickle"
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        graded = grade_batch(solved, template, test_rubric, tmp_path_factory)
        kept.write_bytes(pickle.dumps(graded))
        return graded


def grade_batch(solved, template, test_rubric, tmp_path_factory) -> tuple[dict, Path, bool]:
    """Grade every notebook the kernel tests need in one batch, two at a time, as an instructor would.

    The examples and the solved notebook in full; minimal notebooks (the reference's or the template's
    graded functions and one more cell) for the rest. Returns results by student, the class folder, and
    whether any kernel reached a server on the grader's loopback.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    folder = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    notebooks = {
        "syntax_error": minimal_notebook(
            replace_code(solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = torch.mean((")
        ),
        "repeat_a": minimal_notebook(mutant(solved, "loss_summed")),
        "repeat_b": minimal_notebook(mutant(solved, "loss_summed")),
    }
    # other bytes, the same code: a repeat that the store's cache cannot answer, so it really runs twice
    notebooks["repeat_b"].metadata["repeat"] = "b"
    notebooks |= {"alice": minimal_notebook(solved), "bob": minimal_notebook(template)}
    # correct functions, then a cell no interrupt stops; correct functions but one graded call that hangs so
    notebooks["lost_in_a_cell"] = minimal_notebook(solved, UNINTERRUPTIBLE_CELL, "after_the_lost_cell = 1")
    notebooks["lost_in_a_call"] = minimal_notebook(solved, HANGING_TRAIN_MANUAL)
    # backward's work handed to a helper started in an earlier cell; what a notebook may leave running
    notebooks["helper_thread"] = minimal_notebook(solved, HELPERS_STARTED_EARLIER["worker_thread"])
    notebooks["helper_fork"] = minimal_notebook(solved, fork_server(autograd=True))
    notebooks["benign_threads"] = minimal_notebook(solved, BENIGN_THREADS)
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
        archive.writestr("work/messmaster_part2.ipynb", nbformat.writes(notebooks["alice"]))
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
    for name, text in BAD_FILES.items():
        (folder / f"{name}.ipynb").write_text(text)
    for name in WHOLE_EXAMPLES:  # whole notebooks, as `make grade` grades them (the others: test_scoring.py)
        shutil.copy(EXAMPLES / f"{name}.ipynb", folder)
    sandbox = SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    run = grade_class([folder], out, test_rubric, jobs=2, sandbox=sandbox)
    try:
        server.accept()
        contacted = True
    except OSError:
        contacted = False
    server.close()
    assert run.errors == [] and run.reused == 0
    return {r.identity.student: r for r in run.results}, out, contacted
