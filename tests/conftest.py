"""Shared fixtures: the built notebooks, notebook surgery, and one graded batch reused by many tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest

from grader.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "reference" / "messmaster_part2_solution.ipynb"
TEMPLATE = ROOT / "student_template" / "messmaster_part2.ipynb"
FILES = Path(__file__).resolve().parent / "files"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def replace_code(notebook: nbformat.NotebookNode, old: str, new: str, count: int = 1) -> nbformat.NotebookNode:
    """A copy with `old` replaced by `new` in the code cells; fails loudly if `old` is not there `count` times."""
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    found = sum(cell.source.count(old) for cell in copy.cells if cell.cell_type == "code")
    assert found == count, f"expected {count} occurrence(s) of {old!r} in the code, found {found}"
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(old, new)
    return copy


def append_code(notebook: nbformat.NotebookNode, source: str, at: int | None = None) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    cell = nbformat.v4.new_code_cell(source)
    copy.cells.insert(len(copy.cells) if at is None else at, cell)
    return copy


def fixed_template() -> nbformat.NotebookNode:
    """What a student hands in after fixing the planted bugs and writing loss_fn."""
    template = read(TEMPLATE)
    fixed = replace_code(template, "W2 = torch.randn(k, h,", "W2 = torch.randn(h, k,")
    fixed = replace_code(fixed, " += learning_rate * dL_d", " -= learning_rate * dL_d", count=4)
    return replace_code(
        fixed,
        'raise NotImplementedError("TODO: implement loss_fn")',
        "correct_class_prob = p_y_hat[range(y.shape[0]), y]\n    return torch.mean(-torch.log(correct_class_prob))",
    )


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
