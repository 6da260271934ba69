"""The Canvas gradebook import CSV: `Student, ID, SIS User ID, SIS Login ID, Section`, one assignment column,
and the "Points Possible" row Canvas's own exports carry."""

from __future__ import annotations

from pathlib import Path

from grader.points import points_text
from grader.store import StudentRow
from grader.views.csv_cells import write_csv

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_canvas_csv(
    rows: list[StudentRow], assignment: str, path: Path, points_possible: float, missing_as_zero: bool = False
) -> Path:
    """One row per student of the store and roster, after Canvas's "Points Possible" row; the score is the
    automatic points and the written points scored so far. A student with nothing graded gets a blank cell, so
    that Canvas's own missing-submission policy applies (`missing_as_zero`: 0 instead)."""
    lines: list[list[object]] = [["    Points Possible", "", "", "", "", points_text(points_possible)]]
    for row in rows:
        roster = row.roster
        score = points_text(row.result.total) if row.result else ("0" if missing_as_zero else "")
        lines.append(
            [
                row.identity.name or row.identity.student,
                row.identity.student,
                roster.sis_user_id if roster else "",
                roster.sis_login_id if roster else "",
                roster.section if roster else "",
                score,
            ]
        )
    return write_csv(path, [*CANVAS_COLUMNS, assignment], lines)
