"""The class roster: who should have submitted, with the names, emails and SIS ids an LMS import needs.

A CSV with a header, as any spreadsheet saves one (`intake/tables.py`). The student's id comes from the
first of the columns `student`, `id`, `sid`, `user_id`; Canvas's own gradebook export works as it is
(`Student` is then the name, `ID` the id, with `SIS User ID`, `SIS Login ID`
and `Section`). Column names are matched without regard to case, spaces or
underscores; rows without an id (Canvas's "Points Possible") are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.intake.tables import TableError, read_table


class RosterError(GraderError):
    """The roster cannot be used; the message names the file and the problem."""

    says = "cannot use the roster: "


@dataclass(frozen=True)
class RosterEntry:
    student: str
    name: str = ""
    email: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


class Roster(list[RosterEntry]):
    """The roster's entries, with the file, the column their ids were read from and every column it has."""

    def __init__(self, entries: list[RosterEntry], path: Path, id_column: str, columns: list[str]) -> None:
        super().__init__(entries)
        self.path, self.id_column, self.columns = path, id_column, columns

    def check_matches(self, students: list[str]) -> None:
        """RosterError when its ids match none, or fewer than half, of `students` (those handed in): a roster
        read by the wrong column (names where the export has ids) would make every real student "missing" and
        graded students without names."""
        handed_in = sorted(set(students))
        matched = [student for student in handed_in if student in {entry.student for entry in self}]
        if not handed_in or (matched and (len(handed_in) < 4 or 2 * len(matched) >= len(handed_in))):
            return
        unmatched = [student for student in handed_in if student not in matched]
        raise RosterError(
            f"{self.path}: its ids (column {self.id_column!r}) match {len(matched)} of the {len(handed_in)} students "
            f"handed in (not {', '.join(unmatched[:3])}{', ...' if len(unmatched) > 3 else ''}; the roster has "
            f"{', '.join(entry.student for entry in self[:3])}{', ...' if len(self) > 3 else ''}). Its columns: "
            f"{', '.join(self.columns)}. Give it a column of the ids the export uses (Canvas's is ID), or this "
            "class's roster"
        )


def _key(column: str) -> str:
    return re.sub(r"[\s_]+", "", column.strip().lower())


def read_roster(path: Path) -> Roster:
    try:
        header, rows, _ = read_table(path)
    except TableError as error:
        raise RosterError(f"{path}: {error}") from None
    columns = {_key(c): c for c in header}
    id_column = next((columns[k] for k in ("id", "studentid", "sid", "userid", "student") if k in columns), None)
    if id_column is None:
        found = ", ".join(header) or "none"
        raise RosterError(
            f"{path}: no column names the student's id (student, id, sid or user_id); its columns: {found}"
        )
    name_column = columns.get("name") or (columns.get("student") if id_column != columns.get("student") else None)

    def cell(row: dict, key: str, column: str | None = None) -> str:
        column = column or columns.get(key)
        return (row.get(column) or "").strip() if column else ""

    entries, seen = [], set()
    for row in rows:
        student = cell(row, "", id_column)
        if not student or not re.search(r"\w", student) or student in seen:
            continue
        seen.add(student)
        entries.append(
            RosterEntry(
                student,
                name=cell(row, "", name_column),
                email=cell(row, "email"),
                sis_user_id=cell(row, "sisuserid"),
                sis_login_id=cell(row, "sisloginid"),
                section=cell(row, "section"),
            )
        )
    if not entries:
        raise RosterError(f"{path}: lists no student")
    return Roster(entries, path, id_column, header)
