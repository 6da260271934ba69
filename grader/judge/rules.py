"""The rubric's rules on what a hand-written graded function may use.

Three layers: the function's source (identifiers used as names, attributes,
keywords or imports; comments and strings aside), read from the notebook's
text, here; the machinery the probe saw run while the grader called it (however
it was reached), with the recording left on, and what it returned (no autograd
history, where the rule says so), judged with the values (grader/shared/verdicts.py).
"""

from __future__ import annotations

import nbformat

from grader.assignment import current_assignment
from grader.intake.notebooks import function_definitions
from grader.rubric import Rubric
from grader.shared.catalogue import forbidden_identifiers, ignored_arguments


def forbidden_uses(notebook: nbformat.NotebookNode, rubric: Rubric) -> dict[str, str]:
    """For each item whose function's source breaks the item's rule: what it used and why that is not allowed."""
    definitions = function_definitions(notebook)
    breaches = {}
    graded = current_assignment().graded_functions
    for item, spec in rubric.items.items():
        function = graded[item]
        if spec.rule is not None and function in definitions:
            used = forbidden_identifiers(definitions[function], spec.rule.identifiers)
            if used:
                breaches[item] = f"{function} uses {', '.join(used)}: {spec.rule.reason}"
    return breaches


def ignored_arguments_of(notebook: nbformat.NotebookNode, rubric: Rubric) -> dict[str, list[str]]:
    """For each item whose function's code never reads some of its arguments: which (a hint on its failures)."""
    definitions = function_definitions(notebook)
    found = {}
    graded = current_assignment().graded_functions
    for item in rubric.items:
        function = graded[item]
        if function in definitions and (ignored := ignored_arguments(definitions[function])):
            found[item] = ignored
    return found
