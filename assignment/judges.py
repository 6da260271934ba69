"""MessMaster part 2's judges: for each graded item, what its values must be (the engine's framework,
grader/shared/judging.py, has already checked that every call returned and kept its rule). One judge for the
grader and the students' self-check: `make student-bundle` stamps this module into it.

Expected values come from `Standards.expected` (the `Expected` below): the grader computes them with the reference
on its hidden cases; the self-check reads them from the numbers shipped with its public cases (values, never the
reference's code).

train_manual composes init_params, forward, loss_fn, backward and sgd_update (the template's loop): a training
whose losses or trained weights differ from the handout's only because one of those is wrong (it matches the
handout's loop over the notebook's own functions) keeps its points: the engine's policy, charged once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from grader.shared.judging import Standards, charged_elsewhere
from grader.shared.outcomes import CallOutcome, Case, Leaf
from grader.shared.verdicts import Check, compare

from .catalogue import (
    GRADIENT_HINTS,
    parameter_problem,
    recognise_gradient,
    recognise_loss,
    recognise_update,
    recognise_weight_shapes,
    same_start,
)

PARAMETERS = ("W1", "b1", "W2", "b2")


FORWARD_OUTPUTS = ("z1", "a1", "z2", "p_hat")


GRADIENTS = tuple(GRADIENT_HINTS)  # dL_dW1, dL_db1, dL_dW2, dL_db2: backward's results in the order it returns them


GRADIENT_TESTS = ("dW1", "db1", "dW2", "db2")  # and the tests they are judged in (the item table's parts)


# what train_manual composes, in the order it calls them (the template's loop)
COMPOSED = ("init_params", "forward", "loss_fn", "backward", "sgd_update")


HANDOUT_SIZES = {"d": 2, "h": 10}  # the notebook's own: a function right only there has them written in


HANDOUT_LOOP = (
    "the handout's full-batch loop (each epoch: forward, loss, backward, sgd_update, then record the loss, with "
    "the arguments the grader passed) from the weights your init_params gave"
)


class Expected(Protocol):
    """Where a judge's expected values come from: the reference (grader) or shipped numbers (self-check)."""

    def values(self, case: Case) -> dict[str, np.ndarray]:
        """The expected results of a case of loss_fn (`loss`), forward (z1 ... p_hat) or backward (dL_dW1 ...)."""

    def training(self, case: Case, start: list[np.ndarray], on_split: bool = False) -> np.ndarray | None:
        """The handout loop's losses from the weights `start` on the case's data (or on the notebook's training
        split); None where they are not known (the self-check knows them from its own start only)."""

    def optimizer(self, case: Case, optimizer: str, on_split: bool = False) -> np.ndarray | None:
        """train_with_optimizer's expected losses for the case (or on the notebook's training split)."""

    def holdout_correct(self, params: list[np.ndarray]) -> tuple[int, int]:
        """How many points of the holdout an MLP with these weights classifies right, of how many."""


