"""The human decisions on a class, kept in its store beside the gradings: what people decide, never a kernel.

Three kinds, each saved in one short transaction that carries the version it was
based on (a save over a newer version is refused with `Stale`, and nothing is
written):

- a written answer's score: the rubric items of its question applied to it, a free
  adjustment on top, a comment, who scored it and when (`written_scores`,
  `written_applied`);
- a question's rubric items, Gradescope-style: points and a comment, defined once
  and applied to many answers; changing an item's points changes every answer that
  has it, in the same transaction (`written_items`);
- an adjustment of a student's automatic item (or of the late penalty) with a
  reason, who made it and when (`adjustments`): kept apart from the gradings, so a
  regrade keeps it.

An answer's score is its applied items' points plus its adjustment, held to
[0, the question's points]; a score given directly (the sheet, the API) is stored
as the adjustment that makes it so.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from grader.errors import GraderError
from grader.points import exact
from grader.result import LATE, Adjustment
from grader.rubric import Rubric
from grader.student_text import clean


class Stale(GraderError):
    """A save based on a version someone else has since replaced: nothing was written."""

    def __init__(self, message: str, current: dict) -> None:
        super().__init__(message)
        self.current = current  # what is stored now, for the person to see and redo


class Invalid(GraderError, ValueError):
    """A decision that cannot be: an unknown question, item or student, points out of range."""


def _not_newer(given: int, stored: int) -> None:
    """A change based on a version that was never stored is invalid (a stale one is a conflict: Stale)."""
    if given > stored:
        raise Invalid(f"version {given} was never saved (the stored one is {stored}): send the version you read")


@dataclass(frozen=True)
class WrittenItem:
    id: int
    question: str
    points: float
    comment: str
    version: int


@dataclass(frozen=True)
class AnswerScore:
    """A written answer's score as the desk shows it; version 0 before it is first scored."""

    score: float | None
    comment: str
    items: tuple[int, ...]
    adjustment: float
    version: int
    by: str


