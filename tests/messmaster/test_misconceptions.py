"""The misconception catalogue: each known mistake, planted alone in the reference, is named in its feedback (and
the self-check names it too where its oracles allow); right code is never given one."""

from __future__ import annotations

import re

import pytest

from examples.build_examples import replace_code
from grader.shared.catalogue import MISCONCEPTIONS
from student_template import selfcheck

from ..helpers import graded_namespace, item_scores, only_items, outputs, score_in_process

# mistake -> (the item it costs, old, new): the reference with that one mistake
PLANTED = {
    "loss_not_averaged": (
        "loss_fn",
        "nll = torch.mean(-torch.log(correct_class_prob))",
        "nll = -torch.log(correct_class_prob)",
    ),
    "loss_summed": ("loss_fn", "nll = torch.mean(-torch.log(", "nll = torch.sum(-torch.log("),
    # the template's comments invite it: p_y_hat[correct_class_loc] with correct_class_loc = range(N)
    "loss_whole_rows": ("loss_fn", "p_y_hat[correct_class_loc, y]", "p_y_hat[correct_class_loc]"),
    "loss_whole_columns": ("loss_fn", "p_y_hat[correct_class_loc, y]", "p_y_hat[:, y]"),
    # the handout's step 1 read as "the correct class's location is y"
    "loss_rows_by_label": ("loss_fn", "p_y_hat[correct_class_loc, y]", "p_y_hat[y]"),
    "weights_shapes_swapped": ("init_params", "W1 = torch.randn(d, h,", "W1 = torch.randn(h, d,"),
    "softmax_overflow": (
        "forward",
        "p_hat = torch.softmax(z2, dim=1)",
        "p_hat = torch.exp(z2) / torch.exp(z2).sum(dim=1, keepdim=True)",
    ),
    "gradient_transposed": ("backward", "dL_dW1 = X.T @ dL_dz1", "dL_dW1 = (X.T @ dL_dz1).T"),
    "gradient_not_divided_by_n": (
        "backward",
        "dL_dz2 = (p_hat - y_one_hot) / y.shape[0]",
        "dL_dz2 = p_hat - y_one_hot",
    ),
    "relu_mask_missing": ("backward", "dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1"),
    "relu_mask_from_wrong_tensor": ("backward", "dL_da1 * (z1 > 0).float()", "dL_da1 * (dL_da1 > 0).float()"),
    "bias_summed_over_wrong_axis": (
        "backward",
        "dL_db1 = torch.sum(dL_dz1, dim=0)",
        "dL_db1 = torch.sum(dL_dz1, dim=1)",
    ),
    "update_sign": ("sgd_update", "W1 -= learning_rate", "W1 += learning_rate"),
    "optimizers_start_apart": ("optimizers", "    torch.manual_seed(seed)\n", ""),
    "sizes_hard_coded": ("forward", "z1 = X @ W1 + b1  # Shape", "z1 = X @ W1 + b1.reshape(1, 10)  # Shape"),
    "globals_for_arguments": ("forward", "z1 = X @ W1 + b1  # Shape", "z1 = X_train_tensor @ W1 + b1  # Shape"),
    # a learning rate written in: the grader's calls pass the default, 0.1
    "argument_ignored": ("train_manual", "    k = 2  # Chihuahua or muffin\n", "    k, learning_rate = 2, 0.5\n"),
}
# what the notebook would have defined at the top level, for the mistake that reaches for it
NOTEBOOK_GLOBALS = "X_train_tensor = torch.randn(800, 2)"


def named(text: str) -> set[str]:
    return set(re.findall(r"Hint \((\w+)\)", text))


def test_every_catalogued_mistake_is_planted_here():
    assert set(PLANTED) == set(MISCONCEPTIONS)
    assert all(MISCONCEPTIONS[name].item in ("", item) for name, (item, _, _) in PLANTED.items())


def test_right_code_is_given_no_mistake(solved, test_rubric, cases, tmp_path):
    tests = score_in_process(solved, test_rubric, cases, tmp_path, NOTEBOOK_GLOBALS)
    assert named(outputs(tests)) == set()
    assert named(str([o.message for o in selfcheck.run_checks(graded_namespace(solved))])) == set()


@pytest.mark.parametrize("mistake", list(PLANTED))
def test_a_planted_mistake_is_named_in_the_feedback_of_its_item(mistake, solved, test_rubric, cases, tmp_path):
    item, old, new = PLANTED[mistake]
    planted = replace_code(solved, old, new)
    only = {item: cases[item]}
    rubric = only_items(test_rubric, [item])
    tests = score_in_process(planted, rubric, only, tmp_path, NOTEBOOK_GLOBALS)
    assert item_scores(tests, rubric)[item] < rubric.points[item]
    assert mistake in named(outputs(tests)), outputs(tests)
    sentence = MISCONCEPTIONS[mistake].says
    assert any(sentence in t.output for t in tests)


@pytest.mark.parametrize("mistake", list(PLANTED))
def test_the_selfcheck_names_the_same_mistake(mistake, solved):
    item, old, new = PLANTED[mistake]
    namespace = graded_namespace(replace_code(solved, old, new), NOTEBOOK_GLOBALS)
    function = "train_with_optimizer" if item == "optimizers" else item
    messages = " ".join(o.message for o in selfcheck.run_checks(namespace, [function]) if not o.passed)
    assert mistake in named(messages), messages
