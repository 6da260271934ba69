"""A class store read without its lock and without writing anything: the assignment and the rubric a class is
graded under, and each student's current work for the integrity signals (an earlier term's store may be
read-only, and of any day: what it lacks is read as empty)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from grader.rubric import Rubric, rubric_from_json
from grader.store.schema import CURRENT_GRADINGS, STORE_FILE, StoreMissing

ASSIGNMENT_SETTING = "assignment"  # the class's assignment folder, in class_settings


def class_rubric_of(folder: Path) -> Rubric | None:
    """The rubric the class in `folder` is graded under (read without taking the lock), or None."""
    if not (folder / STORE_FILE).is_file():
        return None
    connection = sqlite3.connect(f"file:{folder / STORE_FILE}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT rubric FROM class_rubric WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a store made before it remembered its rubric
        row = None
    finally:
        connection.close()
    return None if row is None else rubric_from_json(row[0])


def class_assignment_of(folder: Path) -> Path | None:
    """The assignment folder the class in `folder` is graded for (read without taking the lock), or None (no store,
    or one made before stores remembered it)."""
    if not (folder / STORE_FILE).is_file():
        return None
    connection = sqlite3.connect(f"file:{folder / STORE_FILE}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT value FROM class_settings WHERE key = ?", (ASSIGNMENT_SETTING,)).fetchone()
    except sqlite3.OperationalError:  # a store made before it kept settings
        row = None
    finally:
        connection.close()
    return None if row is None else Path(row[0])


def current_work_of(folder: Path) -> list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]]:
    """Each graded student's current (student, code, wrong outputs, written answers), read without the lock and
    without writing anything (an earlier term's store may be read-only; one made before the integrity signals
    has answers only)."""
    if not (folder / STORE_FILE).is_file():
        raise StoreMissing(f"{folder} holds no {STORE_FILE}: grade into it first")
    connection = sqlite3.connect(f"file:{folder / STORE_FILE}?mode=ro", uri=True, timeout=30)
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(gradings)")}
        kept = [column if column in columns else "'{}'" for column in ("code", "wrong_outputs")]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        current = CURRENT_GRADINGS if "removals" in tables else "SELECT MAX(id) FROM gradings GROUP BY student"
        rows = connection.execute(
            f"SELECT student, {kept[0]}, {kept[1]}, written FROM gradings WHERE id IN ({current}) ORDER BY student"
        ).fetchall()
    finally:
        connection.close()
    return [
        (student, json.loads(code), json.loads(wrong), json.loads(written)) for student, code, wrong, written in rows
    ]