def judge_loss_fn(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    leaf = outcomes[0].leaf("")
    problem = compare(leaf, standards.expected.values(case)["loss"], "the loss", standards.rtol, standards.atol)
    if not problem:
        return [Check("")]
    mistake = ""
    if leaf is not None and leaf.value is not None:
        mistake = recognise_loss(case.arrays["p_y_hat"], case.arrays["y"], leaf.value.astype(np.float64))
    return [Check("", f"{problem}.", mistake)]


def judge_init_params(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    item = standards.options["init_params"]
    d, h, k = (case.spec[x] for x in "dhk")
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
    problems, got = [], {}
    for index, (name, shape) in enumerate(shapes.items()):
        leaf = outcomes[0].leaf(str(index))
        if leaf is None or leaf.value is None:
            problems.append(f"{name} is missing or not numbers")
            continue
        got[name] = tuple(leaf.value.shape)
        problem = parameter_problem(
            name, leaf.value, shape, item.weight_std, item.weight_std_min_size, item.weight_max_abs
        )
        problems += [problem] if problem else []
    if not problems:
        return [Check("")]
    return [Check("", "; ".join(problems) + ".", recognise_weight_shapes(got, d, h, k))]


def judge_forward(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    expected = standards.expected.values(case)
    problems = [
        compare(outcomes[0].leaf(str(i)), expected[label], label, standards.rtol, standards.atol)
        for i, label in enumerate(FORWARD_OUTPUTS)
    ]
    problems = [p for p in problems if p]
    if not problems:
        return [Check("")]
    p_hat = outcomes[0].leaf("3")
    overflowed = p_hat is not None and p_hat.value is not None and not np.all(np.isfinite(p_hat.value))
    overflow = "softmax_overflow" if overflowed and np.all(np.isfinite(expected["p_hat"])) else ""
    return [Check("", "; ".join(problems) + ".", overflow)]


def judge_backward(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    expected = standards.expected.values(case)
    checks = []
    for index, (gradient, test) in enumerate(zip(GRADIENTS, GRADIENT_TESTS, strict=True)):
        leaf, wanted = outcomes[0].leaf(str(index)), expected[gradient].astype(np.float64)
        problem = compare(leaf, wanted, gradient, standards.rtol, standards.atol)
        if not problem:
            checks.append(Check(test))
            continue
        mistake = ""
        if leaf is not None and leaf.value is not None:
            mistake = recognise_gradient(gradient, case.arrays, leaf.value.astype(np.float64), wanted)
        # a wrong gradient with no catalogued mistake: where the handout computes it
        checks.append(Check(test, f"{problem}." + ("" if mistake else f" Hint: {GRADIENT_HINTS[gradient]}."), mistake))
    return checks


def judge_sgd_update(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    outcome, lr = outcomes[0], case.spec["learning_rate"]
    problems, advice, mistake = [], "", ""
    for index, name in enumerate(PARAMETERS):
        param, grad = case.arrays[name].astype(np.float64), case.arrays[f"d{name}"].astype(np.float64)
        expected, after = param - lr * grad, outcome.inputs_after.get(index)
        leaf = None if after is None else Leaf(name, {}, after)
        problem = compare(leaf, expected, f"{name} after the call", standards.rtol, standards.atol)
        if problem and after is not None and after.shape == param.shape:
            if recognise_update(param, grad, lr, after.astype(np.float64)):
                problem = f"{name} moved *up* the gradient, so the loss grows"
                mistake = "update_sign"
            elif np.array_equal(after, case.arrays[name]):
                problem = f"{name} was not changed in place"
                advice = " Hint: the caller's list must see the step: change each tensor itself, in place."
        problem = problem or compare(
            outcome.leaf(str(index)), expected, f"returned {name}", standards.rtol, standards.atol
        )
        problems += [problem] if problem else []
    if not problems:
        return [Check("")]
    # a sign that is wrong is the mistake to name; the in-place advice only when nothing is catalogued
    return [Check("", "; ".join(problems) + "." + ("" if mistake else advice), mistake)]


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


def _same_run(got: np.ndarray, other: np.ndarray | None) -> bool:
    """Whether two results of training are one run's (the same losses, or the same trained weights; NaN and
    infinity where the other has them, as a diverging run does)."""
    return (
        other is not None
        and got.shape == other.shape
        and bool(np.allclose(got, other, rtol=1e-3, atol=1e-4, equal_nan=True))
    )


def _trained_on_the_notebooks_data(
    case: Case, got: np.ndarray, expected_there: Callable[[], np.ndarray | None]
) -> bool:
    """Whether a history on data the notebook never had is, instead, the expected one on the training split (the
    notebook's globals, used in place of the arguments)."""
    return "n" in case.spec and _same_run(got, expected_there())


def _follows_from(standards: Standards) -> list[str]:
    return [item for item in COMPOSED if item in standards.failing]


def _manual_history_check(
    case: Case,
    standards: Standards,
    history: np.ndarray,
    start: list[np.ndarray] | None,
    composed: np.ndarray | None,
) -> Check:
    """The loss history against the handout's loop from the student's own first weights, on the case's data: the
    defaults and the order of the steps show in the losses."""
    item = standards.options["train_manual"]
    follows = _follows_from(standards)
    expected = None if start is None else standards.expected.training(case, start)
    if expected is None and start is not None:
        # a start the expected values do not know (the self-check's, when init_params draws otherwise): the
        # handout's loop over the notebook's own functions from it, which is the handout's run where they pass
        # their own tests, and where they do not is what the policy above compares with anyway
        expected = composed
    if expected is not None:
        problem = _history_mismatch(history, expected, item.history_rtol, item.history_atol, "loss_history")
        if not problem:
            return Check("loss_history")
        # a loss_fn that sums instead of averaging scales every recorded loss by N and changes nothing of the
        # training: the handout's run, recorded by a wrong loss_fn (which costs loss_fn)
        scale = float(history @ expected / (expected @ expected))
        if scale > 0 and not np.isclose(scale, 1, rtol=0.05):
            atol = item.history_atol * max(scale, 1)
            if not _history_mismatch(history, expected * scale, item.history_rtol, atol, "loss_history"):
                return Check("loss_history")
    if follows and _same_run(history, composed):
        return Check("loss_history")  # the loop is the handout's; what differs is charged to `follows`
    if not history[-1] < history[0]:
        return Check(
            "loss_history",
            f"loss_history: the loss did not fall ({history[0]:.4f} at the start, {history[-1]:.4f} at the end)"
            + (charged_elsewhere(follows) if follows else "")
            + ".",
        )
    if expected is None:
        return Check("loss_history")  # no first weights of its init_params to start the handout's loop from
    if start is not None and _trained_on_the_notebooks_data(
        case, history, lambda: standards.expected.training(case, start, on_split=True)
    ):
        return Check("loss_history", f"{problem}.", "globals_for_arguments")
    return Check("loss_history", f"{problem} ({HANDOUT_LOOP}){charged_elsewhere(follows) if follows else ''}.")


def _raw(leaf: Leaf | None) -> np.ndarray | None:
    return None if leaf is None or leaf.value is None else leaf.value.astype(np.float64).ravel()


def _leaves_values(leaves: list[Leaf | None], shapes: list[tuple]) -> list[np.ndarray] | None:
    if any(p is None or p.value is None or p.value.shape != s for p, s in zip(leaves, shapes, strict=True)):
        return None
    return [leaf.value for leaf in leaves]


def judge_train_manual(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    item = standards.options["train_manual"]
    outcome, epochs = outcomes[0], case.calls[0].kwargs["epochs"]
    # the handout's loop over the notebook's own functions, from the same seed (None where it did not return)
    loop = outcomes[1] if len(outcomes) > 1 and outcomes[1].status == "ok" else None
    d, h = case.arrays["X"].shape[1], case.calls[0].kwargs.get("h", 10)
    shapes = [(d, h), (h,), (h, 2), (2,)]
    history, problem = _history(outcome.leaf("1"), epochs, "loss_history")
    composed = _history(loop.leaf("1"), epochs, "")[0] if loop else None
    start = _leaves_values([outcome.leaf(f"captured.init_params.{i}") for i in range(4)], shapes)
    follows = _follows_from(standards)
    if history is None and follows and loop and _same_run(_raw(outcome.leaf("1")), _raw(loop.leaf("1"))):
        loss_check = Check("loss_history")  # the handout's loop over these functions diverges just the same
    elif history is None:
        loss_check = Check("loss_history", f"{problem}{charged_elsewhere(follows) if follows else ''}.")
    else:
        loss_check = _manual_history_check(case, standards, history, start, composed)
    returned = [outcome.leaf(f"0.{i}") for i in range(4)]
    params = _leaves_values(returned, shapes)
    composed_params = _leaves_values([loop.leaf(f"0.{i}") for i in range(4)], shapes) if loop else None
    # the weights the handout's loop over these functions ends with: what they get wrong is charged to them
    as_composed = bool(follows) and params is not None and composed_params is not None
    as_composed = as_composed and all(_same_run(a, b) for a, b in zip(params, composed_params, strict=True))
    if params is None:
        got = [None if p is None or p.value is None else tuple(p.value.shape) for p in returned]
        problem = f"The trained parameters should have shapes {shapes}, got {got}."
    elif as_composed:
        problem = ""
    elif not all(np.all(np.isfinite(p)) for p in params):
        problem = "The trained parameters contain NaN or infinity." + (charged_elsewhere(follows) if follows else "")
    else:
        correct, points = standards.expected.holdout_correct(params)
        needed = math.ceil(item.holdout_accuracy * points - 1e-9)
        problem = (
            ""
            if correct >= needed
            else f"The trained MLP classifies {correct} of the {points} points of the holdout correctly "
            f"({correct / points:.2%}); at least {needed} ({item.holdout_accuracy:.0%}) are needed. Look at how "
            "the weights are updated, and at the gradients." + (charged_elsewhere(follows) if follows else "")
        )
    return [loss_check, Check("holdout_accuracy", problem)]


def judge_optimizers(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    item = standards.options["optimizers"]
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
    # from the same start, both runs must be the expected ones (from different starts, same_start says why)
    mismatches = {
        name: _history_mismatch(
            histories[name],
            standards.expected.optimizer(case, name),
            item.history_rtol,
            item.history_atol,
            f'loss_history for "{name}"',
        )
        for name in histories
        if started_together
    }
    history_problem = ". ".join(m for m in mismatches.values() if m)
    history_check = Check("loss_history")
    if history_problem:
        if all(
            _trained_on_the_notebooks_data(
                case, histories[name], lambda name=name: standards.expected.optimizer(case, name, on_split=True)
            )
            for name in mismatches
        ):
            history_check = Check("loss_history", f"{history_problem}.", "globals_for_arguments")
        else:
            history_check = Check(
                "loss_history",
                f"{history_problem}: train as the handout does (Xavier-uniform weights seeded by `seed`, zero "
                "biases, the arguments the grader passed, the MLP of Q1, F.cross_entropy on the logits, one "
                "full-batch step per epoch).",
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
