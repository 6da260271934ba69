"""The mistake catalogue, the hints, the checks of a function's own code and of its first weights: what the
grader and the students' self-check say alike.

`tools/build_student_bundle.py` stamps the code of grader/shared/ into
`student_template/selfcheck.py`; so everything here stands alone: the standard
library and numpy (nbformat where a notebook is changed), no hidden case, no
reference value.

A hint names the symptom and where to look (the question, the step, the
docstring), never the corrected code: the fixes are the assignment's to find.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np

# Where each gradient is computed in the handout's backward pass, for a student whose gradient is wrong.
GRADIENT_HINTS = {
    "dL_dW1": "look at backward's step 5, where dL_dW1 is computed; it has W1's shape",
    "dL_db1": "look at backward's step 5, where dL_db1 is computed; it has b1's shape",
    "dL_dW2": "look at backward's step 2, where dL_dW2 is computed; it has W2's shape",
    "dL_db2": "look at backward's step 2, where dL_db2 is computed; it has b2's shape",
}


def value_mismatch(actual: object, expected: object, rtol: float, atol: float) -> str:
    """What differs from `expected` (shape first, then each value within atol + rtol * |expected|); "" if nothing."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(actual)):
        return "contains NaN or infinity"
    if not np.all(np.isclose(actual, expected, rtol=rtol, atol=atol)):
        error = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
        return f"wrong values (shape {expected.shape} is right; max abs error {error:.3g})"
    return ""


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


