"""A class moved to a rubric that changes only how outcomes are scored (points, tolerances, thresholds, written
points): every student's current grading scored again from its stored evidence, without a kernel.

The pipeline calls it when a run is asked to move the class (`grade --change-rubric`) and every change is of
that kind; a change that needs notebooks run again (epochs, rules) is graded by kernels instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.items import generate_cases
from grader.judge.score import loop_read_but_left_out, score_all
from grader.judge.sources import wrong_outputs
from grader.result import SubmissionResult
from grader.rubric import Rubric
from grader.store import ClassStore, Versions


@dataclass
class Rescoring:
    rescored: list[str] = field(default_factory=list)  # students scored again
    without_evidence: list[str] = field(default_factory=list)  # graded before evidence was kept: kernels needed
    # whose tests under the new rubric read a handout's loop their grading left out (unread then): kernels needed
    loop_left_out: list[str] = field(default_factory=list)


def _rescored(store: ClassStore, grading: int, rubric: Rubric, cases: dict) -> SubmissionResult | str:
    """The grading scored again under `rubric`, or why only kernels can: "evidence" (outcomes not kept, or not of
    every hidden case) or "loop" (a handout's loop now read was left out)."""
    calls = {call.key for item_cases in cases.values() for case in item_cases for call in case.calls}
    evidence = store.evidence(grading)
    if evidence is None or not calls <= evidence.outcomes.keys():  # graded before a hidden case was added
        return "evidence"
    tests = score_all(cases, evidence.outcomes, rubric, evidence.breaches, evidence.ignored)
    if loop_read_but_left_out(cases, evidence.outcomes, tests):
        return "loop"
    result = store.result_of(grading)
    result.rubric, result.evidence, result.tests = rubric, evidence, tests
    result.wrong_outputs = wrong_outputs(cases, evidence.outcomes, result.tests)
    return result


def needing_kernels(store: ClassStore, rubric: Rubric, verdicts_may_change: bool) -> list[str]:
    """The students a move to `rubric` must grade again with kernels: those graded before evidence was kept and,
    where the change may turn a test's verdict (not only its points), those whose tests would then read a
    handout's loop their grading left out."""
    needed = set(store.without_evidence())
    if verdicts_may_change:
        cases = generate_cases(rubric.run.grading_epochs)
        for student, grading in store.current_ids().items():
            if student not in needed and isinstance(_rescored(store, grading, rubric, cases), str):
                needed.add(student)
    return sorted(needed)


def rescore_class(store: ClassStore, rubric: Rubric, versions: Versions, run_id: int) -> Rescoring:
    """Score every current grading of the class again under `rubric`, each recorded as a new grading."""
    outcome = Rescoring(without_evidence=store.without_evidence())
    cases = generate_cases(rubric.run.grading_epochs)
    for student, grading in sorted(store.current_ids().items()):
        if student in outcome.without_evidence:
            continue
        result = _rescored(store, grading, rubric, cases)
        if result == "evidence":
            outcome.without_evidence.append(student)
        elif result == "loop":
            outcome.loop_left_out.append(student)
        else:
            store.rescored(run_id, grading, versions, result)
            outcome.rescored.append(student)
    return outcome
