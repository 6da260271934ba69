"""MessMaster part 2's mistake catalogue: each known mistake, how its values give it away, what to say and where
in the handout to look; the checks of init_params' first weights. What the grader and the students' self-check
say alike (`make student-bundle` stamps it into the self-check: the standard library and numpy only).

A hint names the symptom and where to look (the question, the step, the docstring), never the corrected code: the
fixes are the assignment's to find.
"""

from __future__ import annotations

import numpy as np

from grader.shared.catalogue import GENERAL_MISTAKES, Misconception

# Where each gradient is computed in the handout's backward pass, for a student whose gradient is wrong.
GRADIENT_HINTS = {
    "dL_dW1": "look at backward's step 5, where dL_dW1 is computed; it has W1's shape",
    "dL_db1": "look at backward's step 5, where dL_db1 is computed; it has b1's shape",
    "dL_dW2": "look at backward's step 2, where dL_dW2 is computed; it has W2's shape",
    "dL_db2": "look at backward's step 2, where dL_db2 is computed; it has b2's shape",
}


def parameter_problem(
    name: str,
    value: object,
    shape: tuple[int, ...],
    weight_std: tuple[float, float],
    weight_std_min_size: int,
    weight_max_abs: float,
) -> str:
    """What is wrong with an initial parameter (shape, zeros for a bias, randn * 0.01 for a weight); "" if nothing."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        return f"{name} has shape {value.shape}, not the one init_params' docstring gives it"
    if not np.all(np.isfinite(value)):
        return f"{name} contains NaN or infinity"
    if name.startswith("b"):
        return f"{name} is not all zeros" if np.any(value != 0) else ""
    low, high = weight_std
    if value.size >= weight_std_min_size and not low <= value.std() <= high:
        return f"{name} has standard deviation {value.std():.4f}; the template's randn * 0.01 gives about 0.01"
    if np.all(value == 0) or np.abs(value).max() > weight_max_abs:
        return f"{name} is not small random numbers (the template's randn * 0.01)"
    return ""


def same_start(first_loss_a: float, first_loss_b: float, rtol: float, atol: float) -> bool:
    """Whether two trainings started from the same weights, judged by their first losses."""
    return bool(np.isclose(first_loss_a, first_loss_b, rtol=rtol, atol=atol))


# Where in the handout each graded function is asked for: its question's heading (a test checks each function
# is defined under that heading in the template). Hints point there.
QUESTION_OF = {
    "loss_fn": "Q1b",
    "init_params": "Q1e",
    "forward": "Q1e",
    "backward": "Q1e",
    "sgd_update": "Q1e",
    "train_manual": "Q1e",
    "optimizers": "Q2",
}


_OWN = {
    "loss_not_averaged": Misconception(
        "loss_fn", "the loss came back as many numbers, one per example, where it is one number", "loss_fn step 2"
    ),
    "loss_summed": Misconception(
        "loss_fn",
        "the loss grows with the number of examples: look at how the per-example losses are combined",
        "loss_fn step 2",
    ),
    "loss_whole_rows": Misconception(
        "loss_fn",
        "p_y_hat[range(N)] picks whole rows (every class's probability), not each example's probability of its "
        "own class",
        "loss_fn step 1",
    ),
    "loss_whole_columns": Misconception(
        "loss_fn",
        "p_y_hat[:, y] is an (N, N) table (every example's probability of every example's class), not one "
        "probability per example",
        "loss_fn step 1",
    ),
    "loss_rows_by_label": Misconception(
        "loss_fn",
        "p_y_hat[y] picks rows by the labels (row 0 or row 1 for every example), not each example's probability "
        "of its own class; on a single example of class 1 it raises IndexError",
        "loss_fn step 1",
    ),
    "weights_shapes_swapped": Misconception(
        "init_params",
        "a weight has its rows and columns the other way round from the shapes init_params' docstring gives",
        "init_params",
    ),
    "softmax_overflow": Misconception(
        "forward",
        "exp of large logits overflows to inf, and the probabilities come out as NaN",
        "forward (softmax)",
    ),
    "gradient_transposed": Misconception(
        "backward", "the gradient has its parameter's shape the other way round", "backward steps 2 and 5"
    ),
    "gradient_not_divided_by_n": Misconception(
        "backward", "the gradient is N times too large: the loss is a mean over the batch", "backward step 1"
    ),
    "relu_mask_missing": Misconception(
        "backward",
        "the gradient goes through the ReLU unchanged everywhere, as if the ReLU were not there",
        "backward step 4",
    ),
    "relu_mask_from_wrong_tensor": Misconception(
        "backward",
        "the ReLU's derivative is taken from another tensor than the ReLU's own input",
        "backward step 4",
    ),
    "bias_summed_over_wrong_axis": Misconception(
        "backward",
        "a bias gradient has the bias's shape; this one has one value per example",
        "backward steps 2 and 5",
    ),
    "update_sign": Misconception(
        "sgd_update",
        "the parameters moved up the gradient, so the loss grows instead of falling",
        "the SGD step",
    ),
    "optimizers_start_apart": Misconception(
        "optimizers",
        "SGD and Adam start from different weights, so their curves cannot be compared: look at where the "
        "weights are seeded and drawn",
        "train_with_optimizer",
    ),
}
# each mistake placed in the handout (its item's question), then the framework's mistakes of any item
MISCONCEPTIONS = {
    name: Misconception(m.item, m.says, m.step, QUESTION_OF[m.item]) for name, m in _OWN.items()
} | GENERAL_MISTAKES


def _nearly_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-3, atol=1e-6))


def recognise_loss(p_y_hat: np.ndarray, y: np.ndarray, loss: np.ndarray) -> str:
    """The catalogued mistake a wrong loss shows, or ""."""
    p, n = p_y_hat.astype(np.float64), len(y)
    picked = p[np.arange(n), y]
    if loss.shape in ((n,), (n, p.shape[1])) and n > 1:
        return "loss_not_averaged"
    if loss.shape != ():
        return ""
    if n > 1 and _nearly_equal(loss, -np.log(picked).sum()):
        return "loss_summed"
    whole_rows = -np.log(p).mean()
    whole_columns = -np.log(p[:, y]).mean() if n > 1 else None
    # where the two slips give the same number (as many examples of each class), this case cannot tell them
    # apart: it names neither, and the item's other cases name the one that was made
    if whole_columns is not None and _nearly_equal(loss, whole_columns):
        return "" if _nearly_equal(whole_rows, whole_columns) else "loss_whole_columns"
    if _nearly_equal(loss, whole_rows) or _nearly_equal(loss, -np.log(p[np.arange(n)]).mean()):
        return "loss_whole_rows"
    if y.max(initial=0) < n and _nearly_equal(loss, -np.log(p[y]).mean()):
        return "loss_rows_by_label"
    return ""


def recognise_gradient(name: str, inputs: dict[str, np.ndarray], gradient: np.ndarray, expected: np.ndarray) -> str:
    """The catalogued mistake a wrong gradient of backward shows (`inputs`: X, y, z1, a1, p_hat, W2), or ""."""
    X, z1, p_hat, W2 = (inputs[k].astype(np.float64) for k in ("X", "z1", "p_hat", "W2"))
    y, n = inputs["y"], len(inputs["y"])
    if gradient.shape == expected.shape[::-1] and gradient.ndim == 2 and _nearly_equal(gradient.T, expected):
        return "gradient_transposed"
    if name in ("dL_db1", "dL_db2") and gradient.shape == (n,) != expected.shape:
        return "bias_summed_over_wrong_axis"
    if gradient.shape != expected.shape:
        return ""
    if n > 1 and _nearly_equal(gradient, expected * n):
        return "gradient_not_divided_by_n"
    if name in ("dL_dW1", "dL_db1"):
        dz2 = (p_hat - np.eye(p_hat.shape[1])[y]) / n
        da1 = dz2 @ W2.T
        for mistake, dz1 in (("relu_mask_missing", da1), ("relu_mask_from_wrong_tensor", da1 * (da1 > 0))):
            if _nearly_equal(gradient, X.T @ dz1 if name == "dL_dW1" else dz1.sum(axis=0)):
                return mistake
    return ""


def recognise_update(param: np.ndarray, grad: np.ndarray, learning_rate: float, after: np.ndarray) -> str:
    """The catalogued mistake an SGD step shows, or ""."""
    return "update_sign" if _nearly_equal(after, param + learning_rate * grad) and grad.any() else ""


def recognise_weight_shapes(shapes: dict[str, tuple], d: int, h: int, k: int) -> str:
    """W1 or W2 with its dimensions the wrong way round."""
    swapped = shapes.get("W1") == (h, d) != (d, h) or shapes.get("W2") == (k, h) != (h, k)
    return "weights_shapes_swapped" if swapped else ""
