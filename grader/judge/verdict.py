"""The one interface every item's scorer follows, and the tests with points it ends in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grader.cases import Case
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome


@dataclass
class TestResult:
    """One test as Gradescope shows it: `item.case` (or `item.part.case`), points, and what went wrong."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    score: float
    max_score: float
    output: str

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9


@dataclass(frozen=True)
class Check:
    """One verdict before points are attached: `part` names it within its case; `problem` is "" when it passed."""

    part: str
    problem: str = ""


# A judge sees one case whose calls all returned (the prologue in score.py has handled the rest)
# and gives one Check per part of the scorer, in order.
Judge = Callable[[Case, list[CallOutcome], Rubric], list[Check]]


@dataclass(frozen=True)
class ItemScorer:
    """How one rubric item is judged: the judge, and what its tests are called."""

    judge: Judge
    parts: tuple[str, ...] = ("",)  # the tests each case yields, e.g. one per gradient
    case_in_name: bool = True  # False for items with a single case: `train_manual.loss_history`
    context: str = ""  # said after the call in every message, e.g. " on the training split"
    changes_inputs: bool = False  # the function is meant to change its arguments in place

    def test_name(self, item: str, part: str, case: Case) -> str:
        return ".".join(p for p in (item, part, case.name if self.case_in_name else "") if p)
