"""The class gradebook: one row per submission."""

from __future__ import annotations

from grader.result import SubmissionResult


def gradebook_row(result: SubmissionResult) -> dict[str, object]:
    """`name, total, max, status`, one column per graded item, `written_max`, `problems`."""
    row: dict[str, object] = {
        "name": result.name,
        "total": result.score,
        "max": result.rubric.automatic_total,
        "status": str(result.status),
    }
    row |= {item: result.item_score(item) for item in result.rubric.items}
    row["written_max"] = result.rubric.written_total
    row["problems"] = " | ".join(result.problems)
    return row
