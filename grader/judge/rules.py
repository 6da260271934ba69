"""The rubric's rules on what a hand-written graded function may use.

Three layers: the function's source (identifiers used as names, attributes,
keywords or imports; comments and strings aside), read from the notebook's
text; the machinery the probe saw run while the grader called it (however it
was reached), with the recording left on; and what it returned (no autograd
history, where the rule says so).
"""

from __future__ import annotations

import nbformat

from grader.intake.notebooks import function_definitions
from grader.rubric import GRADED_FUNCTIONS, Rubric, Rule
from grader.run.harvest import CallOutcome
from grader.shared_with_selfcheck import forbidden_identifiers
from grader.student_text import code_span


def forbidden_uses(notebook: nbformat.NotebookNode, rubric: Rubric) -> dict[str, str]:
    """For each item whose function's source breaks the item's rule: what it used and why that is not allowed."""
    definitions = function_definitions(notebook)
    breaches = {}
    for item, spec in rubric.items.items():
        function = GRADED_FUNCTIONS[item]
        if spec.rule is not None and function in definitions:
            used = forbidden_identifiers(definitions[function], spec.rule.identifiers)
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
