"""Logistic regression by hand: its judges and its mistakes, for the grader and the students' self-check alike.

The grader imports this file (through assignment.py); `tools/build_student_bundle.py` stamps its code after its
imports into the students' selfcheck.py, so it imports only numpy and `grader.shared`. A judge reads its expected
values from `standards.expected.values(case)`: the reference's in the grader, the shipped numbers in the
self-check.
"""

from __future__ import annotations

import numpy as np

from grader.shared.catalogue import GENERAL_MISTAKES, Misconception
from grader.shared.judging import Standards
from grader.shared.outcomes import CallOutcome, Case
from grader.shared.verdicts import Check, compare

# ---- the judges: what each item's values must be (the engine has checked every call returned, rules kept) --------


def _nearly(a: object, b: object) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-3, atol=1e-6))


def judge_loss(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    leaf, want = outcomes[0].leaf(""), standards.expected.values(case)["loss"]
    problem = compare(leaf, want, "the loss", standards.rtol, standards.atol)
    if not problem:
        return [Check("")]
    summed = leaf is not None and leaf.value is not None and _nearly(leaf.value, want * len(case.arrays["y"]))
    return [Check("", f"{problem}.", "loss_summed" if summed and len(case.arrays["y"]) > 1 else "")]


def judge_gradient(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want, n, checks = standards.expected.values(case), len(case.arrays["y"]), []
    for index, part in enumerate(("dw", "db")):
        leaf = outcomes[0].leaf(str(index))
        problem = compare(leaf, want[part], f"returned {part}", standards.rtol, standards.atol)
        unscaled = problem and leaf is not None and leaf.value is not None and n > 1
        mistake = "gradient_not_divided_by_n" if unscaled and _nearly(leaf.value, want[part] * n) else ""
        checks.append(Check(part, f"{problem}." if problem else "", mistake))
    return checks


def judge_step(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want, rate = standards.expected.values(case), case.spec["learning_rate"]
    problems, climbed = [], True
    for index, name in enumerate(("w", "b")):
        leaf = outcomes[0].leaf(str(index))
        if problem := compare(leaf, want[name], f"returned {name}", standards.rtol, standards.atol):
            problems.append(problem)
        up = case.arrays[name] + rate * case.arrays[f"d{name}"]
        climbed = climbed and leaf is not None and leaf.value is not None and _nearly(leaf.value, up)
    if not problems:
        return [Check("")]
    return [Check("", "; ".join(problems) + ".", "step_sign" if climbed else "")]


def judge_train(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want = standards.expected.values(case)
    history = compare(outcomes[0].leaf("2"), want["history"], "the loss history", standards.rtol, standards.atol)
    weights = [
        compare(outcomes[0].leaf(str(index)), want[name], f"the trained {name}", standards.rtol, standards.atol)
        for index, name in enumerate(("w", "b"))
    ]
    weights_problem = "; ".join(p for p in weights if p)
    return [
        Check("loss_history", f"{history}." if history else ""),
        Check("weights", f"{weights_problem}." if weights_problem else ""),
    ]


# ---- the mistake catalogue: what to say, and where to look (never the fix) ------------------------------------

PART_OF = {"loss": "Part 1", "gradient": "Part 2", "step": "Part 3", "train": "Part 4"}
MISCONCEPTIONS = {
    "loss_summed": Misconception(
        "loss", "the loss grows with the number of examples: look at how their losses are combined", "the loss"
    ),
    "gradient_not_divided_by_n": Misconception(
        "gradient", "the gradient is N times too large: the loss is a mean over the examples", "the gradient"
    ),
    "step_sign": Misconception(
        "step", "the weights moved up the gradient, so the loss grows instead of falling", "the step"
    ),
}
MISCONCEPTIONS = {
    name: Misconception(m.item, m.says, m.step, PART_OF[m.item]) for name, m in MISCONCEPTIONS.items()
} | GENERAL_MISTAKES
