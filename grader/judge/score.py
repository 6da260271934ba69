"""Score a submission: every rubric item's cases through the shared prologue, then the item's judge.

The prologue is the same for every item: say what was called; when a call did
not return, or the function broke the item's rule, every test of the case
fails with that reason; otherwise the item's judge (named in the item table) decides,
and a note is added when the function changed its inputs in place.
"""

from __future__ import annotations

import dataclasses
import importlib

from grader.cases import Case, training_split
from grader.items import GRADED_FUNCTIONS, ITEMS, GradedItem, Item
from grader.judge.compare import call_failure, changed_inputs, describe_call
from grader.judge.rules import returned_autograd_history, watched_at_run_time
from grader.judge.verdict import Check, Judge, TestResult, Trouble
from grader.points import apportion
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome


def _judge(reference: str) -> Judge:
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


# each item's judge, found once when scoring is first loaded: an entry naming no judge fails here, not mid-batch
JUDGES: dict[str, Judge] = {item: _judge(entry.judge) for item, entry in ITEMS.items()}


def _why_not_judged(item: str, spec: Item, case: Case, outcomes: list[CallOutcome], breach: str) -> tuple[str, Trouble]:
    """Why the case's tests all fail before any value is looked at (a broken rule, a call that did not return),
    and its kind of trouble; ("", NONE) when its values are to be judged."""
    if breach:
        return breach, Trouble.RULE
    failures = [call_failure(outcome, call.function) for call, outcome in zip(case.calls, outcomes, strict=True)]
    if any(text for text, _ in failures):
        first = next(trouble for text, trouble in failures if text)
        return "; ".join(dict.fromkeys(text for text, _ in failures if text)), first
    if spec.rule is not None and spec.rule.watch:
        if ran := watched_at_run_time(GRADED_FUNCTIONS[item], outcomes, spec.rule):
            return ran, Trouble.RULE
    if spec.rule is not None and spec.rule.autograd_history:
        if kept := returned_autograd_history(GRADED_FUNCTIONS[item], outcomes, spec.rule):
            return kept, Trouble.RULE
    return "", Trouble.NONE


def _changed_inputs_note(scorer: GradedItem, case: Case, outcomes: list[CallOutcome]) -> str:
    if scorer.changes_inputs:
        return ""
    changed = sorted({name for i, outcome in enumerate(outcomes) for name in changed_inputs(case, i, outcome)})
    if not changed:
        return ""
    return f" Note: it changed its input{'s' if len(changed) > 1 else ''} {', '.join(changed)} in place."


def _called(case: Case) -> str:
    calls = " and ".join(describe_call(case, index) for index in range(len(case.calls)))
    on = f" on {case.spec['about']}" if "about" in case.spec else ""
    return f"Called {calls}{on}."


def _case_checks(
    item: str, spec: Item, scorer: GradedItem, case: Case, outcomes: list[CallOutcome], rubric: Rubric, breach: str
) -> list[Check]:
    failure, trouble = _why_not_judged(item, spec, case, outcomes, breach)
    parts = scorer.parts_of(case)
    if failure:
        return [Check(part, f"{failure}.", trouble=trouble) for part in parts]
    checks = JUDGES[item](case, outcomes, rubric)
    if [check.part for check in checks] != list(scorer.parts):  # a scorer of ours that breaks the interface
        raise ValueError(f"the {item} scorer judged {[c.part for c in checks]}, not its parts {list(scorer.parts)}")
    note = _changed_inputs_note(scorer, case, outcomes)
    return [
        dataclasses.replace(check, problem=check.problem + note) if check.problem else check
        for check in checks
        if check.part in parts
    ]


HANDOUT_SIZES = {"d": 2, "h": 10}  # the notebook's own: a function right only there has them written in
TRAINING_ROWS = len(training_split()[1])  # the notebook's X_train: a result of this many rows came from it


def _across_cases(cases: list[Case], outcomes: dict[str, CallOutcome], checks: list[list[Check]]) -> str:
    """A catalogued mistake that only shows across an item's cases (sizes written in, globals used), or ""."""
    for case in cases:
        rows = len(next(iter(case.arrays.values()))) if case.arrays else None
        for call in case.calls:
            leaves = outcomes[call.key].leaves
            if rows not in (None, TRAINING_ROWS) and any(
                leaf.value is not None and leaf.value.ndim >= 1 and leaf.value.shape[0] == TRAINING_ROWS
                for leaf in leaves
            ):
                return "globals_for_arguments"
    handout = [i for i, case in enumerate(cases) if all(case.spec.get(k) == v for k, v in HANDOUT_SIZES.items())]
    others = [i for i in range(len(cases)) if i not in handout]
    if (
        handout
        and all(not c.problem for i in handout for c in checks[i])
        and any(c.problem for i in others for c in checks[i])
    ):
        return "sizes_hard_coded"
    return ""


def score_item(
    item: str, cases: list[Case], outcomes: dict[str, CallOutcome], rubric: Rubric, breach: str = ""
) -> list[TestResult]:
    """The tests of one item, its points shared equally among them (as equally as the grain of points allows)."""
    spec, scorer = rubric.items[item], ITEMS[item]
    checks = [
        _case_checks(item, spec, scorer, case, [outcomes[call.key] for call in case.calls], rubric, breach)
        for case in cases
    ]
    # a mistake only the cases together show, for the failures whose values show none of their own
    across = "" if breach else _across_cases(cases, outcomes, checks)
    tests = [
        (scorer.test_name(item, check.part, case), _called(case), check)
        for case, case_checks in zip(cases, checks, strict=True)
        for check in case_checks
    ]
    shares = apportion(spec.points, len(tests))  # on the grain of points: the tests add up to the item exactly
    return [
        TestResult(item, name, each, each)
        if not check.problem
        else TestResult(
            item,
            name,
            0.0,
            each,
            called=called,
            problem=check.problem,
            mistake=check.mistake or across,
            trouble=check.trouble,
        )
        for (name, called, check), each in zip(tests, shares, strict=True)
    ]


def score_all(
    cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome], rubric: Rubric, breaches: dict[str, str]
) -> list[TestResult]:
    """Every automatic test, in the rubric's order of items; `breaches` are the rules' verdicts by item."""
    return [
        test
        for item in rubric.items
        for test in score_item(item, cases[item], outcomes, rubric, breaches.get(item, ""))
    ]
