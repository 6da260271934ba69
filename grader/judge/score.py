"""Score a submission: every rubric item's cases through its judge (the assignment's item table names it), points
attached.

The items are judged in the rubric's order, so that a training knows which of
the functions it composes fail their own tests (the policy in the judges'
module: what those get wrong is charged to them alone).
"""

from __future__ import annotations

from grader.assignment import current_assignment
from grader.points import apportion
from grader.rubric import Rubric
from grader.shared.judging import Standards, judge_cases
from grader.shared.outcomes import CallOutcome, Case
from grader.shared.verdicts import TestResult


def score_item(
    item: str,
    cases: list[Case],
    outcomes: dict[str, CallOutcome],
    rubric: Rubric,
    breach: str = "",
    failing: frozenset[str] = frozenset(),
    expected: object | None = None,
    ignored: tuple[str, ...] | list[str] = (),
) -> list[TestResult]:
    """The tests of one item, its points shared equally among them (as equally as the grain of points allows).
    `failing`: the items judged before it that failed a test; `ignored`: the arguments its code never reads."""
    assignment = current_assignment()
    standards = Standards(
        rubric.tolerance.rtol,
        rubric.tolerance.atol,
        rubric.items,
        expected or assignment.expected(),
        assignment.training_rows(),
        failing,
        tuple(getattr(assignment, "NOTEBOOK_SIZES", {}).items()),
    )
    tests = judge_cases(item, assignment.ITEMS[item], cases, outcomes, standards, breach, ignored)
    shares = apportion(rubric.items[item].points, len(tests))  # on the grain of points: they add up exactly
    return [
        TestResult(item, name, each, each)
        if not check.problem
        else TestResult(
            item, name, 0.0, each, called=called, problem=check.problem, mistake=check.mistake, trouble=check.trouble
        )
        for (name, called, check), each in zip(tests, shares, strict=True)
    ]


def score_all(
    cases: dict[str, list[Case]],
    outcomes: dict[str, CallOutcome],
    rubric: Rubric,
    breaches: dict[str, str],
    ignored: dict[str, list[str]] | None = None,
    expected: object | None = None,
) -> list[TestResult]:
    """Every automatic test, in the rubric's order of items; `breaches` are the rules' verdicts by item, `ignored`
    the arguments each item's function never reads."""
    found: list[TestResult] = []
    for item in rubric.items:
        failing = frozenset(test.item for test in found if not test.passed)
        found += score_item(
            item,
            cases[item],
            outcomes,
            rubric,
            breaches.get(item, ""),
            failing,
            expected,
            (ignored or {}).get(item, ()),
        )
    return found
