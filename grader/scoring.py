"""Judge harvested values against the reference, in the grader's own process.

One `score_<item>` per graded item turns its cases' call outcomes into tests
named `item.case` (or `backward.<gradient>.case`). Shapes are checked exactly
before values, NaN and infinity are wrong, and a missing value is a failure.
Messages say what was called and what came back, never the expected numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grader.cases import Array, Case, holdout
from grader.harvest import CallOutcome, Leaf
from grader.rubric import Rubric
from reference import solutions


@dataclass
class TestResult:
    name: str
    score: float
    max_score: float
    output: str

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9


@dataclass
class Check:
    """One pass/fail verdict before points are attached; `message` is empty when it passed."""

    name: str
    message: str = ""


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def describe_call(case: Case, call_index: int = 0) -> str:
    """`backward(X: (32, 2) float32, ...)`: what was called, with shapes, never values."""
    call = case.calls[call_index]

    def show(arg: object) -> str:
        if isinstance(arg, Array):
            value = case.arrays[arg.name]
            return f"{arg.name}: {tuple(value.shape)} {value.dtype}"
        if isinstance(arg, (list, tuple)):
            return "[" + ", ".join(show(a) for a in arg) + "]"
        return repr(arg)

    parts = [show(a) for a in call.args] + [f"{k}={show(v)}" for k, v in call.kwargs.items()]
    return f"{call.function}({', '.join(parts)})"


def call_failure(outcome: CallOutcome, function: str) -> str:
    """Why a call gave nothing to judge, or "" when it returned."""
    reasons = {
        "missing": f"`{function}` is not defined at the top level of the notebook",
        "not_callable": f"`{function}` is defined but is not a function",
        "timeout": f"`{function}` did not return in time ({outcome.reason or 'timed out'})",
        "error": f"`{function}` raised {outcome.reason}",
        "not_run": outcome.reason or f"`{function}` was not called",
    }
    return reasons.get(outcome.status, "") if outcome.status != "ok" else ""


def compare(leaf: Leaf | None, expected: np.ndarray, what: str, rubric: Rubric) -> str:
    """ "" when `leaf` matches `expected`; otherwise what is wrong (shape, NaN, or the max abs error)."""
    if leaf is None:
        return f"{what}: nothing was returned for it"
    if leaf.value is None:
        facts = leaf.facts
        if facts.get("too_large"):
            return f"{what}: the value returned is far too large ({facts.get('shape')})"
        if facts.get("subclass"):
            return f"{what}: a subclass of torch.Tensor was returned; return a plain tensor"
        return f"{what}: a {facts.get('kind', 'value')} was returned, not numbers"
    actual = leaf.value
    if tuple(actual.shape) != tuple(expected.shape):
        return f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    actual64 = actual.astype(np.float64)
    if not np.all(np.isfinite(actual64)):
        return f"{what}: contains NaN or infinity"
    error = float(np.max(np.abs(actual64 - expected))) if expected.size else 0.0
    try:
        torch.testing.assert_close(
            _tensor(actual64), _tensor(expected.astype(np.float64)), rtol=rubric.rtol, atol=rubric.atol
        )
    except AssertionError:
        return f"{what}: wrong values (shape {tuple(expected.shape)} is right; max abs error {error:.3g})"
    return ""


def _mutation_note(case: Case, outcome: CallOutcome, names: list[str]) -> str:
    changed = [
        name
        for index, name in enumerate(names)
        if index in outcome.inputs_after
        and outcome.inputs_after[index].shape == case.arrays[name].shape
        and not np.array_equal(outcome.inputs_after[index], case.arrays[name])
    ]
    if not changed:
        return ""
    return f" Note: it changed its input{'s' if len(changed) > 1 else ''} {', '.join(changed)} in place."


def _to_tests(checks: list[Check], points: float) -> list[TestResult]:
    each = points / len(checks) if checks else 0.0
    return [TestResult(check.name, 0.0 if check.message else each, each, check.message or "passed") for check in checks]


# ---- loss_fn ---------------------------------------------------------------------------------------------


def _loss_hint(case: Case, leaf: Leaf | None) -> str:
    if leaf is None or leaf.value is None:
        return ""
    p, y = case.arrays["p_y_hat"].astype(np.float64), case.arrays["y"]
    n = len(y)
    nll = -np.log(p[np.arange(n), y])
    if leaf.value.shape == (n,):
        return " Hint: step 2 takes the mean over the examples, so the loss is one number (shape ())."
    if leaf.value.shape == () and n > 1 and np.isclose(float(leaf.value), nll.sum(), rtol=1e-4):
        return " Hint: this is the sum of the per-example losses; the loss is their mean (step 2)."
    if leaf.value.shape == () and np.isclose(float(leaf.value), -np.log(p).mean(), rtol=1e-4):
        return (
            " Hint: p_y_hat[range(N)] picks whole rows; the probability of the true class is"
            " p_y_hat[range(N), y] (step 1)."
        )
    return ""


def score_loss_fn(cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric, banned: str) -> list[TestResult]:
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        name = f"loss_fn.{case.name}"
        called = f"Called {describe_call(case)}."
        if banned:
            checks.append(Check(name, banned))
            continue
        if failure := call_failure(outcome, "loss_fn"):
            hint = " Hint: loss_fn is still the TODO; follow its two steps." if "NotImplementedError" in failure else ""
            checks.append(Check(name, f"{called} {failure}.{hint}"))
            continue
        expected = solutions.loss_fn(_tensor(case.arrays["p_y_hat"]), _tensor(case.arrays["y"])).numpy()
        leaf = outcome.leaf("")
        message = compare(leaf, expected.astype(np.float64), "the loss", rubric)
        note = _mutation_note(case, outcome, ["p_y_hat", "y"])
        checks.append(Check(name, f"{called} {message}.{_loss_hint(case, leaf)}{note}" if message else ""))
    return _to_tests(checks, rubric.points["loss_fn"])


# ---- init_params -----------------------------------------------------------------------------------------


def score_init_params(cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric) -> list[TestResult]:
    low, high = rubric.option("init_params", "weight_std")
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        d, h, k = (case.spec[x] for x in "dhk")
        name = f"init_params.{case.name}"
        called = f"Called {describe_call(case)}."
        if failure := call_failure(outcome, "init_params"):
            checks.append(Check(name, f"{called} {failure}."))
            continue
        problems = []
        shapes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
        for index, (param, shape) in enumerate(shapes.items()):
            leaf = outcome.leaf(str(index))
            if leaf is None or leaf.value is None:
                problems.append(f"{param} is missing or not numbers")
                continue
            value = leaf.value.astype(np.float64)
            if value.shape != shape:
                hint = ""
                if value.shape == shape[::-1] and len(shape) == 2:
                    maps = {
                        "W1": "X @ W1 maps d features to h hidden units",
                        "W2": "a1 @ W2 maps h hidden units to k classes",
                    }
                    hint = f" ({maps[param]}, so it must be {shape})"
                problems.append(f"{param} has shape {value.shape}, expected {shape}{hint}")
            elif not np.all(np.isfinite(value)):
                problems.append(f"{param} contains NaN or infinity")
            elif param.startswith("b") and np.any(value != 0):
                problems.append(f"{param} is not all zeros")
            elif param.startswith("W"):
                spread = value.std() if value.size > 1 else abs(value).max()
                if value.size >= 1000 and not low <= spread <= high:
                    problems.append(f"{param} has standard deviation {spread:.4f}; randn * 0.01 gives about 0.01")
                elif np.all(value == 0) or np.abs(value).max() > 0.06:
                    problems.append(f"{param} is not small random numbers (randn * 0.01)")
        checks.append(Check(name, f"{called} " + "; ".join(problems) + "." if problems else ""))
    return _to_tests(checks, rubric.points["init_params"])


# ---- forward ---------------------------------------------------------------------------------------------

FORWARD_OUTPUTS = ("z1", "a1", "z2", "p_hat")


def score_forward(cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric) -> list[TestResult]:
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        name = f"forward.{case.name}"
        called = f"Called {describe_call(case)}."
        if failure := call_failure(outcome, "forward"):
            checks.append(Check(name, f"{called} {failure}."))
            continue
        expected = solutions.forward(*(_tensor(case.arrays[k]) for k in ("X", "W1", "b1", "W2", "b2")))
        problems = [
            compare(outcome.leaf(str(i)), value.numpy().astype(np.float64), label, rubric)
            for i, (label, value) in enumerate(zip(FORWARD_OUTPUTS, expected, strict=True))
        ]
        problems = [p for p in problems if p]
        note = _mutation_note(case, outcome, ["X", "W1", "b1", "W2", "b2"])
        checks.append(Check(name, f"{called} " + "; ".join(problems) + "." + note if problems else ""))
    return _to_tests(checks, rubric.points["forward"])


# ---- backward --------------------------------------------------------------------------------------------

GRADIENTS = ("dW1", "db1", "dW2", "db2")
GRADIENT_HINTS = {
    "dW1": "step 5: dL_dW1 = X.T @ dL_dz1, shape (d, h) like W1",
    "db1": "step 5: dL_db1 sums dL_dz1 over the batch axis (dim=0), shape (h,)",
    "dW2": "step 2: dL_dW2 = a1.T @ dL_dz2, shape (h, k) like W2",
    "db2": "step 2: dL_db2 sums dL_dz2 over the batch axis (dim=0), shape (k,)",
}


def _backward_hint(gradient: str, leaf: Leaf | None, case: Case, expected: np.ndarray) -> str:
    if leaf is None or leaf.value is None or leaf.value.shape != expected.shape:
        return GRADIENT_HINTS[gradient]
    actual = leaf.value.astype(np.float64)
    n = len(case.arrays["y"])
    if n > 1 and np.allclose(actual, expected * n, rtol=1e-3, atol=1e-6):
        return "it is N times too large: step 1 divides (p_hat - y_one_hot) by the batch size N"
    if gradient in ("dW1", "db1"):
        unmasked = _unmasked_first_layer(case)[0 if gradient == "dW1" else 1]
        if np.allclose(actual, unmasked, rtol=1e-3, atol=1e-6):
            return "step 4: multiply by the ReLU derivative 1(z1 > 0) before going through W1"
    return GRADIENT_HINTS[gradient]


def _unmasked_first_layer(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """First-layer gradients with the ReLU mask left out, to recognise that mistake."""
    a = {k: case.arrays[k].astype(np.float64) for k in ("X", "p_hat", "W2")}
    y = case.arrays["y"]
    one_hot = np.eye(a["p_hat"].shape[1])[y]
    dz1 = ((a["p_hat"] - one_hot) / len(y)) @ a["W2"].T
    return a["X"].T @ dz1, dz1.sum(axis=0)


def score_backward(
    cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric, banned: str
) -> list[TestResult]:
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        called = f"Called {describe_call(case)}."
        failure = banned or call_failure(outcome, "backward")
        if not failure and any(leaf.facts.get("has_grad_fn") for leaf in outcome.leaves):
            failure = "the gradients returned carry an autograd history: backward must not use autograd"
        if failure:
            checks += [Check(f"backward.{g}.{case.name}", f"{called} {failure}.") for g in GRADIENTS]
            continue
        inputs = [_tensor(case.arrays[k]) for k in ("X", "y", "z1", "a1", "p_hat", "W2")]
        expected = solutions.backward(*inputs)
        note = _mutation_note(case, outcome, ["X", "y", "z1", "a1", "p_hat", "W2"])
        for index, (gradient, value) in enumerate(zip(GRADIENTS, expected, strict=True)):
            leaf = outcome.leaf(str(index))
            wanted = value.numpy().astype(np.float64)
            message = compare(leaf, wanted, f"dL_{gradient}", rubric)
            if message:
                message = f"{called} {message}. Hint: {_backward_hint(gradient, leaf, case, wanted)}.{note}"
            checks.append(Check(f"backward.{gradient}.{case.name}", message))
    return _to_tests(checks, rubric.points["backward"])


# ---- sgd_update ------------------------------------------------------------------------------------------

PARAMETERS = ("W1", "b1", "W2", "b2")


def score_sgd_update(
    cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric, banned: str
) -> list[TestResult]:
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        name = f"sgd_update.{case.name}"
        called = f"Called {describe_call(case)}."
        if failure := banned or call_failure(outcome, "sgd_update"):
            checks.append(Check(name, f"{called} {failure}."))
            continue
        lr = case.spec["learning_rate"]
        params = [case.arrays[p].astype(np.float64) for p in PARAMETERS]
        grads = [case.arrays[f"d{p}"].astype(np.float64) for p in PARAMETERS]
        expected = [p - lr * g for p, g in zip(params, grads, strict=True)]
        problems = []
        for index, param in enumerate(PARAMETERS):
            after = outcome.inputs_after.get(index)
            in_place = Leaf(param, {}, after) if after is not None else None
            message = compare(in_place, expected[index], f"{param} after the call", rubric)
            if message and after is not None and after.shape == expected[index].shape:
                if np.allclose(after, params[index] + lr * grads[index], rtol=1e-4, atol=1e-6):
                    message = f"{param} moved *up* the gradient (p += lr * g)"
                elif np.array_equal(after, case.arrays[param]):
                    message = f"{param} was not changed in place"
            if not message:
                message = compare(outcome.leaf(str(index)), expected[index], f"returned {param}", rubric)
            if message:
                problems.append(message)
        if problems:
            hint = ""
            if any("up* the gradient" in p for p in problems):
                hint = " Hint: SGD steps against the gradient, theta <- theta - eta * grad (Q1c ii), so use -=."
            elif any("not changed in place" in p for p in problems):
                hint = " Hint: update each tensor in place (W1 -= ...) so that the caller's list sees the step."
            checks.append(Check(name, f"{called} " + "; ".join(problems) + "." + hint))
        else:
            checks.append(Check(name))
    return _to_tests(checks, rubric.points["sgd_update"])


# ---- train_manual and optimizers -------------------------------------------------------------------------


def _history(leaf: Leaf | None, epochs: int, label: str) -> tuple[np.ndarray | None, str]:
    if leaf is None or leaf.value is None:
        return None, f"{label}: no list of losses came back"
    values = leaf.value.astype(np.float64).ravel()
    if leaf.value.ndim != 1 or len(values) != epochs:
        return None, f"{label}: {len(values)} values for {epochs} epochs; expected one float per epoch"
    if not np.all(np.isfinite(values)):
        return None, f"{label}: contains NaN or infinity (the training diverged)"
    return values, ""


def holdout_accuracy(params: list[np.ndarray]) -> float:
    X, y = holdout()
    W1, b1, W2, b2 = (torch.from_numpy(p.astype(np.float32)) for p in params)
    p_hat = solutions.forward(torch.from_numpy(X), W1, b1, W2, b2)[3]
    return float((p_hat.argmax(dim=1).numpy() == y).mean())


def score_train_manual(cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric) -> list[TestResult]:
    bar = rubric.option("train_manual", "holdout_accuracy")
    checks = []
    for case in cases:
        outcome = outcomes[case.calls[0].key]
        epochs = case.calls[0].kwargs["epochs"]
        called = f"Called {describe_call(case)} on the training split."
        names = ("loss_history", "holdout_accuracy")
        if failure := call_failure(outcome, "train_manual"):
            checks += [Check(f"train_manual.{n}", f"{called} {failure}.") for n in names]
            continue
        history, problem = _history(outcome.leaf("1"), epochs, "loss_history")
        if history is not None and not history[-1] < history[0]:
            problem = (
                f"loss_history: the loss did not fall ({history[0]:.4f} at the start, {history[-1]:.4f} at the end)"
            )
        checks.append(Check("train_manual.loss_history", f"{called} {problem}." if problem else ""))
        d, h = case.arrays["X"].shape[1], 10
        shapes = [(d, h), (h,), (h, 2), (2,)]
        params = [outcome.leaf(f"0.{i}") for i in range(4)]
        if any(p is None or p.value is None or p.value.shape != s for p, s in zip(params, shapes, strict=True)):
            got = [None if p is None or p.value is None else tuple(p.value.shape) for p in params]
            message = f"{called} The trained parameters should have shapes {shapes}, got {got}."
        elif not all(np.all(np.isfinite(p.value)) for p in params):
            message = f"{called} The trained parameters contain NaN or infinity."
        else:
            accuracy = holdout_accuracy([p.value for p in params])
            message = (
                ""
                if accuracy >= bar
                else (
                    f"{called} The trained MLP classifies {accuracy:.1%} of the hidden holdout correctly; "
                    f"at least {bar:.0%} is needed. Check the update's sign and the gradients."
                )
            )
        checks.append(Check("train_manual.holdout_accuracy", message))
    return _to_tests(checks, rubric.points["train_manual"])


def score_optimizers(cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric) -> list[TestResult]:
    checks = []
    for case in cases:
        epochs = case.calls[0].kwargs["epochs"]
        histories, problems = {}, []
        for index, call in enumerate(case.calls):
            optimizer = call.args[0]
            outcome = outcomes[call.key]
            if failure := call_failure(outcome, "train_with_optimizer"):
                problems.append(f"Called {describe_call(case, index)}: {failure}.")
                continue
            leaf = outcome.leaf("") or outcome.leaf("0")
            history, problem = _history(leaf, epochs, f'loss_history for "{optimizer}"')
            if problem:
                problems.append(problem)
            else:
                histories[optimizer] = history
        checks.append(Check("optimizers.loss_history", " ".join(problems)))
        if len(histories) == 2:
            sgd, adam = histories["SGD"], histories["Adam"]
            start = abs(sgd[0] - adam[0]) <= 1e-5 + 1e-4 * abs(sgd[0])
            checks.append(
                Check(
                    "optimizers.same_start",
                    ""
                    if start
                    else f"SGD starts at loss {sgd[0]:.4f} and Adam at {adam[0]:.4f}: seed and initialise the "
                    "weights inside train_with_optimizer so both start from the same Xavier weights.",
                )
            )
            checks.append(
                Check(
                    "optimizers.adam_beats_sgd",
                    ""
                    if adam[-1] < sgd[-1]
                    else f"after {epochs} epochs Adam's loss ({adam[-1]:.4g}) is not below SGD's ({sgd[-1]:.4g}), "
                    "unlike the reference.",
                )
            )
        else:
            reason = "needs both the SGD and the Adam loss histories."
            checks += [Check("optimizers.same_start", reason), Check("optimizers.adam_beats_sgd", reason)]
    return _to_tests(checks, rubric.points["optimizers"])


def score_all(
    cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome], rubric: Rubric, banned: dict[str, str]
) -> list[TestResult]:
    """Every automatic test, in the rubric's order of items."""
    return (
        score_loss_fn(cases["loss_fn"], outcomes, rubric, banned.get("loss_fn", ""))
        + score_init_params(cases["init_params"], outcomes, rubric)
        + score_forward(cases["forward"], outcomes, rubric)
        + score_backward(cases["backward"], outcomes, rubric, banned.get("backward", ""))
        + score_sgd_update(cases["sgd_update"], outcomes, rubric, banned.get("sgd_update", ""))
        + score_train_manual(cases["train_manual"], outcomes, rubric)
        + score_optimizers(cases["optimizers"], outcomes, rubric)
    )
