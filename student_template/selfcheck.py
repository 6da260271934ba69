"""The self-check of MessMaster part 2: check your functions before you submit.

In the notebook, after running your cells:

    from selfcheck import check
    check("loss_fn")  # one function (by its name, as in the feedback)
    check()  # all of them

From a shell, on a saved notebook (runs it with few epochs first):

    python selfcheck.py messmaster_part2.ipynb

The checks are the grader's own: its judges, tolerances, messages and hints
(the code between the SHARED WITH THE GRADER markers is the grader's, copied
in), run on public cases of every kind the grader's hidden cases have, with
the expected values shipped as numbers in selfcheck_cases.npz. A function
passes here exactly when the grader's checks pass it on these cases; the
grader runs the same checks on hidden cases of other sizes and seeds.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import math
import os
import re
import sys
import textwrap
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"
INSTALL = "pip install -r requirements.txt   (the course's pinned packages, in the bundle)"
# from the shell: a cell running longer is reported, and again every as many seconds
SLOW_CELL_SECONDS = float(os.environ.get("SELFCHECK_SLOW_CELL_SECONDS", "30"))
CASES_FILE = Path(__file__).with_name("selfcheck_cases.npz")
FAILURES_SHOWN = 3  # failed checks shown in full per function (the rest are counted)
# as the grader's kernels: quiet, and no IPython history in SQLite (a thread writing after every cell, into your
# own ~/.ipython; `In`, `Out` and `%history` of the kernel's session live in memory either way)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]


class MissingPackage(Exception):
    """A package the self-check needs is not installed: one line says what to install."""


def _require(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ModuleNotFoundError as error:
        raise MissingPackage(f"the self-check needs `{error.name}`, which is not installed: {INSTALL}") from None


# ---- BEGIN SHARED WITH THE GRADER: stamped by `make student-bundle` from the course's rubric; do not edit ----
POINTS = {
    "loss_fn": 10,
    "init_params": 5,
    "forward": 10,
    "backward": 20,
    "sgd_update": 10,
    "train_manual": 10,
    "train_with_optimizer": 10,
}
WRITTEN_POINTS = 25
RTOL = 0.0001
ATOL = 1e-06
CALL_TIMEOUT = 60.0
ITEM_OPTIONS = {
    "loss_fn": {
        "points": 10.0,
        "rule": {
            "identifiers": ["cross_entropy", "CrossEntropyLoss"],
            "reason": "loss_fn must compute the negative log-likelihood itself, not call PyTorch's cross-entropy",
            "watch": ["cross_entropy"],
            "autograd_history": False,
        },
    },
    "init_params": {
        "points": 5.0,
        "rule": None,
        "weight_std": [0.008, 0.012],
        "weight_std_min_size": 1000,
        "weight_max_abs": 0.06,
    },
    "forward": {"points": 10.0, "rule": None},
    "backward": {
        "points": 20.0,
        "rule": {
            "identifiers": ["backward", "autograd", "requires_grad", "requires_grad_"],
            "reason": "backward must compute the gradients by hand (the chain rule of Q1d), not with autograd",
            "watch": ["autograd"],
            "autograd_history": True,
        },
    },
    "sgd_update": {
        "points": 10.0,
        "rule": {
            "identifiers": ["optim"],
            "reason": "sgd_update must apply the update rule itself, not call a torch.optim optimizer",
            "watch": ["optimizer"],
            "autograd_history": False,
        },
    },
    "train_manual": {
        "points": 10.0,
        "rule": None,
        "holdout_accuracy": 0.95,
        "history_rtol": 0.001,
        "history_atol": 0.0001,
    },
    "optimizers": {
        "points": 10.0,
        "rule": None,
        "same_start_rtol": 0.0001,
        "same_start_atol": 1e-05,
        "history_rtol": 0.001,
        "history_atol": 0.0001,
    },
}
ITEM_TABLE = {
    "loss_fn": {
        "function": "loss_fn",
        "judge": "judge_loss_fn",
        "parts": [""],
        "changes_inputs": False,
        "composes": [],
    },
    "init_params": {
        "function": "init_params",
        "judge": "judge_init_params",
        "parts": [""],
        "changes_inputs": False,
        "composes": [],
    },
    "forward": {
        "function": "forward",
        "judge": "judge_forward",
        "parts": [""],
        "changes_inputs": False,
        "composes": [],
    },
    "backward": {
        "function": "backward",
        "judge": "judge_backward",
        "parts": ["dW1", "db1", "dW2", "db2"],
        "changes_inputs": False,
        "composes": [],
    },
    "sgd_update": {
        "function": "sgd_update",
        "judge": "judge_sgd_update",
        "parts": [""],
        "changes_inputs": True,
        "composes": [],
    },
    "train_manual": {
        "function": "train_manual",
        "judge": "judge_train_manual",
        "parts": ["loss_history", "holdout_accuracy"],
        "changes_inputs": False,
        "composes": ["init_params", "forward", "loss_fn", "backward", "sgd_update"],
    },
    "optimizers": {
        "function": "train_with_optimizer",
        "judge": "judge_optimizers",
        "parts": ["loss_history", "same_start", "adam_beats_sgd"],
        "changes_inputs": False,
        "composes": [],
    },
}
NOTEBOOK_SIZES = {"d": 2, "h": 10}
NOTEBOOK_PARAMETERS = {"EPOCHS": 100}
TRAININGS = {"train_manual": 10000, "train_with_optimizer": 10000}
WARM_MODULES = [
    "torch",
    "torch.nn.functional",
    "sklearn.model_selection",
    "pandas",
    "collections.abc",
    "matplotlib.pyplot",
    "numpy",
    "torch._dynamo",
    "sklearn.linear_model",
]


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


# ---- the mistake catalogue: each known mistake, what to say, where to look --------------------------------------


@dataclass(frozen=True)
class Misconception:
    item: str  # the grader's item it costs ("" for any)
    says: str  # the sentence the feedback and the self-check give
    step: str  # where, within the item's question, to look ("step 2", "the SGD step")
    question: str = ""  # the handout's question that asks for the item ("Q1b")

    @property
    def where(self) -> str:
        """The place in the handout: the item's question and the step (or the step alone)."""
        return f"{self.question}, {self.step}" if self.question else self.step