def inject_parameters(notebook: object, parameters: dict[str, object]) -> object:
    """A copy of the notebook with a cell setting `parameters` right after its `parameters` cell (papermill's way).

    The new cell is tagged `injected-parameters` and replaces any such cell
    already there, so injecting twice gives the same notebook. Without a
    `parameters` cell the parameters go first, where the notebook may overwrite them.
    """
    import nbformat

    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    tagged = [i for i, c in enumerate(copy.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    copy.cells.insert(tagged[-1] + 1 if tagged else 0, injected)
    return copy


# ---- the misconception catalogue: each known mistake, how its values give it away, what to say ----------------


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


@dataclass(frozen=True)
class Misconception:
    item: str  # the grader's item it costs ("" for any)
    says: str  # the sentence the feedback and the self-check give
    step: str  # where, within the item's question, to look ("step 2", "the SGD step")

    @property
    def where(self) -> str:
        """The place in the handout: the item's question and the step (or the step alone, for any item)."""
        return f"{QUESTION_OF[self.item]}, {self.step}" if self.item else self.step


MISCONCEPTIONS = {
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
    "sizes_hard_coded": Misconception(
        "",  # any item whose function is right on the handout's sizes only
        "right on the handout's sizes only: a size is written into the code where the arguments' shapes give it",
        "the function's docstring",
    ),
    "globals_for_arguments": Misconception(
        "", "it used the notebook's own data, not the arguments it was given", "the function's signature"
    ),
    "argument_ignored": Misconception(
        "",  # any item: a learning rate, a seed or a size written where the argument was to be used
        "a value is written in where an argument was to be used, so what the grader passes never arrives",
        "the function's signature",
    ),
}


# ---- the rules on what runs: the words the grader and the self-check both give --------------------------------


def run_time_breach(
    function: str, watched: dict[str, str], recording: str, watch: tuple[str, ...] | list[str], reason: str, span=repr
) -> str:
    """A breach when watched machinery ran during a call (`watched`: category -> what was seen), or the call
    switched the record off (`recording` is "intact" when it did not); "" otherwise. `span` formats code.

    What ran in a thread the record hears (the call's own, or one the notebook started) is named as if the
    call ran it; a process, or a thread out of the record's hearing, that ran during the call is a breach
    whatever it did, since what it did cannot be seen."""
    seen = [what for category, what in watched.items() if category in watch]
    if seen:
        return f"while the grader called {function}, it ran {', '.join(map(span, seen))}: {reason}"
    if started := watched.get("process"):
        return (
            f"while the grader called {function}, it started a process ({span(started)}): work handed "
            f"to another process is out of the grader's sight, so it counts against the rule: {reason}"
        )
    if helper := watched.get("helper"):
        return (
            f"while the grader called {function}, {helper} ran out of the grader's sight: work handed to "
            f"another thread or process counts against the rule: {reason}"
        )
    if recording != "intact":
        how = span(recording) if recording else "no record came back"
        return f"{function} switched off the grader's record of what it runs ({how}): {reason}"
    return ""


def autograd_history_breach(function: str, reason: str) -> str:
    return f"what {function} returned carries an autograd history: {reason}"


def hint(name: str) -> str:
    """What the feedback and the self-check say for a recognised mistake."""
    mistake = MISCONCEPTIONS[name]
    return f"Hint ({name}): {mistake.says} ({mistake.where})."


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


# ---- the rubric's rules on a function's own code (the grader's first layer; the self-check's only one) ----


def _off(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and value.value in (False, 0)


def tracking_turned_off(function: ast.FunctionDef) -> set[ast.AST]:
    """The nodes of `function` that turn autograd's tracking off (`t.requires_grad_(False)`, `t.requires_grad =
    False`, `requires_grad=False`): no use of autograd, whatever the rule's identifiers; a hand-written function
    may do it to be sure nothing is tracked."""
    off: set[ast.AST] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_":
            flag = (
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "requires_grad"), None)
            )
            if _off(flag):
                off.add(node.func)
                off.update(k for k in node.keywords if k.arg == "requires_grad")
        elif isinstance(node, ast.Assign) and _off(node.value):
            off.update(t for t in node.targets if isinstance(t, ast.Attribute) and t.attr == "requires_grad")
        elif isinstance(node, ast.keyword) and node.arg == "requires_grad" and _off(node.value):
            off.add(node)
    return off


def ignored_arguments(function: ast.FunctionDef) -> list[str]:
    """The function's arguments its code never reads, or overwrites before it reads them (a learning rate or a
    seed written in): the grader passes values of its own, and they never arrive."""
    ignored = []
    arguments = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
    for argument in arguments:
        uses = sorted(
            (node.lineno, node.col_offset, isinstance(node.ctx, ast.Load))
            for node in ast.walk(function)
            if isinstance(node, ast.Name) and node.id == argument.arg
        )
        # an augmented assignment (lr *= 0.5) reads before it writes, though its target is a Store
        augmented = any(
            isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == argument.arg
            for node in ast.walk(function)
        )
        if not augmented and (not uses or not uses[0][2]):
            ignored.append(argument.arg)
    return ignored


def forbidden_identifiers(function: ast.FunctionDef, identifiers: tuple[str, ...] | list[str]) -> list[str]:
    """The rule's `identifiers` the function's code uses as a name, an attribute, a keyword or an import."""
    used = set()
    allowed = tracking_turned_off(function)
    for node in ast.walk(function):
        if node in allowed:
            continue
        if isinstance(node, ast.Attribute) and node.attr in identifiers:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in identifiers and node.id != function.name:
            used.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg in identifiers:
            used.add(node.arg)
        elif isinstance(node, ast.alias) and any(part in identifiers for part in node.name.split(".")):
            used.add(node.name)
    return sorted(used)


# the self-check cell the students' README suggests: its module ships with the bundle, never with a submission's
# workspace, so the grader passes over a cell that does nothing else (it would only raise ModuleNotFoundError)
_SELFCHECK_LINE = re.compile(
    r"(from selfcheck import check|import selfcheck|(selfcheck\.)?check\(\s*(['\"]\w*['\"])?\s*\))\s*(#.*)?"
)


def is_selfcheck_cell(source: str) -> bool:
    """Whether a cell only runs the students' self-check (comments and blank lines aside)."""
    lines = [line.strip() for line in source.splitlines()]
    code = [part.strip() for line in lines if line and not line.startswith("#") for part in line.split(";")]
    code = [part for part in code if part]
    uses_it = any("selfcheck" in part for part in code)
    return uses_it and all(_SELFCHECK_LINE.fullmatch(part) for part in code)
