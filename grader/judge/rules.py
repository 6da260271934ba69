"""The rubric's rules on what a hand-written graded function may use.

Three layers: the function's source (identifiers used as names, attributes,
keywords or imports; comments and strings aside), read from the notebook's
text; the machinery the probe saw run while the grader called it (however it
was reached), with the recording left on; and what it returned (no autograd
history, where the rule says so).
"""

from __future__ import annotations

import ast

import nbformat

from grader.intake.notebooks import function_definitions
from grader.rubric import GRADED_FUNCTIONS, Rubric, Rule
from grader.run.harvest import CallOutcome
from grader.student_text import code_span


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


def forbidden_identifiers(function: ast.FunctionDef, rule: Rule) -> list[str]:
    """The rule's identifiers the function's code uses as a name, an attribute, a keyword or an import."""
    used = set()
    allowed = tracking_turned_off(function)
    for node in ast.walk(function):
        if node in allowed:
            continue
        if isinstance(node, ast.Attribute) and node.attr in rule.identifiers:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in rule.identifiers and node.id != function.name:
            used.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg in rule.identifiers:
            used.add(node.arg)
        elif isinstance(node, ast.alias) and any(part in rule.identifiers for part in node.name.split(".")):
            used.add(node.name)
    return sorted(used)


def forbidden_uses(notebook: nbformat.NotebookNode, rubric: Rubric) -> dict[str, str]:
    """For each item whose function's source breaks the item's rule: what it used and why that is not allowed."""
    definitions = function_definitions(notebook)
    breaches = {}
    for item, spec in rubric.items.items():
        function = GRADED_FUNCTIONS[item]
        if spec.rule is not None and function in definitions:
            used = forbidden_identifiers(definitions[function], spec.rule)
            if used:
                breaches[item] = f"{function} uses {', '.join(used)}: {spec.rule.reason}"
    return breaches


def returned_autograd_history(function: str, outcomes: list[CallOutcome], rule: Rule) -> str:
    """A breach when a returned tensor carries an autograd history (autograd ran on the way to it)."""
    if any(leaf.facts.get("has_grad_fn") is True for outcome in outcomes for leaf in outcome.leaves):
        return f"what {function} returned carries an autograd history: {rule.reason}"
    return ""


def watched_at_run_time(function: str, outcomes: list[CallOutcome], rule: Rule) -> str:
    """A breach when watched machinery ran during a call, or the call switched the recording off."""
    for outcome in outcomes:
        if started := outcome.watched.get("process"):
            return (
                f"while the grader called {function}, it started a process ({code_span(started)}): work handed "
                f"to another process is out of the grader's sight, so it counts against the rule: {rule.reason}"
            )
        seen = [what for category, what in outcome.watched.items() if category in rule.watch]
        if seen:
            return f"while the grader called {function}, it ran {', '.join(map(code_span, seen))}: {rule.reason}"
        if outcome.recording != "intact":
            how = code_span(outcome.recording) if outcome.recording else "no record came back"
            return f"{function} switched off the grader's record of what it runs ({how}): {rule.reason}"
    return ""
