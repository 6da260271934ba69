"""One graded submission, in memory: what every view (results.json, feedback, gradebook) is made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from grader.intake import Identity, student_folder
from grader.judge.verdict import TestResult
from grader.rubric import Rubric


class SubmissionStatus(StrEnum):
    GRADED = "graded"
    UNREADABLE = "unreadable"  # not a notebook we can run: zero, with the reason
    GRADER_ERROR = "grader_error"  # a bug of ours: zero, and the traceback on the instructor's terminal
    MISSING = "missing"  # on the roster, nothing handed in (a gradebook row only, never a grading)


@dataclass
class SubmissionResult:
    identity: Identity
    rubric: Rubric
    tests: list[TestResult] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    status: SubmissionStatus = SubmissionStatus.GRADED
    problems: list[str] = field(default_factory=list)  # what went wrong running the notebook
    note: str = ""  # which of several notebooks handed in was graded (intake's, never from the cache)
    execution_time: float = 0.0

    @property
    def folder(self) -> str:
        """The student's folder in the class folder."""
        return student_folder(self.identity.student)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    def item_score(self, item: str) -> float:
        return round(sum(t.score for t in self.tests if t.name.split(".")[0] == item), 4)

    def summary_line(self) -> str:
        line = f"{self.score:g}/{self.rubric.automatic_total:g} automatic points"
        failed = sum(not t.passed for t in self.tests)
        if not self.tests:
            line += ", not graded"
        else:
            line += (
                f", {failed} of {len(self.tests)} automatic tests failed" if failed else ", every automatic test passed"
            )
        return f"{line}; written answers ({self.rubric.written_total:g} points) are scored by the course staff"
