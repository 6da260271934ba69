"""The TAs' scores of the written answers: `written_scores.csv` (student, question, score, comment), checked whole.

The file is the one `python -m grader written export` wrote, filled in. A row
whose score is blank is a question not graded yet and is left out. Anything
else wrong (an unknown student or question, a score that is not a number or
out of the question's range, a question given twice) makes the whole file
refused, with every problem and its line: nothing of a half-checked file is
applied. A cell a spreadsheet-safe export prefixed with `'` is read back
without it.

Each row carries the `version` of the score it was exported with: a row scored
at the TA desk since then is not imported over the desk's score (and not taken
for an edit of the sheet's); a sheet without the column (of older days) is
read as current.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.intake.tables import TableError, read_table
from grader.points import exact
from grader.rubric import Rubric

COLUMNS = ("student", "question", "score", "comment", "version")


class WrittenScoresError(GraderError):
    """The file cannot be applied; the message lists every problem with its line."""


@dataclass(frozen=True)
class WrittenScoreRow:
    student: str
    question: str
    score: float
    comment: str
    version: int | None = None  # of the score it was exported with; None from a sheet without versions


def _cell(row: dict[str, str | None], column: str) -> str:
    value = (row.get(column) or "").strip()
    return value[1:] if value.startswith("'") else value  # the export's guard against formulas


def read_written_scores(path: Path, rubric: Rubric, students: dict[str, str]) -> list[WrittenScoreRow]:
    """The scored rows of `path`; `students` maps every name the file may use (ids, pseudonyms) to the id."""
    try:
        header, rows, delimiter = read_table(path)
    except TableError as error:
        raise WrittenScoresError(f"{path}: {error}") from None
    missing = [column for column in COLUMNS[:3] if column not in header]
    if missing:
        raise WrittenScoresError(f"{path}: the header lacks {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    problems, scored, seen = [], [], {}
    for line, row in enumerate(rows, start=2):
        row = {(key or "").strip(): value for key, value in row.items()}
        given, question, score_text = _cell(row, "student"), _cell(row, "question"), _cell(row, "score")
        if not given and not question and not score_text:
            continue  # an empty line
        if given not in students:
            problems.append(f"line {line}: unknown student {given!r}")
        if question not in rubric.written:
            problems.append(f"line {line}: unknown question {question!r} (the rubric's: {', '.join(rubric.written)})")
        if not score_text:
            continue  # not graded yet
        if delimiter != "," and re.fullmatch(r"\d+,\d+", score_text):  # where the comma is the decimal mark
            score_text = score_text.replace(",", ".")
        try:
            score = float(score_text)
        except ValueError:
            problems.append(f"line {line}: the score {score_text!r} is not a number")
            continue
        points = rubric.written.get(question)
        if points is not None and not (math.isfinite(score) and 0 <= score <= points):
            problems.append(f"line {line}: the score {score_text} is out of range for {question} (0 to {points:g})")
            continue
        score = exact(score)  # on the grain of points, as every sum of them is
        if given in students and question in rubric.written:
            key = (students[given], question)
            if key in seen:
                problems.append(f"line {line}: {given}'s {question} is scored twice (also on line {seen[key]})")
                continue
            seen[key] = line
            version = _cell(row, "version")
            if version and not version.isdigit():
                problems.append(f"line {line}: the version {version!r} is not the export's (leave it as it was)")
                continue
            scored.append(
                WrittenScoreRow(
                    students[given], question, score, _cell(row, "comment"), int(version) if version else None
                )
            )
    if problems:
        raise WrittenScoresError(f"{path}: nothing was applied:\n  " + "\n  ".join(problems))
    return scored


def _same_score(left: str, right: str) -> bool:
    try:
        return float(left) == float(right)
    except ValueError:
        return left == right


def unimported_edits(
    path: Path, current: list[dict[str, str]]
) -> tuple[dict[tuple[str, str], tuple[str, str]], list[str]]:
    """The (student, question) rows of the sheet at `path` whose score or comment differ from `current` (the
    sheet as the store has it): a TA's work not yet imported, as they wrote it. Read leniently (a score that
    is not a number is still someone's work); {} when there is no sheet. Also the rows ("student question")
    that differ from the store's but were scored at the desk since the sheet was written: not carried over."""
    if not path.exists():
        return {}, []
    try:
        _, rows, _ = read_table(path)
    except TableError as error:
        raise WrittenScoresError(f"{path}: cannot read it to keep what it holds ({error}); move it away") from None
    stored = {(line["student"], line["question"]): line for line in current}
    edits, overtaken = {}, []
    for row in rows:
        row = {(key or "").strip(): value for key, value in row.items()}
        key = (_cell(row, "student"), _cell(row, "question"))
        score, comment = _cell(row, "score"), _cell(row, "comment")
        now = stored.get(key, {})
        old_score, old_comment = now.get("score", ""), now.get("comment", "")
        differs = not _same_score(score, old_score) or comment != old_comment.strip()
        if _cell(row, "version") not in ("", now.get("version", "")):
            if differs and (score or comment):  # scored at the desk since this sheet was written: the desk's wins
                overtaken.append(f"{key[0]} {key[1]}")
            continue
        if differs:
            edits[key] = (score, comment)
    return edits, overtaken
