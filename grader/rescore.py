"""A class moved to a rubric that changes only how outcomes are scored (points, tolerances, thresholds, written
points): every student's current grading scored again from its stored evidence, without a kernel.

The pipeline calls it when a run is asked to move the class (`grade --change-rubric`) and every change is of
that kind; a change that needs notebooks run again (epochs, rules) is graded by kernels instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.items import generate_cases
from grader.judge.score import score_all
from grader.judge.sources import wrong_outputs
from grader.rubric import Rubric
from grader.store import ClassStore, Versions


@dataclass
class Rescoring:
    rescored: list[str] = field(default_factory=list)  # students scored again
    without_evidence: list[str] = field(default_factory=list)  # graded before evidence was kept: kernels needed


def rescore_class(store: ClassStore, rubric: Rubric, versions: Versions, run_id: int) -> Rescoring:
    """Score every current grading of the class again under `rubric`, each recorded as a new grading."""
    outcome = Rescoring(without_evidence=store.without_evidence())
    cases = generate_cases(rubric.run.grading_epochs)
    calls = {call.key for item_cases in cases.values() for case in item_cases for call in case.calls}
    for student, grading in sorted(store.current_ids().items()):
        evidence = store.evidence(grading)
        if evidence is None:
            continue
        if not calls <= evidence.outcomes.keys():  # graded before a hidden case was added: kernels needed
            outcome.without_evidence.append(student)
            continue
        result = store.result_of(grading)
        result.rubric, result.evidence = rubric, evidence
        result.tests = score_all(cases, evidence.outcomes, rubric, evidence.breaches, evidence.ignored)
        result.wrong_outputs = wrong_outputs(cases, evidence.outcomes, result.tests)
        store.rescored(run_id, grading, versions, result)
        outcome.rescored.append(student)
    return outcome
