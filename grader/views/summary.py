"""The class summary as a Markdown table: for a CI job's summary page, or a file."""

from __future__ import annotations

from grader.assignment import current_assignment
from grader.points import points_text
from grader.result import SubmissionStatus
from grader.rubric import Rubric
from grader.shared.verdicts import code_span
from grader.store import StudentRow


def _cell(text: str) -> str:
    """Text a student controls, safe inside a Markdown table cell: a code span, its pipes escaped for the table
    (GitHub's tables split cells at a pipe even inside a code span, and render `\\|` there as `|`)."""
    return code_span(text).replace("|", "\\|") if text else ""


def summary_markdown(rows: list[StudentRow], rubric: Rubric) -> str:
    graded = [r.result for r in rows if r.result is not None]
    scores = [r.score for r in graded]
    lines = [
        f"## {current_assignment().TITLE}: class summary",
        "",
        f"{len(graded)} graded, {len(rows) - len(graded)} missing; "
        + (
            f"mean {sum(scores) / len(scores):.1f} of {points_text(rubric.automatic_total)} automatic points"
            if scores
            else ""
        ),
        "",
        "| student | name | score | status |",
        "|---|---|---:|---|",
    ]
    for row in rows:
        score = points_text(row.result.score) if row.result else "-"
        status = str(row.result.status) if row.result else str(SubmissionStatus.MISSING)
        lines.append(f"| {_cell(row.identity.student)} | {_cell(row.identity.name)} | {score} | {status} |")
    return "\n".join(lines) + "\n"
