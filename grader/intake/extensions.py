"""Students' extensions: a CSV with a `student` column and, for each, `days` (the course's due time moved by
that many days) or `due` (a time of their own, ISO 8601 with its time zone), and an optional `reason`.

Checked whole: an unknown column, a row with neither or both, a number or a time that does not read, a
student twice: the file is refused with every problem and its line, and nothing of it is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from grader.errors import GraderError
from grader.intake.tables import TableError, read_table

COLUMNS = ("student", "days", "due", "reason")


@dataclass(frozen=True)
class Extension:
    """A student's own due time: `due` when given, else the course's moved by `days`."""

    student: str
    due: datetime | None = None
    days: float = 0.0
    reason: str = ""

    def due_time(self, course_due: datetime) -> datetime:
        return self.due if self.due is not None else course_due + timedelta(days=self.days)


class ExtensionsError(GraderError):
    """The extensions file cannot be used; the message lists every problem with its line."""

    says = "cannot use the extensions: "


def read_extensions(path: Path) -> list[Extension]:
    try:
        header, rows, _ = read_table(path)
    except TableError as error:
        raise ExtensionsError(f"{path}: {error}") from None
    header = [column.lower() for column in header]
    unknown = [column for column in header if column not in COLUMNS]
    if "student" not in header or unknown or not {"days", "due"} & set(header):
        raise ExtensionsError(f"{path}: the header must be student, then days or due, and reason if wanted")
    problems, found, seen = [], [], {}
    for line, row in enumerate(rows, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        student, days, due = row.get("student", ""), row.get("days", ""), row.get("due", "")
        if not student:
            continue
        if student in seen:
            problems.append(f"line {line}: {student} is listed twice (also on line {seen[student]})")
            continue
        seen[student] = line
        if bool(days) == bool(due):
            problems.append(f"line {line}: give {student} either days or due")
            continue
        try:
            extension = (
                Extension(student, due=datetime.fromisoformat(due), reason=row.get("reason", ""))
                if due
                else (Extension(student, days=float(days), reason=row.get("reason", "")))
            )
        except ValueError:
            problems.append(f"line {line}: {days or due!r} is not a number of days or an ISO 8601 time")
            continue
        if extension.due is not None and extension.due.tzinfo is None:
            problems.append(f"line {line}: the due time {due!r} must say its time zone (Z, -05:00)")
        elif not math.isfinite(extension.days) or extension.days < 0:
            problems.append(f"line {line}: days must be a number of days, 0 or more")
        else:
            found.append(extension)
    if problems:
        raise ExtensionsError(f"{path}: nothing was applied:\n  " + "\n  ".join(problems))
    return found
