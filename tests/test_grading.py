"""The grader's promises, proved on one batch graded once: reference, template, mutants, equivalents, bad input."""

from __future__ import annotations

import json

import nbformat
import pytest

from examples.build_examples import fixed_template, replace_code
from grader.pipeline import grade_batch
from grader.rubric import AUTOMATIC_ITEMS

from .conftest import append_code

# Mutants of the reference: each breaks one item. train_manual composes all the others, so a mutant
# that breaks training also costs train_manual; every other item must keep full marks.
MUTANTS = {
    "sign_flipped": ("sgd_update", " -= learning_rate * dL_d", " += learning_rate * dL_d", 4),
    "dW1_transposed": ("backward", "dL_dW1 = X.T @ dL_dz1", "dL_dW1 = (X.T @ dL_dz1).T", 1),
    "dW1_as_X_dz1T": ("backward", "dL_dW1 = X.T @ dL_dz1", "dL_dW1 = X @ dL_dz1.T", 1),
    "missing_1_over_N": ("backward", "dL_dz2 = (p_hat - y_one_hot) / y.shape[0]", "dL_dz2 = (p_hat - y_one_hot)", 1),
    "no_relu_mask": ("backward", "dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1", 1),
    "db1_wrong_axis": ("backward", "dL_db1 = torch.sum(dL_dz1, dim=0)", "dL_db1 = torch.sum(dL_dz1, dim=1)", 1),
    "loss_summed": (
        "loss_fn",
        "nll = torch.mean(-torch.log(correct_class_prob))",
        "nll = torch.sum(-torch.log(correct_class_prob))",
        1,
    ),
    "W1_shape_hd": (
        "init_params",
        "W1 = torch.randn(d, h, requires_grad=False) * 0.01",
        "W1 = torch.randn(h, d, requires_grad=False) * 0.01",
        1,
    ),
}

NUMPY_BACKWARD = """
    import numpy as np
    X, z1, a1, p_hat, W2 = (np.asarray(t, dtype=np.float64) for t in (X, z1, a1, p_hat, W2))
    one_hot = np.eye(p_hat.shape[1])[np.asarray(y)]
    dz2 = (p_hat - one_hot) / len(one_hot)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    return X.T @ dz1, dz1.sum(axis=0), a1.T @ dz2, dz2.sum(axis=0)
"""


def equivalents(solved):
    numpy_style = replace_code(
        solved, "    # Step 1: Compute gradient of loss w.r.t. logits (z2)\n", NUMPY_BACKWARD + "    # unreachable\n"
    )
    numpy_style = replace_code(
        numpy_style, " -= learning_rate * dL_d", " -= torch.as_tensor(learning_rate) * torch.as_tensor(dL_d", 4
    )
    for name in ("W1", "b1", "W2", "b2"):
        numpy_style = replace_code(
            numpy_style, f"torch.as_tensor(dL_d{name}\n", f"torch.as_tensor(dL_d{name}, dtype=torch.float32)\n"
        )
    return {
        "mask_from_a1": replace_code(solved, "(z1 > 0).float()", "(a1 > 0).float()"),
        "loss_via_log_softmax": replace_code(
            solved,
            "nll = torch.mean(-torch.log(correct_class_prob))",
            "nll = F.nll_loss(torch.log_softmax(torch.log(p_y_hat), dim=1), y)",
        ),
        "loss_via_nll_loss": replace_code(
            solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = F.nll_loss(torch.log(p_y_hat), y)"
        ),
        "numpy_backward": numpy_style,
    }


BAD_FILES = {
    "not_json": "this is not a notebook\n",
    "empty": "",
    "nbformat3": json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}),
}


