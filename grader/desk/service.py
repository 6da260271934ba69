"""The TA desk's decisions and what it shows, as plain calls over the class store: the web app (`app.py`) only
turns requests into these calls and their answers into JSON, so each can be called, and tested, without HTTP.

Every call takes the parsed body of a request (a dict) where it changes something, checks it (`Invalid` for a
value out of range or about something unknown; `Stale` from the decisions for a save based on a replaced
version) and returns what the API answers, as JSON-able data.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.assignment import current_assignment
from grader.decisions import Invalid
from grader.desk.answers import safe_html
from grader.desk.pages import PageWriter
from grader.judge.written import extract_written_answers, question_texts
from grader.points import exact
from grader.result import LATE
from grader.store import ClassStore
from grader.written_answers import WRITTEN_ANONYMISED


@dataclass
class Desk:
    """What the app serves: a class store opened without its lock, and the token every request must show."""

    store: ClassStore
    folder: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lock: threading.Lock = field(default_factory=threading.Lock)  # one decision at a time over one connection

    def __post_init__(self) -> None:
        self.pages = PageWriter(self.folder)
        template = nbformat.read(current_assignment().notebook, as_version=4)
        self.questions = question_texts(template)
        self.models = extract_written_answers(
            nbformat.read(current_assignment().solved_notebook, as_version=4), template
        )

    def shown_as(self, graded: list[str]) -> dict[str, str]:
        """How each graded student is shown: their id, or their stable pseudonym when the class is anonymised."""
        if self.store.setting(WRITTEN_ANONYMISED) == "yes":
            return self.store.pseudonyms(graded)
        return {student: student for student in graded}

    def student_of(self, shown: str) -> str:
        """The graded student shown as `shown` (read from the store's ids alone: a save must not read the class)."""
        found = {name: student for student, name in self.shown_as(sorted(self.store.current_ids())).items()}
        if shown not in found:
            raise Invalid(f"no graded student {shown!r}")
        return found[shown]

    def render_views(self, *students: str) -> None:
        """The files of the students a decision touched, and the class's gradebook and report: written off the
        request, soon after it is answered (`pages.settle()` waits for them)."""
        self.pages.mark(list(students))

    # ---- what the API answers ----------------------------------------------------------------------------

    def question_list(self) -> list[dict]:
        rows = self.store.students()
        graded = [row for row in rows if row.result is not None]
        return [
            {
                "question": question,
                "points": points,
                "scored": sum(question in row.result.written_scores for row in graded),
                "answers": len(graded),
                "text_html": safe_html(self.questions.get(question, "")),
                "model_html": safe_html(self.models.get(question, "")),
            }
            for question, points in self.store.rubric.written.items()
        ]

    def answers(self, question: str) -> list[dict]:
        store = self.store
        if question not in store.rubric.written:
            raise Invalid(f"no written question {question!r}")
        rows = store.students()
        shown = self.shown_as([row.identity.student for row in rows if row.result is not None])
        scores = store.decisions.answer_scores(question)
        anonymised = any(name != student for student, name in shown.items())
        linked = store.linked()
        listed = []
        for row in sorted((r for r in rows if r.result is not None), key=lambda r: shown[r.identity.student]):
            student = row.identity.student
            scored = scores.get(student)
            answer = row.result.written.get(question, "")
            listed.append(
                {
                    "student": shown[student],
                    "name": "" if anonymised else row.identity.name,
                    "answer": answer,
                    "answer_html": safe_html(answer),
                    "score": None if scored is None else scored.score,
                    "comment": "" if scored is None else scored.comment,
                    "items": [] if scored is None else list(scored.items),
                    "adjustment": 0.0 if scored is None else scored.adjustment,
                    "by": "" if scored is None else scored.by,
                    "version": 0 if scored is None else scored.version,
                    "linked": [shown[other] for other in linked.get(student, []) if other in shown],
                }
            )
        return listed

    def save_score(self, question: str, shown: str, body: dict) -> dict:
        store = self.store
        student = self.student_of(shown)
        items = body.get("items")
        if items is not None and not (isinstance(items, list) and all(type(i) is int for i in items)):
            raise Invalid("items must be a list of rubric item ids")
        if body.get("score") is None and items is None and body.get("adjustment") is None:
            raise Invalid("give a score (or rubric items)")
        by = text_field(body, "by") or ""
        saved = store.decisions.score_answer(
            student,
            question,
            version_field(body),
            score=number_field(body, "score", required=False),
            comment=text_field(body, "comment"),
            items=items,
            adjustment=number_field(body, "adjustment", required=False),
            by=by,
        )
        # the same file handed in by a group's members: one answer, one score, unless a TA unlinked them
        together = store.linked().get(student, [])
        for other in together:
            current = store.decisions.answer_scores(question).get(other)
            store.decisions.score_answer(
                other,
                question,
                current.version if current else 0,
                score=saved.score,
                comment=saved.comment,
                items=list(saved.items),
                by=by,
            )
        self.render_views(student, *together)
        names = self.shown_as(together)
        return {
            "score": saved.score,
            "comment": saved.comment,
            "items": list(saved.items),
            "adjustment": saved.adjustment,
            "version": saved.version,
            "linked": [names.get(other, other) for other in together],
        }

    def set_linked(self, shown: str, body: dict) -> dict:
        student = self.student_of(shown)
        linked = body.get("linked")
        if not isinstance(linked, bool):
            raise Invalid("linked must be true or false")
        self.store.set_linked(student, linked, text_field(body, "by") or "")
        return {"student": shown, "linked": linked}

    def items(self, question: str) -> list[dict]:
        decisions = self.store.decisions
        uses: dict[int, int] = {}
        for scored in decisions.answer_scores(question).values():
            for item_id in scored.items:
                uses[item_id] = uses.get(item_id, 0) + 1
        return [
            {"id": i.id, "points": i.points, "comment": i.comment, "version": i.version, "uses": uses.get(i.id, 0)}
            for i in decisions.items(question)
        ]

    def add_item(self, question: str, body: dict) -> dict:
        item = self.store.decisions.add_item(question, number_field(body, "points"), text_field(body, "comment") or "")
        return {"id": item.id, "points": item.points, "comment": item.comment, "version": 1}

    def change_item(self, question: str, item_id: int, body: dict) -> dict:
        decisions = self.store.decisions
        item = decisions.change_item(
            question, item_id, version_field(body), number_field(body, "points"), text_field(body, "comment") or ""
        )
        scored = decisions.answer_scores(question)
        self.render_views(*(s for s, answer in scored.items() if item_id in answer.items))  # scored again
        return {"id": item.id, "points": item.points, "comment": item.comment, "version": item.version}

    def student_list(self) -> list[dict]:
        store = self.store
        listed = []
        for row in store.students():
            if row.result is None:
                continue
            result = row.result
            adjusted = store.decisions.adjustments(row.identity.student).get(row.identity.student, {})
            adjustment = _adjustments_shown(adjusted)
            listed.append(
                {
                    "student": row.identity.student,
                    "name": row.identity.name,
                    "items": [
                        {
                            "item": item,
                            "points": spec.points,
                            "earned": exact(sum(t.score for t in result.tests if t.item == item)),
                            "score": result.item_score(item),
                            "adjustment": adjustment(item),
                        }
                        for item, spec in store.rubric.items.items()
                    ],
                    "late_penalty": result.late_penalty,
                    "late": adjustment(LATE),
                    "total": result.total,
                }
            )
        return listed

    def adjust(self, student: str, item: str, body: dict) -> dict:
        if student not in self.store.current_ids():
            raise Invalid(f"no graded student {student!r}")
        saved = self.store.decisions.adjust(
            student,
            item,
            version_field(body),
            number_field(body, "points"),
            text_field(body, "reason") or "",
            text_field(body, "by") or "",
        )
        self.render_views(student)
        return {"points": saved.points, "reason": saved.reason, "by": saved.by, "version": saved.version}


def body_of(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    return body


def number_field(body: dict, key: str, required: bool = True) -> float | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(f"{key} must be a number")
    return float(value)


# what a person's words may be at most, by field: a comment or reason is a paragraph or two, not a file
TEXT_LIMITS = {"comment": 5_000, "reason": 2_000, "by": 100}
MAX_BODY_BYTES = 64 * 1024  # a request's body: far more than any decision needs
PAGES_WAIT_SECONDS = 60  # GET /api/pages waits at most this long for the files to be written


def text_field(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{key} must be text")
    if value is not None and len(value) > TEXT_LIMITS[key]:
        raise Invalid(f"{key} is {len(value):,} characters; at most {TEXT_LIMITS[key]:,}")
    return value


def version_field(body: dict) -> int:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise Invalid("version must be the version the change is based on (0 for a first score)")
    return version


def _adjustments_shown(adjusted: dict) -> Callable[[str], dict]:
    """The adjustment of an item as the page shows it (version 0 when there is none)."""

    def shown(item: str) -> dict:
        found = adjusted.get(item)
        if found is None:
            return {"points": 0.0, "reason": "", "by": "", "version": 0}
        return {"points": found.points, "reason": found.reason, "by": found.by, "version": found.version}

    return shown
