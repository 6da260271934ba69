"""Verdicts as data, and how a returned value is compared with the expected one.

A verdict carries its item, what was called, what is wrong, the catalogued
mistake it shows and the kind of trouble that kept it from being judged, as
fields; the sentence Gradescope, the pages and the self-check show (`output`)
is made from them, so nothing ever has to read a sentence back. Shapes are
checked exactly before values, NaN and infinity are always wrong, and a
missing value is a failure. Messages say what was called and what came back,
never the expected numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from grader.shared.catalogue import autograd_history_breach, hint, run_time_breach, value_mismatch
from grader.shared.outcomes import Array, CallOutcome, CallStatus, Case, Leaf


def code_span(text: str) -> str:
    """`text` as one Markdown code span that nothing in it can end or break out of (on one line)."""
    one_line = " ".join(text.split())  # a blank line would end the paragraph, and the span with it
    fence = "`" * (max((len(run) for run in re.findall("`+", one_line)), default=0) + 1)
    return f"{fence} {one_line} {fence}"


class Trouble(StrEnum):
    """Why something could not be judged on its values (a test, or a cell of the notebook); NONE when it was."""

    NONE = ""
    TODO = "todo"  # the function still raises the template's NotImplementedError
    RAISED = "raised"  # the student's code raised
    MISSING = "missing"  # not defined at the top level of the notebook
    NOT_CALLABLE = "not_callable"  # defined, but not a function
    TIMEOUT = "timeout"  # a call or a cell ran past its time
    KERNEL_LOST = "kernel_lost"  # the kernel died or stopped answering
    NOT_RUN = "not_run"  # never reached: the submission's time ran out, or nothing could run
    RULE = "rule"  # the function broke its item's rule (autograd where it must compute by hand, ...)
    UNREADABLE = "unreadable"  # no notebook the grader can run was handed in
    GRADER_ERROR = "grader_error"  # the grader failed: never the student's doing

    @property
    def needs_a_look(self) -> bool:
        """Whether the class report lists the student for a person to look at (the run itself went wrong)."""
        return self in (Trouble.TIMEOUT, Trouble.KERNEL_LOST, Trouble.UNREADABLE, Trouble.GRADER_ERROR)


@dataclass
class TestResult:
    """One test as Gradescope shows it: `item.case` (or `item.part.case`), points, and what went wrong."""

    __test__ = False  # not a pytest test class, whatever its name

    item: str  # the rubric item it scores
    name: str
    score: float
    max_score: float
    called: str = ""  # "Called f(x: (4, 2) float32, y: (4,) int64)."; "" when it passed
    problem: str = ""  # what is wrong, without the call; "" when it passed
    mistake: str = ""  # the catalogued mistake it shows (a key of MISCONCEPTIONS), or ""
    trouble: Trouble = Trouble.NONE

    @property
    def passed(self) -> bool:
        return not self.problem and self.score >= self.max_score - 1e-9

    @property
    def advice(self) -> str:
        """The catalogued mistake's hint, or ""."""
        return hint(self.mistake) if self.mistake else ""

    @property
    def output(self) -> str:
        """The whole message: what was called, what is wrong, and the hint for the mistake it shows."""
        if not self.problem:
            return "passed"
        return " ".join(part for part in (self.called, self.problem, self.advice) if part)


@dataclass(frozen=True)
class Check:
    """One verdict before points are attached: `part` names it within its case; `problem` is "" when it passed.

    `mistake` names the catalogued mistake the value shows, if any; `trouble` says why it was not judged on
    values at all (the shared prologue sets it; an item's judge leaves it NONE)."""

    part: str
    problem: str = ""
    mistake: str = ""
    trouble: Trouble = Trouble.NONE


def describe_call(case: Case, call_index: int = 0) -> str:
    """`f(x: (32, 2) float32, ...)`: what was called, with shapes, never values."""
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


def compare(leaf: Leaf | None, expected: np.ndarray, what: str, rtol: float, atol: float) -> str:
    """ "" when `leaf` matches `expected` within the tolerance; otherwise `what: what is wrong`."""
    if leaf is None:
        return f"{what}: nothing was returned for it"
    if leaf.value is None:
        facts = leaf.facts
        if facts.get("too_large"):
            return f"{what}: the value returned is far too large ({facts.get('shape')})"
        if facts.get("subclass"):
            return f"{what}: a subclass of torch.Tensor was returned; return a plain tensor"
        return f"{what}: a {code_span(str(facts.get('kind', 'value')))} was returned, not numbers"
    mismatch = value_mismatch(leaf.value, expected, rtol, atol)
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


def returned_autograd_history(function: str, outcomes: list[CallOutcome], reason: str) -> str:
    """A breach when a returned tensor carries an autograd history (autograd ran on the way to it)."""
    if any(leaf.facts.get("has_grad_fn") is True for outcome in outcomes for leaf in outcome.leaves):
        return autograd_history_breach(function, reason)
    return ""


def watched_at_run_time(function: str, outcomes: list[CallOutcome], watch: tuple[str, ...], reason: str) -> str:
    """A breach when watched machinery ran during a call, or the call switched the recording off."""
    for outcome in outcomes:
        if breach := run_time_breach(function, outcome.watched, outcome.recording, watch, reason, code_span):
            return breach
    return ""
