"""One in-memory result per submission, and its views: Gradescope JSON, feedback, gradebook row."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.rubric import AUTOMATIC_ITEMS, Rubric
from grader.scoring import TestResult

STATUS_GRADED = "graded"


@dataclass
class SubmissionResult:
    name: str
    rubric: Rubric
    tests: list[TestResult] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    status: str = STATUS_GRADED  # graded | unreadable | grader_error
    problems: list[str] = field(default_factory=list)  # what went wrong running the notebook
    execution_time: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    def item_score(self, item: str) -> float:
        return round(sum(t.score for t in self.tests if t.name.split(".")[0] == item), 4)

    def summary_line(self) -> str:
        automatic = self.rubric.automatic_total
        line = f"{self.score:g}/{automatic:g} automatic points"
        failed = sum(not t.passed for t in self.tests)
        if not self.tests:
            line += ", not graded"
        else:
            line += (
                f", {failed} of {len(self.tests)} automatic tests failed" if failed else ", every automatic test passed"
            )
        return f"{line}; written answers ({sum(self.rubric.written.values()):g} points) are scored by the course staff"

    def to_gradescope(self) -> dict:
        """The Gradescope autograder results schema."""
        tests = [
            {
                "name": t.name,
                "score": round(t.score, 4),
                "max_score": round(t.max_score, 4),
                "status": "passed" if t.passed else "failed",
                "output": t.output,
                "visibility": "visible",
            }
            for t in self.tests
        ]
        for question, points in self.rubric.written.items():
            answer = self.written.get(question, "")
            tests.append(
                {
                    "name": f"written.{question}",
                    "score": 0,
                    "max_score": points,
                    "status": "failed",
                    "output": "Scored by the course staff, not automatically. Your answer:\n\n"
                    + (answer or "(no answer found)"),
                    "visibility": "visible",
                }
            )
        output = "\n".join([self.summary_line(), *self.problems])
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 2),
            "output": output,
            "stdout_visibility": "hidden",
            "tests": tests,
        }

    def gradebook_row(self) -> dict[str, object]:
        row: dict[str, object] = {
            "name": self.name,
            "total": self.score,
            "max": self.rubric.automatic_total,
            "status": self.status,
        }
        row |= {item: self.item_score(item) for item in AUTOMATIC_ITEMS}
        row["written_max"] = sum(self.rubric.written.values())
        row["problems"] = " | ".join(self.problems)
        return row

    def feedback_markdown(self) -> str:
        lines = [f"# MessMaster part 2: feedback for `{self.name}`", "", f"**{self.summary_line()}.**", ""]
        if self.problems:
            lines += ["## What went wrong running your notebook", ""] + [f"- {p}" for p in self.problems] + [""]
        lines += ["## Graded functions", "", "| item | points |", "|---|---|"]
        for item in AUTOMATIC_ITEMS:
            lines.append(f"| `{item}` | {self.item_score(item):g} / {self.rubric.points[item]:g} |")
        failing = [t for t in self.tests if not t.passed]
        if failing:
            lines += ["", "## What to fix", ""]
            lines += [f"- **{t.name}** ({t.score:.3g}/{t.max_score:.3g}): {t.output}" for t in failing]
        lines += [
            "",
            "Hidden cases (other shapes, a single example, one class only, large logits) are part of the score:",
            "passing your own checks does not mean passing these.",
            "",
            "## Written answers (scored by the course staff)",
            "",
        ]
        for question, points in self.rubric.written.items():
            answer = self.written.get(question, "").strip() or "_(no answer found)_"
            lines += [f"### {question} ({points:g} points)", "", answer, ""]
        return "\n".join(lines)
