"""The notebooks run in a real kernel: the solution end to end, the template until its planted bug."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.run.execute import CellStatus

from ..helpers import execute_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(solved, template, rubric, tmp_path_factory):
    """Both notebooks run at once, each in its own kernel (the kernels are other processes: threads suffice)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {
            name: pool.submit(execute_notebook, notebook, rubric, rubric.run.notebook_epochs)
            for name, notebook in (("solved", solved), ("template", template))
        }
        return {name: run.result() for name, run in runs.items()}


@pytest.fixture(scope="module")
def executed_solved(executed):
    return executed["solved"]


@pytest.fixture(scope="module")
def executed_template(executed):
    return executed["template"]


def test_solved_notebook_runs_end_to_end(executed_solved):
    log, _ = executed_solved
    assert log.stopped_because == ""
    assert log.failed_cells == []


def test_solved_notebook_leaves_the_promised_names(executed_solved, rubric):
    """At the grader's short notebook_epochs the notebook still leaves every name it promises, with its shape."""
    _, names = executed_solved
    epochs = rubric.run.notebook_epochs
    assert names["W1"] == [2, 10] and names["b1"] == [10] and names["W2"] == [10, 2] and names["b2"] == [2]
    assert names["loss_history_sgd"] == [epochs, True]
    assert names["loss_history_adam"] == [epochs, True]
    assert names["EPOCHS"] == "int"
    for function in (
        "loss_fn",
        "init_params",
        "forward",
        "backward",
        "sgd_update",
        "train_manual",
        "train_with_optimizer",
    ):
        assert names[function] == "function"


def test_template_stops_at_the_planted_w2_shape_bug(executed_template, rubric):
    log, names = executed_template
    errors = [c for c in log.cells if c.status == CellStatus.ERROR]
    first = errors[0]
    assert first.error.startswith("RuntimeError: mat1 and mat2 shapes cannot be multiplied (800x10 and 2x10)")
    # the run went on past it: the optimizer comparison does not depend on the manual MLP
    epochs = rubric.run.notebook_epochs
    assert names["loss_history_sgd"] == [epochs, True] and names["loss_history_adam"] == [epochs, True]
    assert names["W1"] is None
