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
from grader.shared.judging import Standards, handout_loop_read, judge_cases
from grader.shared.outcomes import CallOutcome, Case, loop_left_out
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
    items: list[str] | None = None,
) -> list[TestResult]:
    """Every automatic test, in the rubric's order of items (or of `items` only, the rubric's first ones);
    `breaches` are the rules' verdicts by item, `ignored` the arguments each item's function never reads."""
    found: list[TestResult] = []
    for item in rubric.items if items is None else items:
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


def handout_loop_needed(
    item: str,
    cases: dict[str, list[Case]],
    outcomes: dict[str, CallOutcome],
    rubric: Rubric,
    breaches: dict[str, str],
    ignored: dict[str, list[str]] | None = None,
) -> bool:
    """Whether `item`'s judge reads its handout's-loop calls, given `outcomes` (its own calls' and every item's
    before it): the grader runs the loop only then. True while an item before it is not harvested yet."""
    items = list(rubric.items)
    before = items[: items.index(item)]
    if any(call.key not in outcomes for name in before for case in cases[name] for call in case.calls):
        return True
    tests = score_all(cases, outcomes, rubric, breaches, ignored, items=before)
    failing = {test.item for test in tests if not test.passed}
    composes = current_assignment().ITEMS[item].composes
    return handout_loop_read(composes, cases[item], outcomes, failing, current_assignment().expected())


def loop_read_but_left_out(
    cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome], tests: list[TestResult]
) -> list[str]:
    """The items judged in `tests` whose judge read a handout's loop the grading left out (it was not read when
    the notebook was graded: a rubric's other tolerances make a function fail now): scores that only a kernel
    running the loop can give."""
    assignment = current_assignment()
    failing: set[str] = set()
    found = []
    for item in dict.fromkeys(test.item for test in tests):  # the rubric's order, as they were judged
        loops = [call.key for case in cases.get(item, []) for call in case.calls if call.handout_loop]
        if any(loop_left_out(outcomes[key]) for key in loops if key in outcomes):
            composes = assignment.ITEMS[item].composes
            if handout_loop_read(composes, cases[item], outcomes, failing, assignment.expected()):
                found.append(item)
        failing |= {test.item for test in tests if test.item == item and not test.passed}
    return found
