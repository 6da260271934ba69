"""The class gradebook: one row per student, graded or on the roster, identity columns first."""

from __future__ import annotations

from pathlib import Path

from grader.points import points_text
from grader.result import SubmissionStatus
from grader.rubric import Rubric
from grader.store import StudentRow
from grader.views.csv_cells import write_csv

IDENTITY_COLUMNS = ["student", "name", "email", "source"]


def gradebook_header(rubric: Rubric) -> list[str]:
    return [
        *IDENTITY_COLUMNS,
        "total",
        "max",
        "status",
        *rubric.items,
        "written",
        "written_max",
        "late",
        "late_penalty",
        "adjustments",
        "problems",
    ]


def gradebook_row(row: StudentRow, rubric: Rubric) -> list[object]:
    identity, result = row.identity, row.result
    who = [identity.student, identity.name, identity.email, identity.source]
    if result is None:
        return [
            *who,
            "0",
            points_text(rubric.automatic_total),
            str(SubmissionStatus.MISSING),
            *("0" for _ in rubric.items),
            "",
            points_text(rubric.written_total),
            "",
            "",
            "",
            "no submission",
        ]
    return [
        *who,
        points_text(result.total),
        points_text(result.total_max),  # the automatic points, and each written question once a TA has scored it
        str(result.status),
        *(points_text(result.item_score(item)) for item in rubric.items),
        points_text(result.written_score) if result.written_scores else "",
        points_text(rubric.written_total),
        (late.says if (late := result.lateness) else ""),
        points_text(result.late_penalty) if late and late.costs else "",
        " | ".join(adjustment.says(item) for item, adjustment in result.adjustments.items()),
        " | ".join([result.note] * bool(result.note) + [p.text for p in result.problems]),
    ]


def write_gradebook(rows: list[StudentRow], rubric: Rubric, out: Path) -> Path:
    return write_csv(out / "gradebook.csv", gradebook_header(rubric), [gradebook_row(r, rubric) for r in rows])
