"""The one interface every item's judge follows, and the tests with points it ends in.

A verdict is data: each test carries its item, what was called, what is wrong,
the catalogued mistake it shows and the kind of trouble that kept it from being
judged, as fields. The sentence Gradescope and the pages show (`output`) is
made from them, so no view ever has to read a sentence back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from grader.cases import Case
from grader.rubric import Rubric
from grader.run.harvest import CallOutcome
from grader.shared_with_selfcheck import hint


class Trouble(StrEnum):
    """Why something could not be judged on its values (a test, or a cell of the notebook); NONE when it was."""

    NONE = ""
    TODO = "todo"  # the function still raises the template's NotImplementedError
    RAISED = "raised"  # the student's code raised
    MISSING = "missing"  # not defined at the top level of the notebook
    NOT_CALLABLE = "not_callable"  # defined, but not a function
    TIMEOUT = "timeout"  # a call or a cell ran past its time
    KERNEL_LOST = "kernel_lost"  # the kernel died or stopped answering
    NOT_RUN = "not_run"  # never reached: the submission's time ran out, or nothing could run
    RULE = "rule"  # the function broke its item's rule (autograd where it must compute by hand, ...)
    UNREADABLE = "unreadable"  # no notebook the grader can run was handed in
    GRADER_ERROR = "grader_error"  # the grader failed: never the student's doing

    @property
    def needs_a_look(self) -> bool:
        """Whether the class report lists the student for a person to look at (the run itself went wrong)."""
        return self in (Trouble.TIMEOUT, Trouble.KERNEL_LOST, Trouble.UNREADABLE, Trouble.GRADER_ERROR)


@dataclass
class TestResult:
    """One test as Gradescope shows it: `item.case` (or `item.part.case`), points, and what went wrong."""

    __test__ = False  # not a pytest test class, whatever its name

    item: str  # the rubric item it scores
    name: str
    score: float
    max_score: float
    called: str = ""  # "Called loss_fn(p_y_hat: (4, 2) float32, y: (4,) int64)."; "" when it passed
    problem: str = ""  # what is wrong, without the call; "" when it passed
    mistake: str = ""  # the catalogued mistake it shows (a key of MISCONCEPTIONS), or ""
    trouble: Trouble = Trouble.NONE

    @property
    def passed(self) -> bool:
        return not self.problem and self.score >= self.max_score - 1e-9

    @property
    def advice(self) -> str:
        """The catalogued mistake's hint, or ""."""
        return hint(self.mistake) if self.mistake else ""

    @property
    def output(self) -> str:
        """The whole message: what was called, what is wrong, and the hint for the mistake it shows."""
        if not self.problem:
            return "passed"
        return " ".join(part for part in (self.called, self.problem, self.advice) if part)


@dataclass(frozen=True)
class Check:
    """One verdict before points are attached: `part` names it within its case; `problem` is "" when it passed.

    `mistake` names the catalogued mistake the value shows, if any; `trouble` says why it was not judged on
    values at all (the shared prologue sets it; an item's judge leaves it NONE)."""

    part: str
    problem: str = ""
    mistake: str = ""
    trouble: Trouble = Trouble.NONE


# A judge sees one case whose calls all returned (the prologue in score.py has handled the rest)
# and gives one Check per part of the scorer, in order.
Judge = Callable[[Case, list[CallOutcome], Rubric], list[Check]]
