"""Fixtures shared by the test modules: MessMaster's rubric, its built notebooks, hidden cases at test size, its one
graded batch. The engine's tests grade the small assignment (tests/engine/conftest.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest

from examples.build_examples import OUT as EXAMPLES
from grader.items import generate_cases
from grader.pipeline import grade_class
from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SLOTS_VARIABLE, SandboxMode
from grader.shared.outcomes import Case

from .helpers import (
    BENIGN_THREADS,
    HELPERS_STARTED_EARLIER,
    MESSMASTER,
    SANDBOXED,
    SOLVED,
    TEMPLATE,
    assignment_of_process,
    computed_once,
    fork_server,
    minimal_notebook,
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
# nor does a grading command keep its zygotes' keeper warm after it (tests/engine/test_zygote.py turns it on)
os.environ["GRADER_KEEP_WARM"] = "0"

# The hidden trainings run for this many epochs in tests: the reference is past the holdout bar from 200
# on (test_scoring checks it also is at the rubric's own epochs and at half of them), and 300 cost 3/5 of 500.
TEST_EPOCHS = 300
# the examples graded as whole notebooks in the shared batch: a correct one, the template, one with a mistake
WHOLE_EXAMPLES = ("alice_correct", "bob_untouched_template", "carol_forgot_sign")


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    """MessMaster's rubric, whichever assignment the process has when a test first asks for it (a module of the
    engine's, run as the small assignment's, asks for its limits): kept for the session, it must be MessMaster's."""
    with assignment_of_process(MESSMASTER.root):
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
    """MessMaster's one graded batch of the session (see grade_batch), graded once for every pytest-xdist worker."""
    return computed_once(
        tmp_path_factory, "graded_class", lambda: grade_batch(solved, template, test_rubric, tmp_path_factory)
    )


def grade_batch(solved, template, test_rubric, tmp_path_factory) -> tuple[dict, Path]:
    """Grade, two at a time as an instructor would, what MessMaster's kernel tests need: three bundled examples
    whole, as `make grade` grades them; the reference's and the template's graded functions alone (minimal
    notebooks); backward's autograd handed to a helper started earlier, and what a notebook may leave running.
    What every assignment's kernels face (attacks, hangs, broken files) is the engine's batch, on the small
    assignment (tests/engine/conftest.py). Returns results by student and the class folder.
    """
    folder = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    notebooks = {"alice": minimal_notebook(solved), "bob": minimal_notebook(template)}
    # backward's work handed to a helper started in an earlier cell; what a notebook may leave running
    notebooks["helper_thread"] = minimal_notebook(solved, HELPERS_STARTED_EARLIER["worker_thread"])
    notebooks["helper_fork"] = minimal_notebook(solved, fork_server(autograd=True))
    notebooks["benign_threads"] = minimal_notebook(solved, BENIGN_THREADS)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    for name in WHOLE_EXAMPLES:  # whole notebooks, as `make grade` grades them (the others: test_scoring.py)
        shutil.copy(EXAMPLES / f"{name}.ipynb", folder)
    sandbox = SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    run = grade_class([folder], out, test_rubric, jobs=2, sandbox=sandbox)
    assert run.errors == [] and run.reused == 0
    return {r.identity.student: r for r in run.results}, out
