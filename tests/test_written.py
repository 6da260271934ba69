"""Written answers are found where the template puts them, and where students move or split them."""

from __future__ import annotations

import nbformat

from examples.build_examples import copy_notebook
from grader.judge.written import extract_written_answers


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
