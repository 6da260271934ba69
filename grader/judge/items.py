"""Each graded item's judge, named by its entry in the item table (`grader/items.py`).

A judge sees one hidden case whose calls all returned, and says per part what
is wrong ("" when right); `score.py` has already said what was called and dealt
with calls that failed and rules that were broken. Expected values come from
the reference, computed here in the grader's process.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from grader.cases import Case, holdout, training_split
from grader.items import ITEMS, InitParamsItem, OptimizersItem, TrainManualItem
from grader.judge.compare import as_tensor, compare
from grader.judge.verdict import Check
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome, Leaf
from grader.shared_with_selfcheck import (
    GRADIENT_HINTS,
    parameter_problem,
    recognise_gradient,
    recognise_loss,
    recognise_update,
    recognise_weight_shapes,
    same_start,
)
from reference import solutions

PARAMETERS = ("W1", "b1", "W2", "b2")
FORWARD_OUTPUTS = ("z1", "a1", "z2", "p_hat")
# backward's results in the order it returns them: the handout's names, and the short ones tests are named by
GRADIENTS = tuple(GRADIENT_HINTS)  # dL_dW1, dL_db1, dL_dW2, dL_db2
GRADIENT_TESTS = ITEMS["backward"].parts  # dW1, db1, dW2, db2: what the item table calls its tests


def _arrays(case: Case, names: tuple[str, ...]) -> list[torch.Tensor]:
    return [as_tensor(case.arrays[name]) for name in names]


# ---- loss_fn ---------------------------------------------------------------------------------------------


def _loss_mistake(case: Case, leaf: Leaf | None) -> str:
    """The catalogued mistake the value returned shows (the template's comments invite some), or ""."""
    if leaf is None or leaf.value is None:
        return ""
    return recognise_loss(case.arrays["p_y_hat"], case.arrays["y"], leaf.value.astype(np.float64))


def judge_loss_fn(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    expected = solutions.loss_fn(*_arrays(case, ("p_y_hat", "y"))).numpy()
    leaf = outcomes[0].leaf("")
    problem = compare(leaf, expected, "the loss", rubric)
    return [Check("", f"{problem}.", _loss_mistake(case, leaf)) if problem else Check("")]


# ---- init_params -----------------------------------------------------------------------------------------


def judge_init_params(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    item: InitParamsItem = rubric.items["init_params"]
    d, h, k = (case.spec[x] for x in "dhk")
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
    problems = []
    for index, (name, shape) in enumerate(shapes.items()):
        leaf = outcomes[0].leaf(str(index))
        if leaf is None or leaf.value is None:
            problems.append(f"{name} is missing or not numbers")
            continue
        problem = parameter_problem(
            name, leaf.value, shape, item.weight_std, item.weight_std_min_size, item.weight_max_abs
        )
        problems += [problem] if problem else []
    returned = [outcomes[0].leaf(str(index)) for index in range(len(shapes))]
    got = {
        name: tuple(leaf.value.shape)
        for name, leaf in zip(shapes, returned, strict=True)
        if leaf and leaf.value is not None
    }
    if not problems:
        return [Check("")]
    return [Check("", "; ".join(problems) + ".", recognise_weight_shapes(got, d, h, k))]


# ---- forward ---------------------------------------------------------------------------------------------


def judge_forward(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    expected = solutions.forward(*_arrays(case, ("X", *PARAMETERS)))
    problems = [
        compare(outcomes[0].leaf(str(i)), value.numpy(), label, rubric)
        for i, (label, value) in enumerate(zip(FORWARD_OUTPUTS, expected, strict=True))
    ]
    problems = [p for p in problems if p]
    p_hat = outcomes[0].leaf("3")
    overflowed = p_hat is not None and p_hat.value is not None and not np.all(np.isfinite(p_hat.value))
    if not problems:
        return [Check("")]
    overflow = "softmax_overflow" if overflowed and np.all(np.isfinite(expected[3].numpy())) else ""
    return [Check("", "; ".join(problems) + ".", overflow)]


# ---- backward --------------------------------------------------------------------------------------------


def _gradient_check(
    test: str, gradient: str, problem: str, leaf: Leaf | None, case: Case, expected: np.ndarray
) -> Check:
    """A wrong gradient's check: the catalogued mistake it shows, else where the handout computes it."""
    if leaf is not None and leaf.value is not None:
        mistake = recognise_gradient(gradient, case.arrays, leaf.value.astype(np.float64), expected)
        if mistake:
            return Check(test, f"{problem}.", mistake)
    return Check(test, f"{problem}. Hint: {GRADIENT_HINTS[gradient]}.")


def judge_backward(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    expected = solutions.backward(*_arrays(case, ("X", "y", "z1", "a1", "p_hat", "W2")))
    checks = []
    for index, (gradient, test, value) in enumerate(zip(GRADIENTS, GRADIENT_TESTS, expected, strict=True)):
        leaf, wanted = outcomes[0].leaf(str(index)), value.numpy().astype(np.float64)
        problem = compare(leaf, wanted, gradient, rubric)
        checks.append(_gradient_check(test, gradient, problem, leaf, case, wanted) if problem else Check(test))
    return checks


# ---- sgd_update ------------------------------------------------------------------------------------------


def judge_sgd_update(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    outcome, lr = outcomes[0], case.spec["learning_rate"]
    params = [case.arrays[p].astype(np.float64) for p in PARAMETERS]
    grads = [case.arrays[f"d{p}"].astype(np.float64) for p in PARAMETERS]
    problems, advice, mistake = [], "", ""
    for index, (name, param, grad) in enumerate(zip(PARAMETERS, params, grads, strict=True)):
        expected, after = param - lr * grad, outcome.inputs_after.get(index)
        problem = compare(None if after is None else Leaf(name, {}, after), expected, f"{name} after the call", rubric)
        if problem and after is not None and after.shape == param.shape:
            if recognise_update(param, grad, lr, after.astype(np.float64)):
                problem = f"{name} moved *up* the gradient (p += lr * g)"
                mistake = "update_sign"
            elif np.array_equal(after, case.arrays[name]):
                problem = f"{name} was not changed in place"
                advice = " Hint: update each tensor in place (W1 -= ...) so that the caller's list sees the step."
        problem = problem or compare(outcome.leaf(str(index)), expected, f"returned {name}", rubric)
        problems += [problem] if problem else []
    if not problems:
        return [Check("")]
    # a sign that is wrong is the mistake to name; the in-place advice only when nothing is catalogued
    return [Check("", "; ".join(problems) + "." + ("" if mistake else advice), mistake)]


# ---- train_manual and optimizers -------------------------------------------------------------------------


def _history(leaf: Leaf | None, epochs: int, label: str) -> tuple[np.ndarray | None, str]:
    """The loss history as numbers, or what is wrong with it."""
    if leaf is None or leaf.value is None:
        return None, f"{label}: no list of losses came back"
    values = leaf.value.astype(np.float64).ravel()
    if leaf.value.ndim != 1 or len(values) != epochs:
        return None, f"{label}: {len(values)} values for {epochs} epochs; expected one float per epoch"
    if not np.all(np.isfinite(values)):
        return None, f"{label}: contains NaN or infinity (the training diverged)"
    return values, ""


def holdout_correct(params: list[np.ndarray]) -> tuple[int, int]:
    """How many points of the hidden holdout an MLP with these weights classifies right, of how many."""
    X, y = holdout()
    W1, b1, W2, b2 = (torch.from_numpy(p.astype(np.float32)) for p in params)
    p_hat = solutions.forward(torch.from_numpy(X), W1, b1, W2, b2)[3]
    return int((p_hat.argmax(dim=1).numpy() == y).sum()), len(y)


def _history_mismatch(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, label: str) -> str:
    """Where a loss history first leaves the expected one, or "": the two numbers compared, with the digits that
    tell them apart."""
    off = np.flatnonzero(~np.isclose(got, expected, rtol=rtol, atol=atol))
    if off.size == 0:
        return ""
    epoch = int(off[0])
    shown = _apart(got[epoch], expected[epoch])
    return f"{label}: at epoch {epoch} the loss is {shown[0]}, where {shown[1]} was expected"


def _apart(a: float, b: float) -> tuple[str, str]:
    """Two different numbers with the fewest significant digits (at least 5) that show them different."""
    for digits in range(5, 18):
        shown = (f"{a:.{digits}g}", f"{b:.{digits}g}")
        if shown[0] != shown[1]:
            return shown
    return shown


# the contract's defaults for the trainings (the reference's signature holds them)
TRAINING_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(solutions.train_manual).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
HANDOUT_LOOP = (
    "the handout's full-batch loop (h=10, learning_rate=0.1, each epoch: forward, loss, backward, sgd_update, then "
    "record the loss) from the weights your init_params gave"
)


def reference_training_from(
    start: list[np.ndarray], epochs: int, data: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """The handout's full-batch loop with the reference's functions, from the weights `start`, on `data` (the
    training split by default): its losses."""
    X, y = (torch.from_numpy(a) for a in (data or training_split()))
    params = [torch.from_numpy(np.array(p, dtype=np.float32)) for p in start]
    history = []
    for _ in range(epochs):
        z1, a1, _, p_hat = solutions.forward(X, *params)
        history.append(solutions.loss_fn(p_hat, y).item())
        solutions.sgd_update(
            params, solutions.backward(X, y, z1, a1, p_hat, params[2]), TRAINING_DEFAULTS["learning_rate"]
        )
    return np.array(history)


def _on_other_data(case: Case) -> bool:
    return "n" in case.spec


def _trained_on_the_notebooks_data(case: Case, got: np.ndarray, expected_there: Callable[[], np.ndarray]) -> bool:
    """Whether a history on data the notebook never had is, instead, the expected one on the training split (the
    notebook's globals, used in place of the arguments)."""
    return _on_other_data(case) and bool(np.allclose(got, expected_there(), rtol=1e-3, atol=1e-4))


def _manual_history_check(case: Case, item: TrainManualItem, history: np.ndarray, start: list[np.ndarray]) -> Check:
    """The loss history against the handout's loop from the student's own first weights, on the case's data: the
    defaults and the order of the steps show in the losses."""
    epochs = case.calls[0].kwargs["epochs"]
    data = (case.arrays["X"], case.arrays["y"])
    expected = reference_training_from(start, epochs, data)
    problem = _history_mismatch(history, expected, item.history_rtol, item.history_atol, "loss_history")
    if not problem:
        return Check("loss_history")
    # a loss_fn that sums instead of averaging (which costs loss_fn already) scales every recorded loss by N and
    # changes nothing of the training: the same run, not charged twice
    scale = float(history @ expected / (expected @ expected))
    if scale > 0 and not np.isclose(scale, 1, rtol=0.05):
        atol = item.history_atol * max(scale, 1)
        if not _history_mismatch(history, expected * scale, item.history_rtol, atol, "loss_history"):
            return Check("loss_history")
    if _trained_on_the_notebooks_data(case, history, lambda: reference_training_from(start, epochs)):
        return Check("loss_history", f"{problem}.", "globals_for_arguments")
    return Check("loss_history", f"{problem} ({HANDOUT_LOOP}).")


def judge_train_manual(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    item: TrainManualItem = rubric.items["train_manual"]
    outcome, epochs = outcomes[0], case.calls[0].kwargs["epochs"]
    d, h = case.arrays["X"].shape[1], case.calls[0].kwargs.get("h", TRAINING_DEFAULTS["h"])
    shapes = [(d, h), (h,), (h, 2), (2,)]
    history, problem = _history(outcome.leaf("1"), epochs, "loss_history")
    if history is not None and not history[-1] < history[0]:
        problem = f"loss_history: the loss did not fall ({history[0]:.4f} at the start, {history[-1]:.4f} at the end)"
    start = [outcome.leaf(f"captured.init_params.{i}") for i in range(4)]
    starts_right = all(
        leaf is not None and leaf.value is not None and leaf.value.shape == shape
        for leaf, shape in zip(start, shapes, strict=True)
    )
    if history is not None and not problem and starts_right:
        loss_check = _manual_history_check(case, item, history, [leaf.value for leaf in start])
    else:
        loss_check = Check("loss_history", f"{problem}." if problem else "")
    params = [outcome.leaf(f"0.{i}") for i in range(4)]
    if any(p is None or p.value is None or p.value.shape != s for p, s in zip(params, shapes, strict=True)):
        got = [None if p is None or p.value is None else tuple(p.value.shape) for p in params]
        problem = f"The trained parameters should have shapes {shapes}, got {got}."
    elif not all(np.all(np.isfinite(p.value)) for p in params):
        problem = "The trained parameters contain NaN or infinity."
    else:
        correct, points = holdout_correct([p.value for p in params])
        needed = math.ceil(item.holdout_accuracy * points - 1e-9)
        problem = (
            ""
            if correct >= needed
            else f"The trained MLP classifies {correct} of the {points} points of the hidden holdout correctly "
            f"({correct / points:.2%}); at least {needed} ({item.holdout_accuracy:.0%}) are needed. Check the "
            "update's sign and the gradients."
        )
    return [loss_check, Check("holdout_accuracy", problem)]


def judge_optimizers(case: Case, outcomes: list[CallOutcome], rubric: Rubric) -> list[Check]:
    item: OptimizersItem = rubric.items["optimizers"]
    epochs = case.calls[0].kwargs["epochs"]
    histories, problems = {}, []
    for call, outcome in zip(case.calls, outcomes, strict=True):
        optimizer = call.args[0]
        history, problem = _history(outcome.leaf("") or outcome.leaf("0"), epochs, f'loss_history for "{optimizer}"')
        histories[optimizer] = history
        problems += [problem] if problem else []
    if problems:
        return [Check("loss_history", ". ".join(problems) + ".")] + [
            Check(part, "needs both the SGD and the Adam loss histories.") for part in ("same_start", "adam_beats_sgd")
        ]
    sgd, adam = histories["SGD"], histories["Adam"]
    started_together = same_start(sgd[0], adam[0], item.same_start_rtol, item.same_start_atol)
    # from the same start, both runs must be the reference's (from different starts, same_start says why)
    data = (case.arrays["X"], case.arrays["y"])
    mismatches = {
        name: _history_mismatch(
            histories[name],
            reference_optimizer_history(name, epochs, call.kwargs["seed"], data),
            item.history_rtol,
            item.history_atol,
            f'loss_history for "{name}"',
        )
        for name, call in zip(histories, case.calls, strict=True)
        if started_together
    }
    history_problem = ". ".join(m for m in mismatches.values() if m)
    history_check = Check("loss_history")
    if history_problem:
        seed = case.calls[0].kwargs["seed"]
        on_split = {name: partial(reference_optimizer_history, name, epochs, seed) for name in mismatches}
        if all(_trained_on_the_notebooks_data(case, histories[name], on_split[name]) for name in mismatches):
            history_check = Check("loss_history", f"{history_problem}.", "globals_for_arguments")
        else:
            history_check = Check(
                "loss_history",
                f"{history_problem}: train as the handout does (Xavier-uniform weights seeded by `seed`, zero "
                "biases, h=10, learning_rate=0.1, the MLP of Q1, F.cross_entropy on the logits, one full-batch step "
                "per epoch).",
            )
    starts, ends = _apart(sgd[0], adam[0]), _apart(adam[-1], sgd[-1])
    return [
        history_check,
        Check("same_start")
        if started_together
        else Check("same_start", f"SGD starts at loss {starts[0]} and Adam at {starts[1]}.", "optimizers_start_apart"),
        Check(
            "adam_beats_sgd",
            ""
            if adam[-1] < sgd[-1]
            else f"after {epochs} epochs Adam's loss ({ends[0]}) is not below SGD's ({ends[1]}), unlike the reference.",
        ),
    ]


_OPTIMIZER_HISTORIES: dict[tuple, np.ndarray] = {}


def reference_optimizer_history(
    optimizer: str, epochs: int, seed: int, data: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """The reference's loss history for one optimizer on `data` (the training split by default): the same for every
    submission, so computed once a process."""
    X, y = data or training_split()
    key = (optimizer, epochs, seed, X.tobytes(), y.tobytes())
    if key not in _OPTIMIZER_HISTORIES:
        with contextlib.redirect_stdout(io.StringIO()):  # it reports its progress
            history = solutions.train_with_optimizer(
                optimizer, torch.from_numpy(X), torch.from_numpy(y), epochs=epochs, seed=seed
            )
        _OPTIMIZER_HISTORIES[key] = np.array(history)
    return _OPTIMIZER_HISTORIES[key]
