"""How a returned value is compared with the expected one, and how calls are described in messages.

Shapes are checked exactly before values, NaN and infinity are always wrong,
and a missing value is a failure. Messages say what was called and what came
back, never the expected numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.cases import Array, Case
from grader.judge.verdict import Trouble
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome, CallStatus, Leaf
from grader.shared_with_selfcheck import value_mismatch
from grader.student_text import code_span


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor of our own over a harvested array, for the reference to compute with."""
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


def call_failure(outcome: CallOutcome, function: str) -> tuple[str, Trouble]:
    """Why a call gave nothing to judge, and its kind of trouble; ("", NONE) when it returned."""
    if outcome.status == CallStatus.ERROR and outcome.reason.startswith("NotImplementedError"):
        return (
            f"`{function}` raised {code_span(outcome.reason)}. Hint: `{function}` is still a TODO: write it, "
            "following its steps",
            Trouble.TODO,
        )
    reasons = {
        CallStatus.OK: ("", Trouble.NONE),
        CallStatus.MISSING: (f"`{function}` is not defined at the top level of the notebook", Trouble.MISSING),
        CallStatus.NOT_CALLABLE: (f"`{function}` is defined but is not a function", Trouble.NOT_CALLABLE),
        CallStatus.TIMEOUT: (f"`{function}` did not return in time ({outcome.reason or 'timed out'})", Trouble.TIMEOUT),
        CallStatus.ERROR: (f"`{function}` raised {code_span(outcome.reason)}", Trouble.RAISED),
        CallStatus.LOST: (outcome.reason or "the kernel was lost during this call", Trouble.KERNEL_LOST),
        CallStatus.NOT_RUN: (outcome.reason or f"`{function}` was not called", Trouble.NOT_RUN),
    }
    return reasons[outcome.status]


def compare(leaf: Leaf | None, expected: np.ndarray, what: str, rubric: Rubric) -> str:
    """ "" when `leaf` matches `expected` within the rubric's tolerance; otherwise `what: what is wrong`."""
    if leaf is None:
        return f"{what}: nothing was returned for it"
    if leaf.value is None:
        facts = leaf.facts
        if facts.get("too_large"):
            return f"{what}: the value returned is far too large ({facts.get('shape')})"
        if facts.get("subclass"):
            return f"{what}: a subclass of torch.Tensor was returned; return a plain tensor"
        return f"{what}: a {code_span(str(facts.get('kind', 'value')))} was returned, not numbers"
    mismatch = value_mismatch(leaf.value, expected, rubric.tolerance.rtol, rubric.tolerance.atol)
    return f"{what}: {mismatch}" if mismatch else ""


def changed_inputs(case: Case, call_index: int, outcome: CallOutcome) -> list[str]:
    """The case's input arrays that the call changed in place (the probe sends back each tensor argument after it)."""
    flat = [a for arg in case.calls[call_index].args for a in (arg if isinstance(arg, (list, tuple)) else [arg])]
    changed = []
    for index, arg in enumerate(flat):
        after = outcome.inputs_after.get(index)
        if isinstance(arg, Array) and after is not None:
            before = case.arrays[arg.name]
            if after.shape == before.shape and not np.array_equal(after, before):
                changed.append(arg.name)
    return changed