# Mistakes of any item, which the framework recognises across an item's cases (grader/shared/judging.py); an
# assignment's catalogue adds them to its own.
GENERAL_MISTAKES = {
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
# The catalogue of the assignment being graded, by name: what `hint` reads. The engine fills it when it puts an
# assignment to use (grader/assignment.py); in the students' self-check the assignment's catalogue, stamped after
# this, defines it.
MISCONCEPTIONS: dict[str, Misconception] = dict(GENERAL_MISTAKES)


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
    mistake = MISCONCEPTIONS.get(name)
    if mistake is None:  # a mistake the assignment no longer catalogues (a grading of older days): no hint
        return ""
    return f"Hint ({name}): {mistake.says} ({mistake.where})."


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


@dataclass(frozen=True)
class Array:
    """An argument that is one of the case's input arrays, passed as a fresh tensor."""

    name: str


@dataclass(frozen=True)
class Call:
    """One call of a graded function: `function(*args, **kwargs)` after seeding with `seed`.

    `capture`: functions of the submission whose first result during the call comes back too (a training's
    first weights, from the function that draws them). `handout_loop`: instead of `function`, the probe runs
    the assignment's training loop over the notebook's own functions (`_grader_handout_loop`: what a training
    composed of them gives), to tell a training's own mistakes from those of the functions it composes.
    """

    key: str
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    seed: int
    capture: tuple[str, ...] = ()
    handout_loop: bool = False


@dataclass
class Case:
    item: str
    name: str
    calls: list[Call]
    arrays: dict[str, np.ndarray]
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def graded_calls(self) -> list[Call]:
        """The calls of the student's function itself (not the handout's loop run beside them)."""
        return [call for call in self.calls if not call.handout_loop]


def _encoded(arg: object, scope: str) -> dict:
    if isinstance(arg, Array):
        return {"array": f"{scope}/{arg.name}"}
    if isinstance(arg, (list, tuple)):
        return {"list": [_encoded(a, scope) for a in arg]}
    return {"value": arg}


def probe_calls(cases: list[Case], watch: tuple[str, ...] | list[str] = ()) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The calls as the probe reads them, and their input arrays, named `CASE/ARRAY`.

    `watch`: the machinery the probe records while each call runs (the item's rule)."""
    calls, arrays = [], {}
    for case in cases:
        for call in case.calls:
            calls.append(
                {
                    "key": call.key,
                    "function": call.function,
                    "args": [_encoded(a, case.name) for a in call.args],
                    "kwargs": {k: _encoded(v, case.name) for k, v in call.kwargs.items()},
                    "seed": call.seed,
                    "watch": [] if call.handout_loop else list(watch),
                    "capture": list(call.capture),
                    "handout_loop": call.handout_loop,
                }
            )
        arrays |= {f"{case.name}/{name}": value for name, value in case.arrays.items()}
    return calls, arrays


def _decoded(arg: dict) -> object:
    if "array" in arg:
        return Array(arg["array"].split("/", 1)[1])
    if "list" in arg:
        return [_decoded(a) for a in arg["list"]]
    return arg["value"]


def cases_from_calls(item: str, described: list[dict], calls: list[dict], arrays: dict[str, np.ndarray]) -> list[Case]:
    """The cases `probe_calls` encoded, back (`described`: each case's name and spec, in order)."""
    found = []
    for entry in described:
        name = entry["name"]
        own = [call for call in calls if call["key"].split(".")[1] == name]
        found.append(
            Case(
                item,
                name,
                [
                    Call(
                        call["key"],
                        call["function"],
                        tuple(_decoded(a) for a in call["args"]),
                        {k: _decoded(v) for k, v in call["kwargs"].items()},
                        call["seed"],
                        tuple(call["capture"]),
                        call["handout_loop"],
                    )
                    for call in own
                ],
                {key.split("/", 1)[1]: value for key, value in arrays.items() if key.split("/", 1)[0] == name},
                dict(entry["spec"]),
            )
        )
    return found


@dataclass
class Leaf:
    """One value the function returned (a tensor, an array, a number, a list of numbers)."""

    path: str  # "0", "1.2" ... position inside the returned tuple/list; "" for a bare value
    facts: dict
    value: np.ndarray | None


class CallStatus(StrEnum):
    """How one call of a graded function ended; the probe in the kernel writes these values."""

    OK = "ok"
    MISSING = "missing"
    NOT_CALLABLE = "not_callable"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_RUN = "not_run"
    LOST = "lost"  # the kernel was lost during the call (the grader's finding; the probe never writes it)


@dataclass
class CallOutcome:
    status: CallStatus
    reason: str = ""
    leaves: list[Leaf] = field(default_factory=list)
    inputs_after: dict[int, np.ndarray] = field(default_factory=dict)  # tensor arguments after the call
    # for a call whose rule watches machinery at run time: what of it ran (category -> what was seen),
    # and whether the recording stayed on ("intact") or how it was switched off
    watched: dict[str, str] = field(default_factory=dict)
    recording: str = ""

    def leaf(self, path: str) -> Leaf | None:
        return next((leaf for leaf in self.leaves if leaf.path == path), None)


NOT_CALLED = "the graded function was not called (no result came back)"
# a handout's-loop call left out because its judge does not read it (judging.handout_loop_read)
LOOP_NOT_READ = "not run: every function the training composes passed its own tests, so the handout's loop is not read"


def loop_left_out(outcome: CallOutcome) -> bool:
    return outcome.status == CallStatus.NOT_RUN and outcome.reason == LOOP_NOT_READ


def outcomes_from(meta: object, arrays: dict[str, np.ndarray], keys: list[str]) -> dict[str, CallOutcome]:
    """Each call's outcome from the probe's records and arrays, read as untrusted data."""
    outcomes = {}
    for key in keys:
        record = meta.get(key) if isinstance(meta, dict) else None
        if not isinstance(record, dict):
            outcomes[key] = CallOutcome(CallStatus.NOT_RUN, NOT_CALLED)
            continue
        status = record.get("status")
        if status not in set(CallStatus):
            outcomes[key] = CallOutcome(CallStatus.ERROR, "the values returned could not be read back")
            continue
        outcome = CallOutcome(CallStatus(status), str(record.get("error", "")))
        watched = record.get("watched", {})
        if isinstance(watched, dict):
            outcome.watched = {str(k)[:100]: str(v)[:200] for k, v in watched.items()}
        outcome.recording = str(record.get("recording", ""))[:200]
        for index, facts in enumerate(record.get("leaves", []) if outcome.status == CallStatus.OK else []):
            if isinstance(facts, dict):
                outcome.leaves.append(Leaf(str(facts.get("path", "")), facts, arrays.get(f"{key}/out/{index}")))
        prefix = f"{key}/after/"
        outcome.inputs_after = {int(n[len(prefix) :]): a for n, a in arrays.items() if n.startswith(prefix)}
        outcomes[key] = outcome
    return outcomes


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


@dataclass(frozen=True)
class Standards:
    """What every judge holds the values to: the tolerance, each item's options (as the rubric's `[items.NAME]`
    tables give them), the expected values, the notebook's training rows, the composed items that fail their
    own tests (a training is not charged again for them), and the sizes the notebook itself uses."""

    rtol: float
    atol: float
    options: dict[str, Any]
    expected: Any  # the assignment's expected values (its judges say what they ask of it)
    training_rows: int
    failing: frozenset[str] = frozenset()
    notebook_sizes: tuple[tuple[str, int], ...] = ()  # the notebook's own sizes: a case of these, right only there?


# a judge sees one case whose calls all returned, and gives one Check per part of its item, in order
Judge = Callable[[Case, list[CallOutcome], Standards], list[Check]]


def named_test(item: str, part: str, case: Case) -> str:
    return ".".join(p for p in (item, part, case.name) if p)


def parts_of(parts: tuple[str, ...], case: Case) -> tuple[str, ...]:
    """The tests `case` yields: the item's, or those its definition's `parts` names."""
    return tuple(part for part in parts if part in case.spec.get("parts", parts))


def charged_once(items: dict[str, Any], failing: set[str] | frozenset[str]) -> str:
    """What the feedback says of each item that composes others (a training loop over the notebook's functions)
    while some of those fail their own tests: the policy. `items`: the item table (each entry's `composes`)."""
    notes = []
    for item, entry in items.items():
        composes = tuple(getattr(entry, "composes", ()))
        follows = [name for name in composes if name in failing]
        if not follows:
            continue
        names = ", ".join(f"`{name}`" for name in follows)
        notes.append(
            f"{item} composes {', '.join(composes)} and is judged on its own loop: while {names} "
            f"fail{'s' if len(follows) == 1 else ''} {'its' if len(follows) == 1 else 'their'} own tests, its losses "
            "and trained weights are compared with what the handout's loop over your own functions gives, so what "
            "those get wrong is charged once, to them."
        )
    return "\n\n".join(notes)


def handout_loop_read(
    composes: tuple[str, ...] | list[str],
    cases: list[Case],
    found: dict[str, CallOutcome],
    failing: set[str] | frozenset[str],
    expected: Any,
) -> bool:
    """Whether an item's judge reads the handout's loop over the notebook's own functions (its cases' handout_loop
    calls): where a function it `composes` fails its own tests (`failing`: the items judged before it that do),
    or where the expected values say so of a case (a training from first weights they do not know: the
    self-check's). Elsewhere its verdicts do not depend on the loop, and neither the grader nor the self-check
    runs it. `found`: the outcomes of the item's own calls."""
    if set(failing) & set(composes):
        return True
    loop_needed = getattr(expected, "loop_needed", None)  # the reference knows every start: it has none
    return loop_needed is not None and any(loop_needed(case, found[case.graded_calls[0].key]) for case in cases)


def charged_elsewhere(follows: list[str]) -> str:
    names = ", ".join(f"`{item}`" for item in follows)
    return f" (functions it composes fail their own tests: {names}; fix those first)"


def _why_not_judged(
    function: str, rule: Any, case: Case, outcomes: list[CallOutcome], breach: str
) -> tuple[str, Trouble]:
    """Why the case's tests all fail before any value is looked at (a broken rule, a call that did not return),
    and its kind of trouble; ("", NONE) when its values are to be judged."""
    if breach:
        return breach, Trouble.RULE
    graded = [(call, outcome) for call, outcome in zip(case.calls, outcomes, strict=True) if not call.handout_loop]
    failures = [call_failure(outcome, call.function) for call, outcome in graded]
    if any(text for text, _ in failures):
        first = next(trouble for text, trouble in failures if text)
        return "; ".join(dict.fromkeys(text for text, _ in failures if text)), first
    own = [outcome for _, outcome in graded]
    if rule is not None and rule.watch:
        if ran := watched_at_run_time(function, own, tuple(rule.watch), rule.reason):
            return ran, Trouble.RULE
    if rule is not None and rule.autograd_history:
        if kept := returned_autograd_history(function, own, rule.reason):
            return kept, Trouble.RULE
    return "", Trouble.NONE


def _changed_inputs_note(case: Case, outcomes: list[CallOutcome]) -> str:
    changed = sorted(
        {
            name
            for index, (call, outcome) in enumerate(zip(case.calls, outcomes, strict=True))
            if not call.handout_loop
            for name in changed_inputs(case, index, outcome)
        }
    )
    if not changed:
        return ""
    return f" Note: it changed its input{'s' if len(changed) > 1 else ''} {', '.join(changed)} in place."


def called(case: Case) -> str:
    """`Called f(x: (4, 2) float32, y: (4,) int64).`: what a case called, and on what data."""
    shown = [describe_call(case, index) for index, call in enumerate(case.calls) if not call.handout_loop]
    on = f" on {case.spec['about']}" if "about" in case.spec else ""
    return f"Called {' and '.join(shown)}{on}."


def _across_cases(
    cases: list[Case], outcomes: dict[str, CallOutcome], checks: list[list[Check]], rows: int, sizes: dict[str, int]
) -> str:
    """A catalogued mistake that only shows across an item's cases (sizes written in, globals used), or ""."""
    for case in cases:
        shaped = [value for value in case.arrays.values() if value.ndim >= 1]
        case_rows = len(shaped[0]) if shaped else None
        for call in case.graded_calls:
            # a result as long as a number the grader passed (say epochs) may owe its length to that number
            given = {arg for arg in (*call.args, *call.kwargs.values()) if type(arg) is int}
            if (
                case_rows not in (None, rows)
                and rows not in given
                and any(
                    leaf.value is not None and leaf.value.ndim >= 1 and leaf.value.shape[0] == rows
                    for leaf in outcomes[call.key].leaves
                )
            ):
                return "globals_for_arguments"
    handout = [i for i, case in enumerate(cases) if sizes and all(case.spec.get(k) == v for k, v in sizes.items())]
    others = [i for i in range(len(cases)) if i not in handout]
    if (
        handout
        and all(not c.problem for i in handout for c in checks[i])
        and any(c.problem for i in others for c in checks[i])
    ):
        return "sizes_hard_coded"
    return ""


def judge_cases(
    item: str,
    entry: Any,
    cases: list[Case],
    outcomes: dict[str, CallOutcome],
    standards: Standards,
    breach: str = "",
    ignored: tuple[str, ...] | list[str] = (),
) -> list[tuple[str, str, Check]]:
    """Every test of one item's cases as (test name, what was called, verdict). `entry`: the item's `function`,
    `judge`, `parts`, `changes_inputs` and `composes`; its options (`standards.options[item]`) hold its
    `rule`, if any.
    `breach`: the rule its code breaks; `ignored`: the arguments its code never reads (both read from its source)."""
    rule = getattr(standards.options[item], "rule", None)
    checks = []
    for case in cases:
        case_outcomes = [outcomes[call.key] for call in case.calls]
        failure, trouble = _why_not_judged(entry.function, rule, case, case_outcomes, breach)
        parts = parts_of(entry.parts, case)
        if failure:
            # a training that raised while a function it composes fails: that one is where to look first
            follows = [name for name in getattr(entry, "composes", ()) if name in standards.failing]
            pointer = charged_elsewhere(follows) if follows and trouble != Trouble.RULE else ""
            checks.append([Check(part, f"{failure}{pointer}.", trouble=trouble) for part in parts])
            continue
        found = entry.judge(case, case_outcomes, standards)
        if [check.part for check in found] != list(entry.parts):  # a judge of ours that breaks the interface
            raise ValueError(f"the {item} judge judged {[c.part for c in found]}, not its parts {list(entry.parts)}")
        note = "" if entry.changes_inputs else _changed_inputs_note(case, case_outcomes)
        checks.append([_with_note(check, note) for check in found if check.part in parts])
    # a mistake only the cases together show, for the failures whose values show none of their own; and for a
    # call that raised, the mistake the item's other cases show
    across = (
        ""
        if breach
        else _across_cases(cases, outcomes, checks, standards.training_rows, dict(standards.notebook_sizes))
    )
    shown = next((c.mistake for case_checks in checks for c in case_checks if c.mistake), "")
    unused = _unused_note(entry.function, ignored)
    return [
        (named_test(item, check.part, case), called(case), _with_mistake(check, across, shown, unused))
        for case, case_checks in zip(cases, checks, strict=True)
        for check in case_checks
    ]


def _unused_note(function: str, ignored: tuple[str, ...] | list[str]) -> str:
    if not ignored:
        return ""
    names = ", ".join(f"`{name}`" for name in ignored)
    return f" Note: {function} never uses its argument{'s' if len(ignored) > 1 else ''} {names}."


def _with_note(check: Check, note: str) -> Check:
    return Check(check.part, check.problem + note, check.mistake, check.trouble) if check.problem and note else check


def _with_mistake(check: Check, across: str, shown: str, unused: str) -> Check:
    """A failed check with the mistake its item's cases show together, where its own value shows none; and, for a
    failure on the values, the arguments its code ignores."""
    if not check.problem or check.trouble not in (Trouble.NONE, Trouble.RAISED):
        return check
    if check.mistake:
        return check
    mistake = across or (shown if check.trouble == Trouble.RAISED else "")
    if unused and not mistake:
        return Check(check.part, check.problem + unused, "argument_ignored", check.trouble)
    return Check(check.part, check.problem, mistake, check.trouble)


class ShippedValues:
    """The judges' expected values, read from the shipped arrays (the reference computed them, for these cases)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def _of(self, case: Case, name: str) -> np.ndarray | None:
        return self.arrays.get(f"expected/{case.item}/{case.name}/{name}")

    def values(self, case: Case) -> dict[str, np.ndarray]:
        prefix = f"expected/{case.item}/{case.name}/"
        return {name[len(prefix) :]: value for name, value in self.arrays.items() if name.startswith(prefix)}

    def loop_needed(self, case: Case, outcome: CallOutcome) -> bool:
        """Whether this case's judge needs the handout's loop over the notebook's own functions even though every
        function the training composes passes (`judging.handout_loop_read`: the grader and the self-check skip the
        loop where its verdict cannot depend on it)."""
        return False


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


class ShippedExpected(ShippedValues):
    """The judges' `Expected` (judges.py), answered from the shipped numbers."""

    def training(self, case: Case, start: list[np.ndarray], on_split: bool = False) -> np.ndarray | None:
        """Known from the first weights the reference's init_params drew for this case only."""
        shipped = [self._of(case, f"start/{index}") for index in range(4)]
        same = all(
            mine.shape == theirs.shape and np.allclose(mine, theirs, rtol=1e-6, atol=1e-9)
            for mine, theirs in zip(start, shipped, strict=True)
        )
        return self._of(case, "history_on_split" if on_split else "history") if same else None

    def optimizer(self, case: Case, optimizer: str, on_split: bool = False) -> np.ndarray | None:
        return self._of(case, f"{optimizer}_on_split" if on_split else optimizer)

    def holdout_correct(self, params: list[np.ndarray]) -> tuple[int, int]:
        """On what the notebook's training split leaves of the data (the grader's holdout is its own)."""
        X, y = self.arrays["holdout/X"], self.arrays["holdout/y"]
        W1, b1, W2, b2 = (p.astype(np.float32) for p in params)
        logits = np.maximum(X @ W1 + b1, 0) @ W2 + b2  # the MLP of Q1: the largest logit is the class
        return int((logits.argmax(axis=1) == y).sum()), len(y)

    def loop_needed(self, case: Case, outcome: CallOutcome) -> bool:
        """Where train_manual's first weights are not those the shipped losses start from, its judge compares it
        with the handout's loop from those weights instead."""
        if case.item != "train_manual":
            return False
        start = [outcome.leaf(f"captured.init_params.{index}") for index in range(4)]
        if any(leaf is None or leaf.value is None for leaf in start):
            return False
        return self.training(case, [leaf.value for leaf in start]) is None


def _grader_watch(sys, _thread, threading, time, os):
    """The Watch class: `Watch().install()` at the kernel's start; a Recording then reads it."""
    sys_setprofile = sys.setprofile
    # a thread without our hook that used less CPU than this during a call did nothing there; a thread whose
    # hook was removed (sys.setprofile in it) is allowed none
    silent_cpu_ns = 1_000_000

    def thread_cpu_ns(ident):
        try:
            return time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
        except (AttributeError, OSError, OverflowError):  # no such thread any more, or no such clock here
            return None

    def processes():
        """{(pid, start time): (parent pid, state)} of every process this machine's /proc shows ({} without one)."""
        found = {}
        try:
            entries = os.listdir("/proc")
        except OSError:
            return found
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()  # after the command's name, which may hold anything
            found[(int(entry), int(fields[19]))] = (int(fields[1]), fields[0].decode())
        return found

    def task_times(pid):
        """{thread id: (nanoseconds on a CPU, times put on a CPU)} of one process's threads (the scheduler's
        count of times put on a CPU grows the moment a sleeping thread wakes, before it can do anything)."""
        times = {}
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return times
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as file:
                    ran, _, slices = file.read().split()[:3]
                times[task] = (int(ran), int(slices))
            except (OSError, ValueError):
                continue
        return times

    class Watch:
        """The kernel's own threads and processes, every thread started since hooked, and the recording in force."""

        def __init__(self):
            self.own_threads = set(sys._current_frames())
            self.own_processes = set(processes())
            self.hooked = set()  # threads whose profile hook is `dispatch`
            self.recording = None  # the Recording in force: every hooked thread's calls go to it
            self.start_unwatched = _thread.start_new_thread

        def install(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_new_thread
            return self

        def uninstall(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_unwatched

        def start_new_thread(self, function, args, kwargs=None):
            watch = self

            def hooked(*args, **kwargs):
                ident = _thread.get_ident()
                watch.hooked.add(ident)
                sys_setprofile(watch.dispatch)
                try:
                    return function(*args, **kwargs)
                finally:
                    watch.hooked.discard(ident)

            return self.start_unwatched(hooked, args, kwargs or {})

        def dispatch(self, frame, event, arg):
            if event == "c_call" and arg is sys_setprofile:  # this thread replaces its hook: out of our sight
                self.hooked.discard(_thread.get_ident())
            recording = self.recording
            if recording is not None:
                recording.heard.add(_thread.get_ident())
                recording.profile(frame, event, arg)

        def threads_now(self, caller):
            """{thread: CPU nanoseconds} of every Python thread but the kernel's own and the caller."""
            idents = set(sys._current_frames()) - self.own_threads - {caller}
            return {ident: thread_cpu_ns(ident) for ident in idents}

        def unseen_threads(self, before, caller, heard):
            """The threads that ran during a call without being heard by the recording: "" if none."""
            after = self.threads_now(caller)
            for ident in sorted(set(before) | set(after)):
                if ident in heard:
                    continue
                start, end = before.get(ident), after.get(ident)
                if ident in before and ident not in after:  # it ended during the call: it ran
                    return "a thread started before the call"
                allowed = silent_cpu_ns if ident in self.hooked else 0
                if end is not None and end - (start or 0) > allowed:
                    name = getattr(threading._active.get(ident), "name", "")
                    return f"a thread ({name})" if name else "a thread"
            return ""

        def processes_now(self):
            """{(pid, start): (state, its threads' times)} of the notebook's processes: the kernel's descendants
            that were not there when the watch began."""
            table = processes()
            children = {}
            for key, (parent, _) in table.items():
                children.setdefault(parent, []).append(key)
            found, pending = {}, [key for key in table if key[0] == os.getpid()]
            while pending:
                for child in children.get(pending.pop()[0], []):
                    if child not in found and child not in self.own_processes:
                        found[child] = (table[child][1], task_times(child[0]))
                        pending.append(child)
            return found

        def processes_that_ran(self, before):
            """The processes that ran (or started, or ended) during a call: "" if none."""
            after = self.processes_now()
            for key, (state, times) in after.items():
                if key not in before:
                    return f"a process (pid {key[0]}) started during the call"
                if state == "R" or times != before[key][1]:
                    return f"a process (pid {key[0]}) the notebook started earlier"
            ended = sorted(set(before) - set(after))
            return f"a process (pid {ended[0][0]}) the notebook started earlier" if ended else ""

    return Watch


def _grader_recording(torch, sys, threading, os, watcher=None):
    """The Recording class: `with Recording(categories): function(...)`, then `.facts()`.

    `watcher`: the Watch installed at the kernel's start, through which the recording also hears every thread
    hooked since and sees the notebook's processes; without one, only threads started during the call."""
    from torch.overrides import TorchFunctionMode, resolve_name

    torch_root = os.path.dirname(torch.__file__) + os.sep
    autograd_functions = {
        "torch.Tensor.backward",
        "torch.autograd.grad",
        "torch.autograd.backward",
        "torch.Tensor.requires_grad_",
        "torch.Tensor.requires_grad.__set__",
        "torch.Tensor.retain_grad",
    }
    # turning tracking on is autograd; turning it off (requires_grad_(False)) is not: judged by its argument
    tracking_switches = {"torch.Tensor.requires_grad_", "torch.Tensor.requires_grad.__set__"}
    builtin_categories = {
        "run_backward": "autograd",
        "_run_backward": "autograd",
        "retain_grad": "autograd",
        "cross_entropy_loss": "cross_entropy",
    }
    # what starts a process: while a watched function runs, that is a breach of its rule whatever the process
    # does (work handed to a child is out of the recording's sight)
    process_starters = {"fork", "forkpty", "vfork", "fork_exec", "posix_spawn", "posix_spawnp", "execv", "execve"}
    process_starters |= {"system", "spawnv", "spawnve"}
    process_modules = {"posix", "nt", "os", "_posixsubprocess"}
    # calls that turn a layer of the recording off (torch itself pops the mode stack while it dispatches,
    # so the mode's removal is checked after the call instead)
    switches = {"setprofile", "settrace", "disable_saved_tensors_hooks", "_saved_tensors_hooks_disable"}
    genuine_profiler = all(
        getattr(f, "__self__", None) is sys and f.__name__ == name
        for f, name in ((sys.setprofile, "setprofile"), (sys.getprofile, "getprofile"))
    )

    def category_of_python(code):
        """The watched category of a Python function of torch's own, by file and name."""
        if not code.co_filename.startswith(torch_root):
            return None
        where = code.co_filename[len(torch_root) :].replace(os.sep, "/")
        name = code.co_qualname
        if where.startswith("optim/"):
            return "optimizer"
        if where in ("autograd/functional.py", "autograd/forward_ad.py") or where.startswith("func/"):
            return "autograd"
        if (where, name) in (("autograd/__init__.py", "backward"), ("autograd/__init__.py", "grad")):
            return "autograd"
        if (where, name) == ("_tensor.py", "Tensor.backward"):
            return "autograd"
        if (where, name) == ("nn/functional.py", "cross_entropy") or name.startswith("CrossEntropyLoss."):
            return "cross_entropy"
        return None

    class Recording:
        """Four layers: a profile hook on every Python and builtin call (this thread, and every thread the
        watch hooked or started meanwhile), a torch function mode on every torch call, a saved-tensors hook on
        any autograd graph, and the threads and processes that ran out of the hooks' hearing."""

        def __init__(self, categories):
            self.watch = set(categories)
            self.seen = {}
            self.switched_off = "" if genuine_profiler else "sys.setprofile was replaced before the call"
            self.active = False
            self.heard = set()  # the threads whose calls the profile hook heard during the call

        def note(self, category, what):
            if self.active and category in self.watch and category not in self.seen:
                self.seen[category] = what

        def started_process(self, how):
            if self.active and "process" not in self.seen:
                self.seen["process"] = how

        def profile(self, frame, event, arg):
            if not self.active:
                return
            if event == "call":
                name = frame.f_code.co_qualname
                if switches.intersection(name.split(".")) and not self.switched_off:
                    self.switched_off = name
                if name == "BaseProcess.start" and frame.f_code.co_filename.endswith("process.py"):
                    self.started_process("multiprocessing")  # whichever way it starts (a fork server too)
                self.note(category_of_python(frame.f_code), f"{frame.f_code.co_qualname} (torch)")
            elif event == "c_call":
                name = getattr(arg, "__name__", "")
                if name in switches and not self.switched_off:
                    self.switched_off = name
                if name in process_starters and getattr(arg, "__module__", None) in process_modules:
                    self.started_process(name)
                self.note(builtin_categories.get(name), name)
            elif event == "c_return" and getattr(arg, "__name__", "") == "requires_grad_":
                tensor = getattr(arg, "__self__", None)  # turned on, not off: seen on the tensor it returns from
                if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                    self.note("autograd", "requires_grad_")

        def graph_recorded(self, tensor):
            self.note("autograd", "an autograd graph (a tensor that requires grad)")
            return tensor

        def __enter__(self):
            recording = self

            class Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    name = resolve_name(func) or getattr(func, "__name__", "")
                    if name in tracking_switches:
                        turned_on = args[1] if len(args) > 1 else (kwargs or {}).get("requires_grad", True)
                        if turned_on:
                            recording.note("autograd", name)
                    elif name in autograd_functions:
                        recording.note("autograd", name)
                    elif (kwargs or {}).get("requires_grad") is True:
                        recording.note("autograd", f"{name}(requires_grad=True)")
                    elif name.endswith(("cross_entropy", "cross_entropy_loss")):
                        recording.note("cross_entropy", name)
                    return func(*args, **(kwargs or {}))

            self.mode = Watch()
            self.mode.__enter__()
            self.depth = torch._C._len_torch_function_stack()
            self.hooks = torch.autograd.graph.saved_tensors_hooks(self.graph_recorded, lambda tensor: tensor)
            self.hooks.__enter__()
            self.caller = threading.get_ident()
            if watcher is None:
                threading.setprofile(self.profile)
            else:
                self.threads_before = watcher.threads_now(self.caller)
                self.processes_before = watcher.processes_now()
                watcher.recording = self
            self.active = True
            sys.setprofile(self.profile)
            return self

        def __exit__(self, *exc):
            intact = sys.getprofile() == self.profile
            self.active = False
            sys.setprofile(None)
            if watcher is None:
                threading.setprofile(None)
            else:
                watcher.recording = None
                if "helper" not in self.seen:
                    unseen = watcher.unseen_threads(self.threads_before, self.caller, self.heard)
                    unseen = unseen or watcher.processes_that_ran(self.processes_before)
                    if unseen:
                        self.seen["helper"] = unseen
            depth = torch._C._len_torch_function_stack()
            if not intact and not self.switched_off:
                self.switched_off = "the profile hook was replaced"
            if depth != self.depth or torch._C._get_function_stack_at(depth - 1) is not self.mode:
                self.switched_off = self.switched_off or "the torch function mode was removed"
            self.hooks.__exit__(*exc)
            self.mode.__exit__(*exc)
            return False

        def facts(self):
            return {"watched": dict(self.seen), "recording": self.switched_off or "intact"}

    return Recording


def _grader_install_watch():
    """Install the Watch at the kernel's start, where the probe finds it later (a module: nothing of it lands in
    the notebook's namespace)."""
    import _thread
    import os
    import sys
    import threading
    import time
    import types

    module = types.ModuleType("_grader_watch")
    module.watch = _grader_watch(sys, _thread, threading, time, os)().install()
    sys.modules[module.__name__] = module


def _grader_collect_less_often():
    """The kernel's garbage collector at its start, before the notebook's code: a full collection walks every
    object, and at CPython's thresholds the imports of a deep-learning notebook (torch, pandas, scikit-learn:
    450,000 objects) set off six of them, 0.8 s of a 5 s self-check. Young objects collected every 10,000
    allocations rather than 700, none happens while they import; what a collection frees is freed all the same,
    a little later."""
    import gc

    gc.set_threshold(10_000, 10, 10)


def _grader_call_all(
    user_ns, calls, arrays, call_timeout, max_elements, meta, results, watch_required=True, progress=None
):
    """Call each graded function of `calls` on `arrays`; each call's record into `meta`, its arrays into
    `results` (filled as the calls go, so that what is there survives anything). `call_timeout`: seconds,
    or None for no bound (where SIGALRM is missing). `watch_required`: a recording without the watch
    installed at the kernel's start is a breach (the grader's kernels always have it). `progress`: told each
    call's key (a line) as the call starts."""
    import os
    import random
    import signal
    import sys
    import threading

    import numpy as np
    import torch

    # the assignment's loop over the notebook's own functions, where it has one (taken before any student code
    # runs, as below)
    handout_loop = globals().get("_grader_handout_loop")

    class CallTimeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise CallTimeout()

    # torch.manual_seed also queues a seed for every accelerator torch was built for, each queued with a traceback
    # of the whole stack (three a call, 20 ms of a kernel's calls); where none is present it seeds only the CPU's
    # (a torch older than torch.accelerator, a student's own in the self-check, seeds as it always did)
    cpu_only = hasattr(torch, "accelerator") and not torch.accelerator.is_available()
    seed_torch = torch.default_generator.manual_seed if cpu_only else torch.manual_seed

    def build(arg):
        if isinstance(arg, dict) and "array" in arg:
            return torch.tensor(arrays[arg["array"]])
        if isinstance(arg, dict) and "list" in arg:
            return [build(a) for a in arg["list"]]
        return arg["value"]

    def leaves_of(value, path, out, depth=0):
        """Flatten a return value into (path, object) leaves: tensors, arrays, numbers."""
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                out.append((path, value, "list_of_numbers"))
            elif value and all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in value) and len(value) > 16:
                out.append((path, [float(v) for v in value], "list_of_tensors"))
            elif depth < 3 and len(value) <= 16:
                for i, v in enumerate(value):
                    leaves_of(v, f"{path}.{i}" if path else str(i), out, depth + 1)
            else:
                out.append((path, None, f"{type(value).__name__} of {len(value)} items"))
        else:
            out.append((path, value, type(value).__name__))

    def to_array(value):
        """(array or None, facts about the value)."""
        facts = {}
        if isinstance(value, torch.Tensor):
            facts["kind"] = "tensor"
            facts["has_grad_fn"] = value.grad_fn is not None
            facts["subclass"] = type(value) is not torch.Tensor
            if facts["subclass"]:
                return None, facts
            value = value.detach().cpu().numpy()
        elif isinstance(value, np.ndarray):
            facts["kind"] = "ndarray"
        elif isinstance(value, (bool, int, float, np.generic, list)):
            facts["kind"] = type(value).__name__
        else:
            facts["kind"] = type(value).__name__
            return None, facts
        array = np.asarray(value)
        facts["shape"] = list(array.shape)
        if array.dtype.kind not in "biuf":
            return None, facts
        if array.size > max_elements:
            facts["too_large"] = True
            return None, facts
        return np.array(array, copy=True), facts

    # the rubric's `watch`: what runs while a graded function is called (run/recording.py, sent with this code),
    # heard also in the threads and processes the notebook started, through the watch installed at its start
    watcher = getattr(sys.modules.get("_grader_watch"), "watch", None)
    Recording = _grader_recording(torch, sys, threading, os, watcher)  # noqa: F821

    def capturing(names, captured):
        """Wrap the submission's functions `names` so that their first result is kept (copied: training
        updates the weights in place); returns a function that puts the originals back."""
        originals = {name: user_ns.get(name) for name in names if callable(user_ns.get(name))}

        def wrap(name, original):
            def recorder(*args, **kwargs):
                value = original(*args, **kwargs)
                if name not in captured:
                    items = value if isinstance(value, (list, tuple)) else [value]
                    captured[name] = [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in items]
                return value

            return recorder

        for name, original in originals.items():
            user_ns[name] = wrap(name, original)
        return lambda: user_ns.update(originals)

    def flat_inputs(args):
        out = []
        for arg in args:
            if isinstance(arg, list):
                out.extend(arg)
            else:
                out.append(arg)
        return out

    def timer(seconds):
        if timed:
            signal.setitimer(signal.ITIMER_REAL, seconds)

    timed = call_timeout is not None and hasattr(signal, "setitimer")
    timed = timed and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, on_alarm) if timed else None
    try:
        for call in calls:
            key = call["key"]
            record = meta[key] = {"status": "ok"}
            if call.get("handout_loop"):
                # the assignment's loop (it raises where a function it composes is missing); none: not run
                def function(*args, **kwargs):
                    return handout_loop(user_ns, *args, **kwargs)

                function = function if handout_loop is not None else None
            else:
                function = user_ns.get(call["function"])
            if function is None:
                record["status"] = "missing"
                continue
            if not callable(function):
                record["status"] = "not_callable"
                continue
            args = [build(a) for a in call["args"]]
            kwargs = {k: build(v) for k, v in call["kwargs"].items()}
            seed_torch(call["seed"])
            np.random.seed(call["seed"] % 2**32)
            random.seed(call["seed"])
            recording = Recording(call.get("watch", ()))
            captured = {}
            restore = capturing(call.get("capture", ()), captured)
            if progress is not None:
                try:
                    progress(key + "\n")
                except Exception:  # a closed file: the grader falls back on the cell's budget
                    pass
            timer(call_timeout)
            try:
                if recording.watch:
                    with recording:
                        returned = function(*args, **kwargs)
                else:
                    returned = function(*args, **kwargs)
            except CallTimeout:
                record["status"] = "timeout"
                continue
            except BaseException as error:  # SystemExit and KeyboardInterrupt too: none may end the probe
                record["status"] = "error"
                record["error"] = f"{type(error).__name__}: {error}"[:500]
                continue
            finally:
                timer(0)
                restore()
                if recording.watch:
                    record |= recording.facts()
                    if watch_required and watcher is None and record["recording"] == "intact":
                        record["recording"] = "the grader's watch over threads and processes was removed"
            found = []
            leaves_of(returned, "", found)
            for name, value in captured.items():
                leaves_of(list(value), f"captured.{name}", found)
            record["leaves"] = []
            for index, (path, value, kind) in enumerate(found):
                array, facts = (None, {"kind": kind}) if value is None else to_array(value)
                facts["path"] = path
                if array is not None:
                    results[f"{key}/out/{index}"] = array
                record["leaves"].append(facts)
            for index, value in enumerate(flat_inputs(args)):
                if isinstance(value, torch.Tensor) and type(value) is torch.Tensor:
                    results[f"{key}/after/{index}"] = value.detach().cpu().numpy().copy()
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _grader_handout_loop(user_ns, X, y, h=10, learning_rate=0.1, epochs=10000):
    """The handout's train_manual loop over the notebook's own init_params, forward, loss_fn, backward and
    sgd_update: what a training composed of them gives (the template hands this loop to the students). A
    function of them that is missing raises KeyError: the loop is then not run."""
    init_params, forward, loss_fn = user_ns["init_params"], user_ns["forward"], user_ns["loss_fn"]
    backward, sgd_update = user_ns["backward"], user_ns["sgd_update"]
    params = list(init_params(X.shape[1], h, 2))
    loss_history = []
    for _ in range(epochs):
        z1, a1, z2, p_hat = forward(X, *params)
        loss = loss_fn(p_hat, y)
        grads = backward(X, y, z1, a1, p_hat, params[2])
        sgd_update(params, grads, learning_rate)
        loss_history.append(loss.item())
    return params, loss_history


SHIPPED_EXPECTED = ShippedExpected


# ---- END SHARED WITH THE GRADER ----


# ---- the public cases and their expected values ----------------------------------------------------------------


@cache
def public_cases() -> tuple[dict[str, list[Case]], dict[str, list[dict]], dict[str, dict], dict, int]:
    """The public cases by item, the probe's calls and arrays by item, the expected values, and the notebook's
    training rows, from selfcheck_cases.npz."""
    if not CASES_FILE.is_file():
        raise MissingPackage(f"the self-check needs {CASES_FILE.name} beside it, as the bundle has it")
    with np.load(CASES_FILE, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays.pop("meta")))
    cases, calls, inputs = {}, {}, {}
    for item, described in meta["items"].items():
        own = {name[len(item) + 1 :]: value for name, value in arrays.items() if name.startswith(f"{item}/")}
        cases[item] = cases_from_calls(item, described["cases"], described["calls"], own)
        calls[item], inputs[item] = described["calls"], own
    shipped = {name: value for name, value in arrays.items() if not name.startswith(tuple(f"{i}/" for i in cases))}
    return cases, calls, inputs, shipped, meta["training_rows"]


def feedback_name(function: str) -> str:
    """The feedback's name for a function's item: `item (function)` where they differ."""
    item = next((item for item, entry in ITEM_TABLE.items() if entry["function"] == function), function)
    return function if item == function else f"{item} ({function})"


# ---- running the checks ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    item: str  # the function checked
    case: str  # the check: the grader's test name (`loss_fn.single_example`)
    passed: bool
    message: str = ""
    rule: bool = False  # failed by the rubric's rule on what the function may use: the grader scores it 0


def _import_torch() -> None:
    _require("torch")


def _options(value: object) -> object:
    """The rubric's tables with attribute access, as the judges read them."""
    if isinstance(value, dict):
        return types.SimpleNamespace(**{key: _options(entry) for key, entry in value.items()})
    return value


def _definition(function: Callable) -> ast.FunctionDef | None:
    """The function's `def`, parsed from its source (the grader reads the same from the notebook's text)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None  # no source to read (defined by exec)
    return next((node for node in tree.body if isinstance(node, ast.FunctionDef)), None)


def rule_broken(item: str, function: Callable) -> str:
    """The grader's verdict by the rubric's rule on the function's own code (the names it uses), or ""."""
    rule, definition = ITEM_OPTIONS[item]["rule"], _definition(function)
    if rule is None or definition is None:
        return ""
    used = forbidden_identifiers(definition, rule["identifiers"])
    if not used:
        return ""
    return f"{ITEM_TABLE[item]['function']} uses {', '.join(used)}: {rule['reason']}"


def _not_defined(function: str, raised: dict[str, str]) -> str:
    if function in raised:
        return f"`{function}` is not defined: its cell raised {raised[function]}; fix that cell first"
    return f"`{function}` is not defined: run its cell first"


def _items_of(functions: list[str]) -> list[str]:
    """The items to judge for these functions, in the grader's order: an item that composes others (a training)
    also needs their verdicts (checked quietly)."""
    wanted = {item for item, entry in ITEM_TABLE.items() if entry["function"] in functions}
    for item in list(wanted):
        wanted |= set(ITEM_TABLE[item]["composes"])
    return [item for item in ITEM_TABLE if item in wanted]


def run_checks(
    namespace: dict, functions: list[str] | None = None, raised: dict[str, str] | None = None
) -> list[Outcome]:
    """The grader's checks of `functions` (default: all) on the public cases, with the functions in `namespace`.

    `raised`: the graded functions whose notebook cell raised, and what it raised."""
    _import_torch()
    raised = raised or {}
    functions = functions or [entry["function"] for entry in ITEM_TABLE.values()]
    cases, calls, inputs, expected, training_rows = public_cases()
    standards = Standards(
        RTOL,
        ATOL,
        _options(ITEM_OPTIONS).__dict__,
        SHIPPED_EXPECTED(expected),
        training_rows,
        notebook_sizes=tuple(NOTEBOOK_SIZES.items()),
    )
    outcomes, failing = [], set()
    for item in _items_of(functions):
        entry = _options(ITEM_TABLE[item])
        entry.judge = globals()[entry.judge]
        rule = ITEM_OPTIONS[item]["rule"]
        watch = rule["watch"] if rule else []
        item_calls = [dict(call, watch=[] if call["handout_loop"] else watch) for call in calls[item]]
        meta, results = {}, {}
        graded = [call for call in item_calls if not call["handout_loop"]]
        with contextlib.redirect_stdout(io.StringIO()):  # training progress would bury the verdicts
            _grader_call_all(namespace, graded, inputs[item], CALL_TIMEOUT, 1_000_000, meta, results, False)
            found = outcomes_from(meta, results, [call["key"] for call in graded])
            loops = [call for call in item_calls if call["handout_loop"]]
            composes = ITEM_TABLE[item]["composes"]
            if loops and handout_loop_read(composes, cases[item], found, failing, standards.expected):
                _grader_call_all(namespace, loops, inputs[item], CALL_TIMEOUT, 1_000_000, meta, results, False)
        found = outcomes_from(meta, results, [call["key"] for call in item_calls])
        function = namespace.get(entry.function)
        breach = rule_broken(item, function) if callable(function) else ""
        definition = _definition(function) if callable(function) else None
        ignored = ignored_arguments(definition) if definition else []
        now = replace(standards, failing=frozenset(failing))
        tests = judge_cases(item, entry, cases[item], found, now, breach, ignored)
        failing |= {item} if any(check.problem for _, _, check in tests) else set()
        if entry.function not in functions:
            continue
        if not callable(function):
            outcomes.append(Outcome(entry.function, "defined", False, _not_defined(entry.function, raised)))
            continue
        for name, called_it, check in tests:
            message = ""
            if check.problem:
                message = TestResult(
                    item, name, 0.0, 1.0, called_it, check.problem, check.mistake, check.trouble
                ).output
            outcomes.append(Outcome(entry.function, name, not check.problem, message, check.trouble == Trouble.RULE))
    return outcomes


def _colour_wanted() -> bool:
    """Colour only for a terminal (and not when NO_COLOR is set): a file or a notebook gets plain text."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def report(outcomes: list[Outcome], seconds: float, colour: bool = False) -> str:
    """One line a function, PASS or FAIL; under a failing one, its first failed checks in the grader's words."""
    lines = []
    functions = list(dict.fromkeys(o.item for o in outcomes))
    for function in functions:
        own = [o for o in outcomes if o.item == function]
        failed = [o for o in own if not o.passed]
        mark = "FAIL" if failed else "PASS"
        if colour:
            mark = f"{RED if failed else GREEN}{mark}{RESET}"
        name = feedback_name(function)
        checks = f"{len(own)} check{'' if len(own) == 1 else 's'}"
        counted = f"{len(failed)} of {checks} failed" if failed else f"{checks} passed"
        lines.append(f"{mark} {name}: {counted}")
        for o in failed[:FAILURES_SHOWN]:
            lines.append(f"     [{o.case}] {o.message}")
        if len(failed) > FAILURES_SHOWN:
            lines.append(
                f"     ... and {len(failed) - FAILURES_SHOWN} more checks of {function} failed (shown above: the first)"
            )
        if any(o.rule for o in failed):
            lines.append(f"     The grader scores {function} 0 for this, whatever its values.")
        composing = {function: _options(ITEM_TABLE[function])} if function in ITEM_TABLE else {}
        if policy := charged_once(composing, {o.item for o in outcomes if not o.passed}):
            lines.append(f"     {policy}")
    worth = ", ".join(f"{function} {POINTS[function]}" for function in functions)
    passed = sum(not any(not o.passed for o in outcomes if o.item == f) for f in functions)
    lines.append(f"\n{passed} of {len(functions)} functions passed every check, in {seconds:.1f} s.")
    lines.append(
        f"Points: {worth} (written answers {WRITTEN_POINTS}). These are the grader's own checks on public cases; "
        "the grader runs them on hidden tests of the same kinds (other sizes and seeds) too."
    )
    return "\n".join(lines)


def _function(name: str) -> str:
    """The function of an item named as the feedback names it (its item's name), or as it is named."""
    return ITEM_TABLE[name]["function"] if name in ITEM_TABLE else name


def check(item: str | None = None) -> None:
    """Check one graded function (by name) or all of them, in the notebook that calls this; prints the verdicts."""
    _check_and_report(inspect.currentframe().f_back.f_globals, item, _colour_wanted())


def _check_and_report(namespace: dict, item: str | None, colour: bool, raised: dict[str, str] | None = None) -> bool:
    functions = [entry["function"] for entry in ITEM_TABLE.values()]
    if item is not None and _function(item) not in functions:
        names = [feedback_name(function).split(" ")[0] for function in functions]
        raise ValueError(f"unknown item {item!r}; choose one of {', '.join(names)}")
    started = time.perf_counter()
    try:
        outcomes = run_checks(namespace, [_function(item)] if item else None, raised)
    except MissingPackage as missing:
        print(missing)
        return False
    print(report(outcomes, time.perf_counter() - started, colour))
    return all(o.passed for o in outcomes)


def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _called_name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def epochs_bypassed(cells: list[str], epochs: int) -> list[str]:
    """A warning for each training call in the cells' code (every cell of the notebook, "" for text) that does
    not pass epochs=EPOCHS: the self-check's fewer epochs do not reach it, so it trains for as many as it says
    (its signature's default in the handout, TRAININGS, when it says none)."""
    warnings = []
    for number, source in enumerate(cells, start=1):
        try:
            tree = ast.parse(
                "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
            )
        except SyntaxError:
            continue
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            if _called_name(call) not in TRAININGS:
                continue
            given = next((k.value for k in call.keywords if k.arg == "epochs"), None)
            if isinstance(given, ast.Name) and given.id == "EPOCHS":
                continue
            default = TRAININGS[_called_name(call)]
            count = given.value if isinstance(given, ast.Constant) else default if given is None else None
            if isinstance(count, (int, float)) and count <= epochs:
                continue
            says = f"epochs={count:g}" if count is not None else f"epochs={ast.unparse(given)}"
            says = f"no epochs (the default, {default})" if given is None else says
            warnings.append(
                f"warning: cell {number} calls {_called_name(call)} with {says}, not epochs=EPOCHS: the "
                f"self-check's EPOCHS = {epochs} does not reach it, so it trains that long. Pass epochs=EPOCHS, "
                "as the handout does."
            )
    return warnings


class _Progress:
    """From the shell, while the notebook runs: on a terminal, one line that follows the cells; anywhere, the
    cell still running once it passes SLOW_CELL_SECONDS (and every as many seconds after)."""

    def __init__(self, cells: int, live: bool) -> None:
        import threading

        self.cells, self.live = cells, live
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def started(self, number: int, source: str) -> None:
        import threading

        self.finished()
        if self.live:
            line = f"running the notebook: cell {number} of {self.cells} (`{_first_line(source)}`)"
            print(f"\r\033[K{line}", end="", flush=True)
        self.stop = threading.Event()
        started, stop = time.monotonic(), self.stop

        def report() -> None:
            while not stop.wait(SLOW_CELL_SECONDS):
                print(
                    f"{self._clear()}  still running cell {number} (`{_first_line(source)}`): "
                    f"{time.monotonic() - started:.0f} s",
                    flush=True,
                )

        self.thread = threading.Thread(target=report, daemon=True)
        self.thread.start()

    def _clear(self) -> str:
        return "\r\033[K" if self.live else ""

    def finished(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def done(self) -> None:
        self.finished()
        if self.live:
            print(self._clear(), end="", flush=True)


def _transport() -> str:
    """IPC sockets where the system has them (nothing listens on the network), else TCP on loopback (Windows);
    SELFCHECK_TRANSPORT=tcp or ipc chooses."""
    import socket

    chosen = os.environ.get("SELFCHECK_TRANSPORT", "").lower()
    if chosen in ("tcp", "ipc"):
        return chosen
    return "ipc" if hasattr(socket, "AF_UNIX") and os.name != "nt" else "tcp"


# ---- a kernel kept ready for the next check (Linux, macOS) -------------------------------------------------------
# Most of a check's seconds go to importing the course's packages into a fresh kernel. So each check from the shell
# leaves one fresh kernel behind, its imports done and nothing of any notebook run in it, for the next check to
# take; a kept kernel nobody takes ends after SPARE_IDLE_SECONDS, and one taken ends with the check that took it.
# SELFCHECK_SPARE=0 keeps none; `python selfcheck.py --stop` ends a kept kernel now.
SPARE_IDLE_SECONDS = float(os.environ.get("SELFCHECK_SPARE_IDLE_SECONDS", "900"))
SPARE_SERVE = "--serve-spare"  # the command line of a kept kernel's process (not for students)


def _spares_wanted() -> bool:
    return os.name == "posix" and os.environ.get("SELFCHECK_SPARE", "1").lower() not in ("0", "off", "no", "false")


def _spare_folder() -> Path | None:
    """This user's folder for kept kernels (their tokens, connection files and sockets), private to them; None
    where there can be none (a folder of that name that is someone else's, or that others may write into)."""
    import stat
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"selfcheck-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        found = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        return None
    return folder


def _spare_key() -> str:
    """Kernels kept by this very self-check (its bytes), for this Python and what of the environment decides what
    a kernel imports and how it computes, serve its checks."""
    import hashlib
    import sysconfig

    environment = sorted(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith(("PYTHON", "OMP_", "MKL_", "OPENBLAS", "TORCH", "CUDA", "LD_", "MPL"))
        or name in ("PATH", "VIRTUAL_ENV", "CONDA_PREFIX")
    )
    # the packages' folder changes when a package is installed or removed: kernels kept before do not serve
    packages = Path(sysconfig.get_paths()["purelib"])
    installed = packages.stat().st_mtime_ns if packages.is_dir() else 0
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(repr((sys.executable, sys.version, environment, installed)).encode())
    return digest.hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process of that number: not ours to touch, but there
    return True


def _spare_running(folder: Path, pid: int) -> bool:
    """Whether the kept kernel of that number still runs: it holds a lock on its own file for as long as it lives,
    which no process that merely got its number after it (a reboot, a wrap-around) holds."""
    import fcntl

    try:
        descriptor = os.open(folder / f"kernel-{pid}.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _end_spare(folder: Path, pid: int) -> None:
    """End a kept kernel, whatever it started, and remove its files."""
    import signal

    if _spare_running(folder, pid):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # it leads a session of its own: the group is it and its children
    for leftover in [*folder.glob(f"kernel-{pid}*"), *folder.glob(f"claimed-*-{pid}.json")]:
        leftover.unlink(missing_ok=True)


def _claim_spare(folder: Path, key: str) -> dict | None:
    """Take a kept kernel of this key, if one is there and alive: {"pid", "connection_file"}, else None. Taking is
    renaming its token: of two checks at once, one gets it."""

    def age(token: Path) -> float:  # the oldest first: it is the likeliest to have finished importing
        try:
            return token.stat().st_mtime
        except OSError:
            return float("inf")  # taken meanwhile

    for token in sorted(folder.glob(f"spare-{key}-*.json"), key=age):
        pid = int(token.stem.rsplit("-", 1)[1])
        claimed = folder / f"claimed-{os.getpid()}-{pid}.json"
        try:
            token.rename(claimed)
            kept = json.loads(claimed.read_text())
        except (OSError, ValueError):
            continue
        if _spare_running(folder, pid):
            return kept
        claimed.unlink(missing_ok=True)
        _end_spare(folder, pid)
    return None


SPARES_AT_MOST = 2  # kept kernels waiting at once, whatever their key (two bundles, two Pythons)
SPARE_MEMORY_MIB = 1536  # none is started where less memory than this is available (Linux says how much)


def _memory_available_mib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            found = next(line for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return float("inf")  # not Linux: not known, not refused
    return int(found.split()[1]) / 1024


def _keep_one_ready(folder: Path, key: str) -> None:
    """Start a kernel for the next check, in the background, unless one of this key waits already, SPARES_AT_MOST
    of any key wait, or the machine is short of memory (a kept kernel holds some 350 MiB)."""
    import subprocess

    waiting = list(folder.glob("spare-*.json"))
    if any(token.name.startswith(f"spare-{key}-") for token in waiting) or len(waiting) >= SPARES_AT_MOST:
        return
    if _memory_available_mib() < SPARE_MEMORY_MIB:
        return
    environment = {name: value for name, value in os.environ.items() if not name.startswith("JPY_")}
    # nothing of the terminal: a kept kernel must not hold a caller's pipes open, nor get its Ctrl-C
    subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), SPARE_SERVE, str(folder), key],
        cwd=folder,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _serve_spare(folder: Path, key: str) -> None:
    """A kept kernel's process: its connection and token written, the course's packages imported, then a kernel
    until a check takes it and ends it (or until SPARE_IDLE_SECONDS pass untaken)."""
    import fcntl
    import threading

    del sys.path[0]  # this file's folder: the kernel finds the bundle as a fresh one does, by its first cell
    pid = os.getpid()
    # held until the process ends (this function returns only then): how a check tells it runs (_spare_running)
    lock = os.open(folder / f"kernel-{pid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    connect = _require("jupyter_client.connect")
    connection_file, _ = connect.write_connection_file(
        str(folder / f"kernel-{pid}.json"), transport="ipc", ip=str(folder / f"kernel-{pid}")
    )
    token = folder / f"spare-{key}-{pid}.json"
    written = token.with_suffix(".part")
    written.write_text(json.dumps({"pid": pid, "connection_file": connection_file}))
    written.rename(token)  # whole, or not there: a check never reads half a token
    for module in WARM_MODULES:
        with contextlib.suppress(Exception):  # the notebook meets the same error itself, in its own cell
            __import__(module)
    threading.Thread(target=_spare_watch, args=(folder, token), daemon=True).start()
    import importlib.util

    from ipykernel.kernelapp import launch_new_instance

    arguments = ["-f", connection_file, *KERNEL_ARGUMENTS]
    # the command line a notebook sees is a fresh kernel's, as Jupyter starts one
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *arguments]
    launch_new_instance(argv=arguments)


def _spare_watch(folder: Path, token: Path) -> None:
    """In a kept kernel: untaken for SPARE_IDLE_SECONDS, it ends; taken, it ends when the check that took it ends
    (a check ends its kernel itself, but may be killed first)."""
    pid, deadline = os.getpid(), time.monotonic() + SPARE_IDLE_SECONDS
    while token.exists():
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                token.rename(token.with_suffix(".expired"))  # ours to end, unless a check took it this instant
                token.with_suffix(".expired").unlink()
                _end_spare(folder, pid)
        time.sleep(0.5)
    claimed = next(folder.glob(f"claimed-*-{pid}.json"), None)
    claimant = int(claimed.name.split("-")[1]) if claimed else 0
    if claimed:
        claimed.unlink(missing_ok=True)
    while claimant and _alive(claimant):
        time.sleep(1)
    _end_spare(folder, pid)


def stop_spares() -> int:
    """End every kernel this user's self-checks keep ready, and clear what ended ones left; how many were ended."""
    folder = _spare_folder() if os.name == "posix" else None
    ended = 0
    for token in folder.glob("spare-*.json") if folder else ():
        pid = int(token.stem.rsplit("-", 1)[1])
        with contextlib.suppress(OSError):
            token.unlink()
            _end_spare(folder, pid)
            ended += 1
    for left in folder.glob("claimed-*.json") if folder else ():
        pid = int(left.stem.rsplit("-", 1)[1])
        if not _spare_running(folder, pid):  # a check's kernel that ended without a word (a crash)
            _end_spare(folder, pid)
    return ended


def _kept_kernel_manager(kept: dict) -> Any:
    """A manager of a kernel an earlier check started: this check uses it and ends it, though not its parent."""
    import signal

    base = _require("jupyter_client.manager").AsyncKernelManager
    pid, folder = kept["pid"], Path(kept["connection_file"]).parent

    class KeptKernelManager(base):
        @property
        def has_kernel(self) -> bool:
            return True

        async def _async_is_alive(self) -> bool:  # its client asks this of it while it waits for the kernel
            return _spare_running(folder, pid)

        async def _async_interrupt_kernel(self) -> None:
            os.kill(pid, signal.SIGINT)

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            _end_spare(folder, pid)
            self._close_control_socket()

        is_alive, interrupt_kernel, shutdown_kernel = _async_is_alive, _async_interrupt_kernel, _async_shutdown_kernel

    manager = KeptKernelManager(connection_file=kept["connection_file"])
    manager.load_connection_file()
    return manager


def check_notebook(path: str, item: str | None = None) -> bool:
    """Run a saved notebook (its parameters set to NOTEBOOK_PARAMETERS: few epochs) in a fresh kernel as the grader
    runs it, then the checks (of `item`) inside it. Cells are numbered as the notebook lists them, text cells
    included."""
    started = time.monotonic()
    # Jupyter's notices about its own folders and transports are not the student's business
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    import warnings

    warnings.filterwarnings("ignore", module="jupyter_client|jupyter_core|zmq|traitlets")
    # as the grader's kernels: figures drawn without a window or an image for a front end to show, one thread (the
    # same numbers on every machine, and no thread of the kernel waiting on a core the kept kernel is importing on)
    os.environ.update(MPLBACKEND="agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    os.environ.update(PYTHONHASHSEED="0")
    manager_class = _require("jupyter_client.manager").AsyncKernelManager
    run_sync = _require("jupyter_core.utils").run_sync
    import tempfile

    folder = str(Path(path).resolve().parent)
    spares = _spare_folder() if _spares_wanted() else None
    kept = None
    if spares is not None:
        key = _spare_key()
        kept = _claim_spare(spares, key)
        _keep_one_ready(spares, key)  # on the other core, while this check runs
    sockets = tempfile.TemporaryDirectory(prefix="selfcheck-")
    if kept is not None:
        manager = _kept_kernel_manager(kept)
    else:
        transport = _transport()
        where = os.path.join(sockets.name, "kernel") if transport == "ipc" else "127.0.0.1"
        manager = manager_class(kernel_name="python3", transport=transport, ip=where)
        # the kernel starts first: it gets ready while the notebook is read and prepared here
        run_sync(manager.start_kernel)(cwd=folder, extra_arguments=KERNEL_ARGUMENTS)
    try:
        return _run_and_check(manager, path, item, started, kept=kept is not None)
    finally:
        # the kernel stopped before the command returns: nothing of it prints after the prompt is back
        if run_sync(manager.is_alive)():
            # a kernel of our own is killed and reaped here: jupyter_client's shutdown polls for its end every
            # 0.1 s, a tenth of a second of every check (a kept kernel is another process's child: as before)
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None:
                process.kill()
                process.wait()
            run_sync(manager.shutdown_kernel)(now=True)
        sockets.cleanup()


def _enter_kernel(folder: str) -> None:
    """A kernel's first cell: the notebook's folder as its working folder (a kept kernel's was another), the
    grader's watch over the threads and processes the notebook will start and its collector set, as the grader's
    kernels have them."""
    os.chdir(folder)
    _grader_install_watch()
    _grader_collect_less_often()


def _run_and_check(manager: Any, path: str, item: str | None, started: float, kept: bool = False) -> bool:
    """The notebook, then the checks, in the kernel `manager` started (`kept`: by an earlier check); the verdicts
    printed."""
    nbformat = _require("nbformat")
    NotebookClient = _require("nbclient").NotebookClient

    notebook = inject_parameters(nbformat.read(path, as_version=4), NOTEBOOK_PARAMETERS)
    students = [c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    number_of = {id(cell): number for number, cell in enumerate(students, start=1)}
    epochs = NOTEBOOK_PARAMETERS.get("EPOCHS")
    code = [c.source if c.cell_type == "code" else "" for c in students]
    for warning in epochs_bypassed(code, epochs) if epochs is not None else ():
        print(warning, flush=True)
    # as the grader does: a cell that only runs the self-check is passed over (the checks run once, at the end)
    own_cells = [c for c in notebook.cells if id(c) in number_of and c.cell_type == "code"]
    notebook.cells = [c for c in notebook.cells if not (c in own_cells and is_selfcheck_cell(c.source))]
    here, folder = str(Path(__file__).resolve().parent), str(Path(path).resolve().parent)
    # names nothing in the notebook's namespace: a notebook that forgot an import fails here as at the grader
    load = f"__import__('sys').path.insert(0, {here!r})\n"
    watch_cell = nbformat.v4.new_code_cell(f"{load}__import__('selfcheck')._enter_kernel({folder!r})")
    colour = _colour_wanted()  # decided here, at the terminal: the kernel's output is never one
    check_cell = nbformat.v4.new_code_cell("# the checks: written when the notebook has run")
    notebook.cells = [watch_cell, *notebook.cells, check_cell]
    raised: dict[str, str] = {}  # graded function -> what its cell raised
    progress = _Progress(len(number_of), live=sys.stdout.isatty())

    running: list = [None]  # the cell being run: named if the kernel dies in it

    def on_execute(cell, cell_index, **_) -> None:
        running[0] = cell
        if cell is check_cell:  # by now every cell of the notebook has run: the checks learn which raised
            progress.done()
            cell.source = (
                f"{load}assert __import__('selfcheck')._check_and_report(globals(), {item!r}, {colour!r}, {raised!r}), "
                "'failed'"
            )
        elif id(cell) in number_of:
            progress.started(number_of[id(cell)], cell.source)

    def on_executed(cell, cell_index, **_) -> None:
        progress.finished()
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and cell is not check_cell:
            for function in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE):
                raised[function] = f"{errors[0]['ename']}: {errors[0]['evalue']}"

    client = NotebookClient(
        notebook,
        km=manager,
        timeout=600,
        allow_errors=True,
        on_cell_execute=on_execute,
        on_cell_executed=on_executed,
        # everything wanted of the kernel is in hand by then: no need to wait for it to wind down
        shutdown_kernel="immediate",
    )
    try:
        client.execute()
    except _require("nbclient.exceptions").DeadKernelError:
        cell = running[0]
        said = f"in cell {number_of[id(cell)]} (`{_first_line(cell.source)}`)" if id(cell) in number_of else ""
        said = said or ("while the checks ran" if cell is check_cell else "before the notebook's first cell")
        print(
            f"the kernel died {said}: the notebook ended its own Python there (os._exit, a signal, a crash, or more "
            "memory than the machine has), so nothing was checked; fix that cell and check again."
        )
        return False
    finally:
        progress.done()
    for cell in own_cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            print(
                f"note: cell {number_of[id(cell)]} (`{_first_line(cell.source)}`) raised {errors[0]['ename']}: "
                f"{errors[0]['evalue']}"
            )
    print("".join(o.get("text", "") for o in check_cell.outputs if o.get("output_type") == "stream"), end="")
    failures = [o for o in check_cell.outputs if o.get("output_type") == "error"]
    if failures and failures[0]["ename"] != "AssertionError":
        print(f"the self-check could not run: {failures[0]['ename']}: {failures[0]['evalue']}")
    ran_with = ", ".join(f"{name} = {value!r}" for name, value in NOTEBOOK_PARAMETERS.items())
    ahead = ", in a kernel an earlier check had made ready" if kept else ""
    print(f"The self-check took {time.monotonic() - started:.1f} s in all (the notebook ran with {ran_with}{ahead}).")
    return not failures


def main(argv: list[str]) -> int:
    import argparse

    if argv[:1] == [SPARE_SERVE]:
        _serve_spare(Path(argv[1]), argv[2])
        return 0

    parser = argparse.ArgumentParser(
        prog="python selfcheck.py", description="Run a saved notebook with few epochs, then check its functions."
    )
    parser.add_argument("notebook", metavar="NOTEBOOK.ipynb", nargs="?")
    names = [feedback_name(entry["function"]).split(" ")[0] for entry in ITEM_TABLE.values()]
    parser.add_argument("--item", choices=names, help="check one function only (default: all of them)")
    parser.add_argument(
        "--stop", action="store_true", help="end the kernel a check keeps ready for the next one, and check nothing"
    )
    args = parser.parse_args(argv)
    if args.stop:
        print(f"ended {stop_spares()} kept kernel(s)")
        return 0
    if args.notebook is None:
        parser.error("the notebook to check is missing")
    try:
        return 0 if check_notebook(args.notebook, item=args.item) else 1
    except MissingPackage as missing:
        print(missing, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