@pytest.fixture(scope="session")
def graded_class(solved, template, quick_rubric, tmp_path_factory):
    """Grade every notebook these tests need in one batch, two at a time, as an instructor would."""
    folder = tmp_path_factory.mktemp("submissions")
    notebooks = {
        "reference": solved,
        "template": template,
        "template_fixed": fixed_template(template),
        "syntax_error": replace_code(solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = torch.mean(("),
        "infinite_loop": append_code(solved, "while True:\n    pass"),
        "kernel_dies": append_code(solved, "import os\nos._exit(1)"),
        "function_raises": replace_code(
            solved, "    y_one_hot = torch.nn", '    raise ValueError("not today")\n    y_one_hot = torch.nn'
        ),
        "missing_function": replace_code(solved, "def forward(", "def forward_pass("),
    }
    for name, (_, old, new, count) in MUTANTS.items():
        notebooks[f"mutant_{name}"] = replace_code(solved, old, new, count)
    notebooks |= {f"equivalent_{name}": nb for name, nb in equivalents(solved).items()}
    notebooks["repeat_a"] = notebooks["repeat_b"] = notebooks["mutant_loss_summed"]
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    for name, text in BAD_FILES.items():
        (folder / f"{name}.ipynb").write_text(text)
    out = tmp_path_factory.mktemp("grades")
    results = grade_batch([folder], out, jobs=2, rubric=quick_rubric)
    return {r.name: r for r in results}, out


def item_scores(result):
    return {item: result.item_score(item) for item in AUTOMATIC_ITEMS}


def full(rubric):
    return dict(rubric.points)


def test_reference_gets_full_marks_on_every_automatic_item(graded_class, rubric):
    results, _ = graded_class
    assert item_scores(results["reference"]) == full(rubric)
    assert results["reference"].problems == []


def test_untouched_template_loses_exactly_the_planted_bugs(graded_class, rubric):
    result = graded_class[0]["template"]
    scores = item_scores(result)
    assert scores["loss_fn"] == scores["init_params"] == scores["sgd_update"] == 0
    assert scores["forward"] == rubric.points["forward"] and scores["backward"] == rubric.points["backward"]
    assert scores["optimizers"] == rubric.points["optimizers"], "the run must continue past the failing cells"
    feedback = result.feedback_markdown()
    assert "NotImplementedError: TODO: implement loss_fn" in feedback
    assert "W2 has shape (2, 10), expected (10, 2)" in feedback
    assert "moved *up* the gradient" in feedback and "use -=" in feedback


def test_template_with_the_bugs_fixed_gets_full_marks(graded_class, rubric):
    assert item_scores(graded_class[0]["template_fixed"]) == full(rubric)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_mutant_loses_points_on_its_own_item_only(graded_class, rubric, mutant):
    item = MUTANTS[mutant][0]
    scores = item_scores(graded_class[0][f"mutant_{mutant}"])
    assert scores[item] < rubric.points[item]
    others = {k: v for k, v in scores.items() if k not in (item, "train_manual")}
    assert others == {k: rubric.points[k] for k in others}


def test_mutant_feedback_points_at_the_mistake(graded_class):
    results, _ = graded_class
    assert "shape (10, 2), expected (2, 10)" in results["mutant_dW1_transposed"].feedback_markdown()
    assert "N times too large" in results["mutant_missing_1_over_N"].feedback_markdown()
    assert "1(z1 > 0)" in results["mutant_no_relu_mask"].feedback_markdown()
    assert "sum of the per-example losses" in results["mutant_loss_summed"].feedback_markdown()
    assert "W1 has shape (10, 2), expected (2, 10)" in results["mutant_W1_shape_hd"].feedback_markdown()


@pytest.mark.parametrize("name", ["mask_from_a1", "loss_via_log_softmax", "loss_via_nll_loss", "numpy_backward"])
def test_equivalent_forms_keep_full_marks(graded_class, rubric, name):
    assert item_scores(graded_class[0][f"equivalent_{name}"]) == full(rubric)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_unreadable_files_get_results_with_a_reason(graded_class, rubric, name):
    results, out = graded_class
    report = json.loads((out / name / "results.json").read_text())
    assert report["score"] == 0
    assert "Could not grade" in report["output"]
    assert {t["name"].split(".")[0] for t in report["tests"]} >= set(AUTOMATIC_ITEMS)
    assert results[name].status == "unreadable"


def test_syntax_error_costs_only_what_depends_on_the_cell(graded_class, rubric):
    result = graded_class[0]["syntax_error"]
    scores = item_scores(result)
    assert scores["loss_fn"] == 0 and "`loss_fn` is not defined" in result.feedback_markdown()
    assert scores["backward"] == rubric.points["backward"] and scores["optimizers"] == rubric.points["optimizers"]
    assert any("SyntaxError" in p for p in result.problems)


def test_infinite_loop_is_interrupted_and_the_rest_is_graded(graded_class, rubric):
    result = graded_class[0]["infinite_loop"]
    assert item_scores(result) == full(rubric)
    assert any("interrupted" in p for p in result.problems)


def test_dead_kernel_gives_zero_with_the_reason(graded_class):
    result = graded_class[0]["kernel_dies"]
    assert result.score == 0
    assert any("kernel died" in p for p in result.problems)
    assert "kernel had died" in result.to_gradescope()["tests"][0]["output"]


def test_a_function_that_raises_is_reported_with_its_error(graded_class, rubric):
    result = graded_class[0]["function_raises"]
    assert item_scores(result)["backward"] == 0
    assert item_scores(result)["forward"] == rubric.points["forward"]
    assert "raised ValueError: not today" in result.feedback_markdown()


def test_a_missing_function_scores_zero_and_says_so(graded_class, rubric):
    result = graded_class[0]["missing_function"]
    assert item_scores(result)["forward"] == 0
    assert "`forward` is not defined at the top level" in result.feedback_markdown()
    assert item_scores(result)["backward"] == rubric.points["backward"]


def test_grading_the_same_notebook_twice_gives_the_same_results(graded_class):
    results, out = graded_class
    a = json.loads((out / "repeat_a" / "results.json").read_text())
    b = json.loads((out / "repeat_b" / "results.json").read_text())
    assert a["tests"] == b["tests"] and a["score"] == b["score"]


def test_every_submission_has_its_files_and_a_gradebook_row(graded_class, rubric):
    results, out = graded_class
    for name in results:
        report = json.loads((out / name / "results.json").read_text())
        assert set(report) >= {"score", "execution_time", "output", "tests"}
        for test in report["tests"]:
            assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
            assert test["name"].split(".")[0] in set(AUTOMATIC_ITEMS) | {"written"}
        assert (out / name / "feedback.md").read_text().startswith("# MessMaster part 2")
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert gradebook[0].startswith("name,total,max,status," + ",".join(AUTOMATIC_ITEMS))
    assert len(gradebook) == 1 + len(results)


def test_written_answers_are_in_the_results_for_reviewers(graded_class, rubric):
    report = graded_class[0]["reference"].to_gradescope()
    written = {t["name"]: t for t in report["tests"] if t["name"].startswith("written.")}
    assert set(written) == {f"written.{q}" for q in rubric.written}
    assert all(t["score"] == 0 for t in written.values())
    assert "validation set" in written["written.q1a"]["output"]
