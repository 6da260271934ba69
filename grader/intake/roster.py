"""The class roster: who should have submitted, with the names, emails and SIS ids an LMS import needs.

A CSV with a header. The student's id comes from the first of the columns
`student`, `id`, `sid`, `user_id`; Canvas's own gradebook export works as it is
(`Student` is then the name, `ID` the id, with `SIS User ID`, `SIS Login ID`
and `Section`). Column names are matched without regard to case, spaces or
underscores; rows without an id (Canvas's "Points Possible") are skipped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError


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


def _key(column: str) -> str:
    return re.sub(r"[\s_]+", "", column.strip().lower())


def read_roster(path: Path) -> list[RosterEntry]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{path}: cannot be read ({error})") from None
    columns = {_key(c): c for c in header}
    id_column = next((columns[k] for k in ("id", "studentid", "sid", "userid", "student") if k in columns), None)
    if id_column is None:
        raise RosterError(f"{path}: no column names the student's id (student, id, sid or user_id)")
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
    return entries
