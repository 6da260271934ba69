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
from grader.items import GRADED_FUNCTIONS, Rule
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome
from grader.shared_with_selfcheck import autograd_history_breach, forbidden_identifiers, run_time_breach
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
        return autograd_history_breach(function, rule.reason)
    return ""


def watched_at_run_time(function: str, outcomes: list[CallOutcome], rule: Rule) -> str:
    """A breach when watched machinery ran during a call, or the call switched the recording off."""
    for outcome in outcomes:
        if breach := run_time_breach(function, outcome.watched, outcome.recording, rule.watch, rule.reason, code_span):
            return breach
    return ""
