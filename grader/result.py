"""One graded submission, in memory: what every view (results.json, feedback, gradebook) is made from."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from enum import StrEnum

from grader.intake import HandedIn, Identity, student_folder
from grader.intake.extensions import Extension
from grader.judge.evidence import Evidence
from grader.judge.late import Lateness, lateness
from grader.points import exact, points_text
from grader.rubric import Rubric
from grader.shared.verdicts import TestResult, Trouble
from grader.student_text import clean


class SubmissionStatus(StrEnum):
    GRADED = "graded"
    UNREADABLE = "unreadable"  # not a notebook we can run: zero, with the reason
    GRADER_ERROR = "grader_error"  # a bug of ours: zero, and the traceback on the instructor's terminal
    MISSING = "missing"  # on the roster, nothing handed in (a gradebook row only, never a grading)


@dataclass(frozen=True)
class Problem:
    """Something that went wrong running the notebook (or a note about the run), and its kind of trouble."""

    text: str
    trouble: Trouble = Trouble.NONE


LATE = "late"  # what an adjustment of the late penalty is filed under, beside the automatic items


@dataclass(frozen=True)
class Adjustment:
    """A person's change to a student's automatic item (or the late penalty), with why, who and when."""

    points: float  # added to the item's automatic points (negative takes away; for `late`, given back)
    reason: str
    by: str
    made: float  # seconds since the epoch
    version: int = 1

    def says(self, item: str) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.made))
        what = "the late penalty" if item == LATE else f"`{item}`"
        return f"{what} {self.points:+g} points, by {self.by} on {when}: {self.reason}"


@dataclass(frozen=True)
class WrittenScore:
    """A TA's score of one written answer (at the desk, or imported with `python -m grader written import`)."""

    score: float
    comment: str = ""
    version: int = 1  # moves on with each save: a save based on an older one is refused
    by: str = ""


@dataclass
class SubmissionResult:
    identity: Identity
    rubric: Rubric
    tests: list[TestResult] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # question -> the student's answer
    written_scores: dict[str, WrittenScore] = field(default_factory=dict)  # question -> the TA's score, once scored
    status: SubmissionStatus = SubmissionStatus.GRADED
    problems: list[Problem] = field(default_factory=list)  # what went wrong running the notebook
    note: str = ""  # which of several notebooks handed in was graded (intake's, never from the cache)
    execution_time: float = 0.0
    plots: dict[str, object] = field(default_factory=dict)  # what the pages draw (the assignment's plot_data)
    isolation: str = ""  # how its kernels were confined, in a sentence ("" when none ran)
    handed_in: HandedIn | None = None  # the export's evidence of when the graded file was handed in
    evidence: Evidence | None = None  # what the tests were scored from (stored; no view shows it)
    extension: Extension | None = None  # the student's own due time, when they have one
    adjustments: dict[str, Adjustment] = field(default_factory=dict)  # the staff's, by item (or LATE); never 0
    code: dict[str, str] = field(default_factory=dict)  # each graded function's source (judge/sources.py)
    wrong_outputs: dict[str, str] = field(default_factory=dict)  # item.case -> digest of the wrong numbers

    def cleaned(self) -> SubmissionResult:
        """This result with every text a student may have written in it made fit for every output."""
        return dataclasses.replace(
            self,
            tests=[dataclasses.replace(t, called=clean(t.called), problem=clean(t.problem)) for t in self.tests],
            written={question: clean(answer) for question, answer in self.written.items()},
            problems=[dataclasses.replace(problem, text=clean(problem.text)) for problem in self.problems],
            note=clean(self.note),
            code={function: clean(source) for function, source in self.code.items()},
        )

    @property
    def folder(self) -> str:
        """The student's folder in the class folder."""
        return student_folder(self.identity.student)

    @property
    def score(self) -> float:
        """The automatic points, with the staff's adjustments of items."""
        return exact(sum(t.score for t in self.tests) + sum(self.adjusted_by(item) for item in self.rubric.items))

    @property
    def written_score(self) -> float:
        return exact(sum(exact(s.score) for s in self.written_scores.values()))

    @property
    def written_scored_max(self) -> float:
        """The points of the written questions scored so far."""
        return sum(points for question, points in self.rubric.written.items() if question in self.written_scores)

    @property
    def lateness(self) -> Lateness | None:
        """How late it was handed in under the rubric's late policy, and what that costs; None when on time."""
        when = self.handed_in.time if self.handed_in else None
        return lateness(self.rubric.late, when, self.identity.late, self.extension)

    @property
    def late_penalty(self) -> float:
        """The points the late policy takes from those earned (automatic and written)."""
        late = self.lateness
        if late is None:
            return 0.0
        penalty = (self.score + self.written_score) * late.percent / 100
        given_back = self.adjustments[LATE].points if LATE in self.adjustments else 0.0
        return exact(min(max(penalty - given_back, 0.0), penalty))

    @property
    def total(self) -> float:
        """Automatic points and the written points scored so far, less the late penalty."""
        return exact(self.score + self.written_score - self.late_penalty)

    @property
    def total_max(self) -> float:
        """Out of what `total` is: the automatic points, and each written question once it is scored."""
        return exact(sum(t.max_score for t in self.tests) + self.written_scored_max)

    def written_status(self) -> str:
        scored, asked = len(self.written_scores), len(self.rubric.written)
        if scored == 0:
            return f"awaiting grading by the course staff ({points_text(self.rubric.written_total)} points)"
        if scored < asked:
            waiting = f"{asked - scored} of {asked} awaiting grading"
            return f"{points_text(self.written_score)}/{points_text(self.written_scored_max)} so far; {waiting}"
        return f"{points_text(self.written_score)}/{points_text(self.rubric.written_total)}, scored by the course staff"

    def item_score(self, item: str) -> float:
        """The item's points from its tests, with the staff's adjustment, if any."""
        return exact(sum(t.score for t in self.tests if t.item == item) + self.adjusted_by(item))

    def adjusted_by(self, item: str) -> float:
        """What the staff's adjustment of `item` changes its points by, held to [0, the item's points]."""
        if item not in self.adjustments or item not in self.rubric.items:
            return 0.0
        earned = sum(t.score for t in self.tests if t.item == item)
        adjusted = min(max(earned + self.adjustments[item].points, 0.0), self.rubric.items[item].points)
        return exact(adjusted - earned)

    def summary_line(self) -> str:
        line = f"{points_text(self.score)}/{points_text(self.rubric.automatic_total)} automatic points"
        failed = sum(not t.passed for t in self.tests)
        if not self.tests:
            line += ", not graded"
        else:
            line += (
                f", {failed} of {len(self.tests)} automatic tests failed" if failed else ", every automatic test passed"
            )
        line = f"{line}; written answers: {self.written_status()}"
        if (late := self.lateness) is not None:
            penalty = f" ({points_text(-self.late_penalty)} points so far)" if late.costs else ""
            line += f"; late: {late.says}{penalty}"
        if self.adjustments:
            line += f"; adjusted by the course staff: {len(self.adjustments)} item(s)"
        return line
