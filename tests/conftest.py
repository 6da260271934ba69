"""Fixtures shared by the test modules: the rubric, the built notebooks, the hidden cases at test size."""

from __future__ import annotations

import nbformat
import pytest

from grader.cases import Case, generate_cases
from grader.rubric import Rubric, load_rubric

from .helpers import SOLVED, TEMPLATE, read, with_run

# The hidden trainings run for this many epochs in tests: the reference is past the holdout bar from 200
# on (test_scoring checks it also is at the rubric's own epochs), and 300 cost a fifth of 1,500.
TEST_EPOCHS = 300


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric()


@pytest.fixture(scope="session")
def test_rubric(rubric: Rubric) -> Rubric:
    """The real rubric with fewer epochs and short time limits, so that hanging submissions cost seconds."""
    return with_run(rubric, grading_epochs=TEST_EPOCHS, cell_timeout=15, notebook_timeout=150, call_timeout=3)


@pytest.fixture(scope="session")
def cases(test_rubric: Rubric) -> dict[str, list[Case]]:
    return generate_cases(test_rubric.run.grading_epochs)


@pytest.fixture(scope="session")
def solved() -> nbformat.NotebookNode:
    return read(SOLVED)


@pytest.fixture(scope="session")
def template() -> nbformat.NotebookNode:
    return read(TEMPLATE)
