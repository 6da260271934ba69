"""What the grader and the students' self-check say alike, for any assignment: the words for a value that differs,
the mistake catalogue's form and its hints, the rules on what a function's own code may use, and the notebook's
parameters cell.

`make student-bundle` stamps the code of grader/shared/ (and the assignment's judges and catalogue) into the
self-check; so everything here stands alone: the standard library and numpy (nbformat where a notebook is
changed), no hidden case, no reference value.

A hint names the symptom and where to look (the question, the step, the docstring), never the corrected code: the
fixes are the assignment's to find.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np


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
