"""The Canvas gradebook import CSV: `Student, ID, SIS User ID, SIS Login ID, Section`, one assignment column."""

from __future__ import annotations

from pathlib import Path

from grader.store import StudentRow
from grader.views.csv_cells import write_csv

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_canvas_csv(rows: list[StudentRow], assignment: str, path: Path) -> Path:
    """One row per student of the store and roster; the score is the automatic points and the written points
    scored so far (0 for no submission)."""
    lines = []
    for row in rows:
        roster = row.roster
        lines.append(
            [
                row.identity.name or row.identity.student,
                row.identity.student,
                roster.sis_user_id if roster else "",
                roster.sis_login_id if roster else "",
                roster.section if roster else "",
                row.result.total if row.result else 0,
            ]
        )
    return write_csv(path, [*CANVAS_COLUMNS, assignment], lines)