class Decisions:
    """The decisions of the class whose store `db` is (an open connection in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection, rubric: Rubric) -> None:
        self.db = db
        self.rubric = rubric

    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def _points(self, question: str) -> float:
        if question not in self.rubric.written:
            raise Invalid(f"no written question {question!r}; the questions are {', '.join(self.rubric.written)}")
        return self.rubric.written[question]

    # ---- written answers ---------------------------------------------------------------------------------

    def answer_scores(self, question: str) -> dict[str, AnswerScore]:
        """Every scored answer to `question`, by student."""
        applied: dict[str, list[int]] = {}
        for student, item_id in self.db.execute(
            "SELECT student, item_id FROM written_applied WHERE question = ? ORDER BY item_id", (question,)
        ):
            applied.setdefault(student, []).append(item_id)
        return {
            student: AnswerScore(score, comment, tuple(applied.get(student, ())), adjustment, version, by)
            for student, score, comment, adjustment, version, by in self.db.execute(
                "SELECT student, score, comment, adjustment, version, scored_by FROM written_scores WHERE question = ?",
                (question,),
            )
        }

    def _answer(self, student: str, question: str) -> AnswerScore:
        return self.answer_scores(question).get(student) or AnswerScore(None, "", (), 0.0, 0, "")

    def _item_points(self, question: str, ids: list[int]) -> float:
        known = dict(self.db.execute("SELECT id, points FROM written_items WHERE question = ?", (question,)))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise Invalid(f"no rubric item {unknown[0]} for {question}")
        return sum(known[i] for i in ids)

    def score_answer(
        self,
        student: str,
        question: str,
        version: int,
        score: float | None = None,
        comment: str | None = None,
        items: list[int] | None = None,
        adjustment: float | None = None,
        by: str = "",
    ) -> AnswerScore:
        """Save one answer's score: its items (default: as they are), and either its `score` (the adjustment is
        what makes it so) or its `adjustment` (the score follows). Stale when `version` is not the stored one."""
        maximum = self._points(question)
        self._begin()
        try:
            current = self._answer(student, question)
            _not_newer(version, current.version)
            if current.version != version:
                raise Stale(
                    f"the answer of {student} to {question} was saved by {current.by or 'someone else'} since "
                    f"version {version} (now version {current.version}); nothing was saved",
                    {"score": current.score, "comment": current.comment, "version": current.version},
                )
            items = sorted(set(current.items if items is None else items))
            from_items = self._item_points(question, items)
            if score is not None:
                if not 0 <= score <= maximum:
                    raise Invalid(f"{question} is worth 0 to {maximum:g} points, not {score:g}")
                score = exact(score)  # on the grain of points, as every sum of them is
                adjustment = exact(score - from_items)
            else:
                adjustment = exact(current.adjustment if adjustment is None else adjustment)
                if not -maximum <= adjustment <= maximum:
                    raise Invalid(
                        f"an adjustment of {question} is between {-maximum:g} and {maximum:g}, not {adjustment:g}"
                    )
                score = exact(min(max(from_items + adjustment, 0.0), maximum))
            comment = current.comment if comment is None else clean(comment)
            by = clean(by)
            saved = AnswerScore(score, comment, tuple(items), adjustment, version + 1, by)
            self.db.execute(
                "INSERT INTO written_scores (student, question, score, comment, imported, adjustment, version, "
                "scored_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (student, question) DO UPDATE SET "
                "score = excluded.score, comment = excluded.comment, imported = excluded.imported, "
                "adjustment = excluded.adjustment, version = excluded.version, scored_by = excluded.scored_by",
                (student, question, score, comment, time.time(), adjustment, saved.version, by),
            )
            self.db.execute("DELETE FROM written_applied WHERE student = ? AND question = ?", (student, question))
            self.db.executemany("INSERT INTO written_applied VALUES (?, ?, ?)", [(student, question, i) for i in items])
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return saved

    def hold_to_points(self) -> list[tuple[str, str, float, float]]:
        """Every written score above its question's points under the rubric (after a change that lowered them)
        set to those points, the adjustment following and the version moving on; what was changed, as
        (student, question, before, after), for the run to say."""
        changed = []
        self._begin()
        try:
            for question, points in self.rubric.written.items():
                for student, score, adjustment in self.db.execute(
                    "SELECT student, score, adjustment FROM written_scores WHERE question = ? AND score > ? "
                    "ORDER BY student",
                    (question, points),
                ).fetchall():
                    held = exact(points)
                    self.db.execute(
                        "UPDATE written_scores SET score = ?, adjustment = ?, version = version + 1, scored_by = ? "
                        "WHERE student = ? AND question = ?",
                        (held, exact(adjustment - (score - held)), "the rubric's new points", student, question),
                    )
                    changed.append((student, question, score, held))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return changed

    # ---- a question's rubric items -------------------------------------------------------------------------

    def items(self, question: str) -> list[WrittenItem]:
        self._points(question)
        return [
            WrittenItem(*row)
            for row in self.db.execute(
                "SELECT id, question, points, comment, version FROM written_items WHERE question = ? ORDER BY id",
                (question,),
            )
        ]

    def add_item(self, question: str, points: float, comment: str) -> WrittenItem:
        maximum = self._points(question)
        if not -maximum <= points <= maximum:
            raise Invalid(f"an item of {question} gives between {-maximum:g} and {maximum:g} points, not {points:g}")
        comment = clean(comment)
        cursor = self.db.execute(
            "INSERT INTO written_items (question, points, comment) VALUES (?, ?, ?)", (question, points, comment)
        )
        return WrittenItem(int(cursor.lastrowid), question, points, comment, 1)

    def change_item(self, question: str, item_id: int, version: int, points: float, comment: str) -> WrittenItem:
        """New points or comment for an item; every answer it is applied to is scored again (and versioned)."""
        maximum = self._points(question)
        if not -maximum <= points <= maximum:
            raise Invalid(f"an item of {question} gives between {-maximum:g} and {maximum:g} points, not {points:g}")
        self._begin()
        try:
            row = self.db.execute(
                "SELECT version FROM written_items WHERE id = ? AND question = ?", (item_id, question)
            ).fetchone()
            if row is None:
                raise Invalid(f"no rubric item {item_id} for {question}")
            _not_newer(version, row[0])
            if row[0] != version:
                current = next(i for i in self.items(question) if i.id == item_id)
                raise Stale(
                    f"rubric item {item_id} of {question} was changed since version {version}; nothing was saved",
                    {"points": current.points, "comment": current.comment, "version": current.version},
                )
            comment = clean(comment)
            self.db.execute(
                "UPDATE written_items SET points = ?, comment = ?, version = version + 1 WHERE id = ?",
                (points, comment, item_id),
            )
            for (student,) in self.db.execute(
                "SELECT student FROM written_applied WHERE item_id = ?", (item_id,)
            ).fetchall():
                answer = self._answer(student, question)
                score = exact(
                    min(max(self._item_points(question, list(answer.items)) + answer.adjustment, 0.0), maximum)
                )
                self.db.execute(
                    "UPDATE written_scores SET score = ?, version = version + 1 WHERE student = ? AND question = ?",
                    (score, student, question),
                )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return WrittenItem(item_id, question, points, comment, version + 1)

    # ---- adjustments of automatic items ---------------------------------------------------------------------

    def adjustments(self, student: str | None = None) -> dict[str, dict[str, Adjustment]]:
        """Each student's adjustments, by item (those set back to 0 too)."""
        found: dict[str, dict[str, Adjustment]] = {}
        query = "SELECT student, item, points, reason, made_by, made, version FROM adjustments"
        rows = self.db.execute(query + " WHERE student = ?", (student,)) if student else self.db.execute(query)
        for who, item, points, reason, by, made, version in rows:
            found.setdefault(who, {})[item] = Adjustment(points, reason, by, made, version)
        return found

    def adjust(self, student: str, item: str, version: int, points: float, reason: str, by: str) -> Adjustment:
        """Set a student's adjustment of `item` (points 0 removes it); Stale when `version` is not the stored one
        (0 when there is none)."""
        if item != LATE and item not in self.rubric.items:
            raise Invalid(f"no automatic item {item!r}; they are {', '.join([*self.rubric.items, LATE])}")
        bound = self.rubric.automatic_total if item == LATE else self.rubric.items[item].points
        if not -bound <= points <= bound:
            raise Invalid(f"an adjustment of {item} is between {-bound:g} and {bound:g} points, not {points:g}")
        points = exact(points)
        if points and not reason.strip():
            raise Invalid("say why (a regrade request upheld, a late penalty waived, ...)")
        if points and not by.strip():
            raise Invalid("say who makes the adjustment")
        self._begin()
        try:
            current = self.adjustments(student).get(student, {}).get(item)
            stored = current.version if current else 0
            _not_newer(version, stored)
            if stored != version:
                raise Stale(
                    f"{student}'s adjustment of {item} was changed by {current.by if current else 'someone'} since "
                    f"version {version}; nothing was saved",
                    {"points": current.points, "reason": current.reason, "version": stored} if current else {},
                )
            saved = Adjustment(points, clean(reason.strip()), clean(by.strip()), time.time(), version + 1)
            # an adjustment set to 0 stays as a row (its version with it): the views leave it out
            self.db.execute(
                "INSERT OR REPLACE INTO adjustments VALUES (?, ?, ?, ?, ?, ?, ?)",
                (student, item, points, saved.reason, saved.by, saved.made, saved.version),
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return saved
