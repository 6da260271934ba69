"""Shared fixtures: the built notebooks, notebook surgery, and one graded batch reused by many tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest

from examples.build_examples import copy_notebook
from grader.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "reference" / "messmaster_part2_solution.ipynb"
TEMPLATE = ROOT / "student_template" / "messmaster_part2.ipynb"
FILES = Path(__file__).resolve().parent / "files"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def append_code(notebook: nbformat.NotebookNode, source: str, at: int | None = None) -> nbformat.NotebookNode:
    copy = copy_notebook(notebook)
    copy.cells.insert(len(copy.cells) if at is None else at, nbformat.v4.new_code_cell(source))
    return copy


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric()


@pytest.fixture(scope="session")
def quick_rubric(rubric: Rubric) -> Rubric:
    """The real rubric with short time limits, so that hanging submissions cost the suite seconds."""
    return dataclasses.replace(rubric, cell_timeout=20, notebook_timeout=150, call_timeout=20)


@pytest.fixture(scope="session")
def solved() -> nbformat.NotebookNode:
    return read(SOLVED)


@pytest.fixture(scope="session")
def template() -> nbformat.NotebookNode:
    return read(TEMPLATE)


INSPECT_NAMES = """
import json as _json
_found = {}
for _name in ["W1", "b1", "W2", "b2", "loss_history_sgd", "loss_history_adam", "loss_fn", "init_params",
              "forward", "backward", "sgd_update", "train_manual", "train_with_optimizer", "EPOCHS"]:
    _value = globals().get(_name)
    if _value is None:
        _found[_name] = None
    elif hasattr(_value, "shape"):
        _found[_name] = list(_value.shape)
    elif isinstance(_value, list):
        _found[_name] = [len(_value), all(isinstance(v, float) for v in _value)]
    else:
        _found[_name] = type(_value).__name__
with open("names.json", "w") as _f:
    _json.dump(_found, _f)
"""


def execute_notebook(notebook: nbformat.NotebookNode, scratch: Path, epochs: int):
    """Run a notebook as the grader does (fresh kernel, students' files, EPOCHS overridden).

    Returns the run log and, for the names the contract promises, their shapes or types.
    """
    from grader.execute import NotebookRunner, run_notebook, with_parameters
    from grader.kernel import start_kernel, stop_kernel
    from grader.pipeline import make_workspace

    workspace = make_workspace(scratch, notebook)
    manager = start_kernel(workspace)
    try:
        with NotebookRunner(manager, with_parameters(notebook, {"EPOCHS": epochs}), cell_timeout=300) as runner:
            log = run_notebook(runner, notebook_timeout=600)
            runner.run_extra_cell(nbformat.v4.new_code_cell(INSPECT_NAMES), timeout=30)
    finally:
        stop_kernel(manager)
    return log, json.loads((workspace / "names.json").read_text())


@pytest.fixture(scope="session")
def executed_solved(solved, tmp_path_factory):
    return execute_notebook(solved, tmp_path_factory.mktemp("solved"), epochs=200)


@pytest.fixture(scope="session")
def executed_template(template, tmp_path_factory):
    return execute_notebook(template, tmp_path_factory.mktemp("template"), epochs=200)
