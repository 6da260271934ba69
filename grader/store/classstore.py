"""The class store: every grading of a class in one SQLite file, `DIR/grades.sqlite`; the one writer of results.

Each run, each grading (a student's submission, its content hash, the
grader's, rubric's and hidden cases' versions, every test) and the roster are
kept; a student's current result is their latest grading, and their history
stays. The TAs' scores of written answers are kept apart from the gradings, so
a regrade of the automatic part keeps them. Every file in DIR is a view of what this store holds. Only the process
that ran the command writes here: workers return plain results to it.

A run holds an exclusive lock on `DIR/grades.lock` (released by the system
however the process ends), so a second run on the same folder is refused.
Each grading is committed in one transaction, so a run killed halfway leaves
every finished grading stored and nothing half-written.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.decisions import Decisions
from grader.intake import HandedIn, Identity, Submission
from grader.intake.extensions import Extension
from grader.intake.roster import RosterEntry
from grader.judge.evidence import Evidence
from grader.points import exact
from grader.result import Problem, SubmissionResult, SubmissionStatus, WrittenScore
from grader.rubric import Rubric, load_rubric, rubric_as_json, rubric_from_json
from grader.shared.verdicts import TestResult, Trouble
from grader.store.schema import CURRENT_GRADINGS, LOCK_FILE, STORE_FILE, StoreBusy, StoreMissing, migrate
from grader.store.versions import Versions
from grader.student_text import clean


@dataclass(frozen=True)
class Grading:
    """One stored grading of a student, as `history` lists it."""

    grading_id: int
    run_id: int
    started: float  # when its run started (seconds since the epoch)
    status: str
    score: float
    max_score: float
    content: str  # the notebook's hash ("none" without one)
    versions: Versions
    reused_from: int | None  # the grading whose result it took, unchanged
    handed_in: HandedIn | None
    source: str


@dataclass(frozen=True)
class StudentRow:
    """A student of the class as the views show them: identity, roster details, and the current result if any."""

    identity: Identity
    roster: RosterEntry | None
    result: SubmissionResult | None


def _problems_as_json(problems: list[Problem]) -> str:
    return json.dumps([[problem.text, str(problem.trouble)] for problem in problems])


def _problems_from_json(text: str) -> list[Problem]:
    """The stored problems; a store of older days kept them as sentences only."""
    return [
        Problem(entry) if isinstance(entry, str) else Problem(entry[0], Trouble(entry[1])) for entry in json.loads(text)
    ]


# a grading's columns that its result gives (a reused grading's are copied), and a test's, in the order written
RESULT_COLUMNS = ("status", "execution_time", "problems", "written", "plots", "isolation", "code", "wrong_outputs")
TEST_COLUMNS = ("position", "name", "score", "max_score", "output", "item", "called", "problem", "mistake", "trouble")


def _handed_columns(
    run_id: int, submission: Submission, content: str, versions: Versions, reused_from: int | None
) -> dict[str, object]:
    """A grading's columns that this submission and run give: who handed it in, when, what, under which versions."""
    identity = submission.identity
    return {
        "run_id": run_id,
        "student": identity.student,
        "name": identity.name,
        "email": identity.email,
        "source": identity.source,
        "late": int(identity.late),
        "content_hash": content,
        "grader_version": versions.grader,
        "rubric_hash": versions.rubric,
        "cases_hash": versions.cases,
        "note": clean(submission.note),
        "reused_from": reused_from,
        "handed_in": json.dumps(submission.handed_in.as_json()) if submission.handed_in else "",
    }


class ClassStore:
    def __init__(self, connection: sqlite3.Connection, rubric: Rubric, follows_class_rubric: bool = False) -> None:
        self.db = connection
        self._rubric = rubric
        # a store opened beside others (the desk) reads the class's rubric again whenever it has been changed
        # since (`--change-rubric` while the desk stays open): nothing is ever judged or written under an old one
        self.follows_class_rubric = follows_class_rubric
        self._rubric_changed: float | None = None

    @property
    def rubric(self) -> Rubric:
        if self.follows_class_rubric:
            row = self.db.execute("SELECT changed FROM class_rubric WHERE id = 1").fetchone()
            if row is not None and row[0] != self._rubric_changed:
                self._rubric_changed = row[0]
                self._rubric = self.class_rubric() or self._rubric
        return self._rubric

    @rubric.setter
    def rubric(self, rubric: Rubric) -> None:
        self._rubric = rubric

    @classmethod
    @contextmanager
    def open(cls, folder: Path, rubric: Rubric | None = None) -> Iterator[ClassStore]:
        """The class's store, locked for this process until the block ends; StoreBusy when another run has it.

        Results are read under `rubric`; without one, under the class's own (the default rubric for a class
        that has none yet).
        """
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise StoreBusy(f"{folder} is being graded by {holder}; wait for it to finish") from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"process {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            lock.flush()
            connection = sqlite3.connect(folder / STORE_FILE, isolation_level=None)
            try:
                connection.execute("PRAGMA foreign_keys = ON")
                migrate(connection)
                store = cls(connection, rubric or load_rubric())
                if rubric is None and (own := store.class_rubric()) is not None:
                    store.rubric = own
                yield store
            finally:
                connection.close()

    @classmethod
    @contextmanager
    def shared(cls, folder: Path) -> Iterator[ClassStore]:
        """The class's store without its lock, for people's decisions (the TA desk) beside a grading run: short
        transactions only, each waiting its turn; always under the class's rubric as it is now."""
        if not (folder / STORE_FILE).is_file():
            raise StoreMissing(f"{folder} holds no {STORE_FILE}: grade into it first")
        connection = sqlite3.connect(folder / STORE_FILE, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            migrate(connection)
            yield cls(connection, load_rubric(), follows_class_rubric=True)
        finally:
            connection.close()

    @property
    def decisions(self) -> Decisions:
        """People's decisions on the class: written scores with rubric items, adjustments of automatic items."""
        return Decisions(self.db, self.rubric)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- runs ---------------------------------------------------------------------------------------------

    def begin_run(self, versions: Versions) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started, grader_version, rubric_hash, cases_hash) VALUES (?, ?, ?, ?)",
                (time.time(), versions.grader, versions.rubric, versions.cases),
            )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))

    # ---- gradings -----------------------------------------------------------------------------------------

    def current_content(self, student: str) -> str | None:
        """The content hash of the file the student's current grading was made from; None before any."""
        row = self.db.execute(
            "SELECT content_hash FROM gradings WHERE student = ? ORDER BY id DESC LIMIT 1", (student,)
        ).fetchone()
        return None if row is None else row[0]

    def cached(self, content: str, versions: Versions) -> int | None:
        """A stored grading of the same notebook by the same grader, rubric and cases (never a grader error)."""
        row = self.db.execute(
            "SELECT id FROM gradings WHERE content_hash = ? AND grader_version = ? AND rubric_hash = ? "
            "AND cases_hash = ? AND status != ? ORDER BY id DESC LIMIT 1",
            (content, versions.grader, versions.rubric, versions.cases, SubmissionStatus.GRADER_ERROR),
        ).fetchone()
        return None if row is None else int(row[0])

    def record(
        self,
        run_id: int,
        submission: Submission,
        content: str,
        versions: Versions,
        result: SubmissionResult,
        reused_from: int | None = None,
    ) -> int:
        """Store one grading of `submission` and its tests in one transaction; returns its id."""
        result = result.cleaned()
        columns = _handed_columns(run_id, submission, content, versions, reused_from) | {
            "status": str(result.status),
            "execution_time": result.execution_time,
            "problems": _problems_as_json(result.problems),
            "written": json.dumps(result.written),
            "plots": json.dumps(result.plots),
            "isolation": result.isolation,
            "code": json.dumps(result.code),
            "wrong_outputs": json.dumps(result.wrong_outputs),
        }
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT INTO gradings ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                tuple(columns.values()),
            )
            grading_id = int(cursor.lastrowid)
            db.executemany(
                f"INSERT INTO tests (grading_id, {', '.join(TEST_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' * len(TEST_COLUMNS))})",
                [
                    (grading_id, i, t.name, t.score, t.max_score, t.output, t.item, t.called, t.problem, t.mistake)
                    + (str(t.trouble),)
                    for i, t in enumerate(result.tests)
                ],
            )
            if result.evidence is not None:
                db.execute("INSERT INTO evidence VALUES (?, ?)", (grading_id, result.evidence.to_bytes()))
        return grading_id

    def current_handin(self, student: str) -> tuple[str, HandedIn | None] | None:
        """The content hash of the student's current grading and the export's evidence of when it was handed in."""
        row = self.db.execute(
            "SELECT content_hash, handed_in FROM gradings WHERE student = ? ORDER BY id DESC LIMIT 1", (student,)
        ).fetchone()
        if row is None:
            return None
        return row[0], HandedIn.from_json(json.loads(row[1]) if row[1] else None)

    def reuse(self, run_id: int, submission: Submission, content: str, versions: Versions, grading_id: int) -> int:
        """Record an unchanged submission as graded again, with the stored grading's result: copied within the
        store as it was written (never decoded and encoded again: an unchanged class is mostly this), under this
        submission's identity, note and time of hand-in."""
        handed = _handed_columns(run_id, submission, content, versions, grading_id)
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT INTO gradings ({', '.join([*handed, *RESULT_COLUMNS])}) "
                f"SELECT {', '.join('?' * len(handed))}, {', '.join(RESULT_COLUMNS)} FROM gradings WHERE id = ?",
                (*handed.values(), grading_id),
            )
            copied = int(cursor.lastrowid)
            tests = ", ".join(TEST_COLUMNS)
            db.execute(
                f"INSERT INTO tests (grading_id, {tests}) SELECT ?, {tests} FROM tests WHERE grading_id = ?",
                (copied, grading_id),
            )
            db.execute("INSERT INTO evidence SELECT ?, data FROM evidence WHERE grading_id = ?", (copied, grading_id))
        return copied

    def evidence(self, grading_id: int) -> Evidence | None:
        """What the grading's tests were scored from; None for a grading stored before evidence was kept."""
        row = self.db.execute("SELECT data FROM evidence WHERE grading_id = ?", (grading_id,)).fetchone()
        return None if row is None else Evidence.from_bytes(row[0])

    def without_evidence(self) -> list[str]:
        """The students whose current grading was stored before evidence was kept (rescoring them needs kernels)."""
        rows = self.db.execute(
            "SELECT g.student FROM gradings g LEFT JOIN evidence e ON e.grading_id = g.id "
            f"WHERE g.id IN ({CURRENT_GRADINGS}) AND e.grading_id IS NULL ORDER BY 1"
        )
        return [row[0] for row in rows]

    def result_of(self, grading_id: int, plots: bool = True) -> SubmissionResult:
        """A stored grading as a result; without `plots` (what the pages draw: most of its bytes) for the views
        that draw none."""
        (
            student,
            name,
            email,
            source,
            late,
            status,
            seconds,
            problems,
            written,
            note,
            drawn,
            isolation,
            handed_in,
            code,
            wrong,
        ) = self.db.execute(
            "SELECT student, name, email, source, late, status, execution_time, problems, written, note, "
            f"{'plots' if plots else 'NULL'}, isolation, handed_in, code, wrong_outputs "
            "FROM gradings WHERE id = ?",
            (grading_id,),
        ).fetchone()
        tests = [
            TestResult(item, name, score, max_score, called, problem, mistake, Trouble(trouble))
            for item, name, score, max_score, called, problem, mistake, trouble in self.db.execute(
                "SELECT item, name, score, max_score, called, problem, mistake, trouble FROM tests "
                "WHERE grading_id = ? ORDER BY position",
                (grading_id,),
            )
        ]
        return SubmissionResult(
            Identity(student, name, email, source, bool(late)),
            self.rubric,
            tests=tests,
            written=json.loads(written),
            status=SubmissionStatus(status),
            problems=_problems_from_json(problems),
            execution_time=seconds,
            note=note,
            plots=json.loads(drawn) if drawn else {},
            isolation=isolation,
            handed_in=HandedIn.from_json(json.loads(handed_in) if handed_in else None),
            code=json.loads(code),
            wrong_outputs=json.loads(wrong),
        )

    def current_ids(self) -> dict[str, int]:
        """Each graded student's current (latest) grading id."""
        return dict(self.db.execute(f"SELECT student, id FROM gradings WHERE id IN ({CURRENT_GRADINGS})"))

    def rescored(self, run_id: int, grading_id: int, versions: Versions, result: SubmissionResult) -> int:
        """Record `result`, the grading `grading_id` scored again under another rubric, as the student's current."""
        (student, name, email, source, late, content, note, handed_in) = self.db.execute(
            "SELECT student, name, email, source, late, content_hash, note, handed_in FROM gradings WHERE id = ?",
            (grading_id,),
        ).fetchone()
        submission = Submission(
            Identity(student, name, email, source, bool(late)),
            None,
            note,
            HandedIn.from_json(json.loads(handed_in) if handed_in else None),
        )
        return self.record(run_id, submission, content, versions, result, reused_from=grading_id)

    # ---- the class's rubric: every current grading was made under it --------------------------------------

    def class_rubric(self) -> Rubric | None:
        row = self.db.execute("SELECT rubric FROM class_rubric WHERE id = 1").fetchone()
        return None if row is None else rubric_from_json(row[0])

    def set_class_rubric(self, rubric: Rubric) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO class_rubric VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET rubric = excluded.rubric, "
                "changed = excluded.changed",
                (rubric_as_json(rubric), time.time()),
            )

    def setting(self, key: str) -> str | None:
        """A choice made for the class's views (e.g. whether the TAs' pages are anonymised), or None."""
        row = self.db.execute("SELECT value FROM class_settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_setting(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO class_settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def current(self, student: str, plots: bool = True) -> SubmissionResult | None:
        """The student's latest grading, with the TAs' scores of their written answers (`plots`: as result_of)."""
        row = self.db.execute("SELECT MAX(id) FROM gradings WHERE student = ?", (student,)).fetchone()
        if row[0] is None:
            return None
        result = self.result_of(int(row[0]), plots)
        result.written_scores = self.written_scores(student)
        result.extension = self.extension(student)
        adjusted = self.decisions.adjustments(student).get(student, {})
        result.adjustments = {item: a for item, a in adjusted.items() if a.points}
        listed = self.db.execute("SELECT name, email FROM roster WHERE student = ?", (student,)).fetchone()
        if listed is not None:  # the roster's name over the export's (Canvas's is a slug of it)
            result.identity = dataclasses.replace(
                result.identity, name=listed[0] or result.identity.name, email=listed[1] or result.identity.email
            )
        return result

    def remove_student(self, student: str, reason: str, into: str = "") -> None:
        """Take a graded student out of the class (a stray file graded under a name of its own): out of the
        gradebook, the exports, the desk and the signals; every grading stays in the store, and the history says
        when and why. `into`: the student their grading was merged into."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO removals VALUES (?, (SELECT MAX(id) FROM gradings WHERE student = ?), ?, ?, ?) "
                "ON CONFLICT (student) DO UPDATE SET through_grading = excluded.through_grading, "
                "merged_into = excluded.merged_into, reason = excluded.reason, made = excluded.made",
                (student, student, into, clean(reason), time.time()),
            )

    def merge_student(self, student: str, into: str, reason: str, versions: Versions) -> None:
        """`student`'s current grading becomes `into`'s (as a grading of `into`'s, reused from it), with the
        written scores and adjustments `into` has none of; then `student` is removed, merged into `into`."""
        grading = self.current_ids()[student]
        target = self.current(into)
        identity = target.identity if target else Identity(into)
        (content,) = self.db.execute("SELECT content_hash FROM gradings WHERE id = ?", (grading,)).fetchone()
        run_id = self.begin_run(versions)
        self.reuse(run_id, Submission(identity, None), content, versions, grading)
        with self._transaction() as db:
            for table, key in (
                ("written_applied", "question"),
                ("written_scores", "question"),
                ("adjustments", "item"),
            ):
                db.execute(
                    f"UPDATE {table} SET student = ? WHERE student = ? AND {key} NOT IN "
                    f"(SELECT {key} FROM {table} WHERE student = ?)",
                    (into, student, into),
                )
        self.finish_run(run_id)
        self.remove_student(student, reason, into)

    def written_times(self, student: str) -> dict[str, float]:
        """When each of the student's written scores was last set (seconds since the epoch), by question."""
        return dict(self.db.execute("SELECT question, imported FROM written_scores WHERE student = ?", (student,)))

    def rubric_changed(self) -> float | None:
        """When the class was last put under its current rubric (seconds since the epoch)."""
        row = self.db.execute("SELECT changed FROM class_rubric WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def linked(self) -> dict[str, list[str]]:
        """The students whose current gradings are of one and the same file (a group's members, as Canvas gives each
        the group's file), each with the others: their written answers are scored together at the desk, unless a
        TA unlinked one of them."""
        groups: dict[str, list[str]] = {}
        for student, content in self.db.execute(
            f"SELECT student, content_hash FROM gradings WHERE id IN ({CURRENT_GRADINGS}) AND content_hash != 'none' "
            "AND student NOT IN (SELECT student FROM unlinked) ORDER BY student"
        ):
            groups.setdefault(content, []).append(student)
        return {s: [o for o in group if o != s] for group in groups.values() if len(group) > 1 for s in group}

    def set_linked(self, student: str, linked: bool, by: str) -> None:
        """Link a student with those who handed in the same file again, or unlink them (scored on their own)."""
        with self._transaction() as db:
            if linked:
                db.execute("DELETE FROM unlinked WHERE student = ?", (student,))
            else:
                db.execute(
                    "INSERT INTO unlinked VALUES (?, ?, ?) ON CONFLICT (student) DO NOTHING",
                    (student, time.time(), clean(by)),
                )

    def removal(self, student: str) -> tuple[str, str, float] | None:
        """(reason, merged into or "", when) of the student's removal from the class, if they were removed."""
        row = self.db.execute("SELECT reason, merged_into, made FROM removals WHERE student = ?", (student,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def history(self, student: str) -> list[Grading]:
        """Every grading of the student, oldest first."""
        rows = self.db.execute(
            "SELECT g.id, g.run_id, r.started, g.status, COALESCE(SUM(t.score), 0), COALESCE(SUM(t.max_score), 0), "
            "g.content_hash, g.grader_version, g.rubric_hash, g.cases_hash, g.reused_from, g.handed_in, g.source "
            "FROM gradings g JOIN runs r ON r.id = g.run_id LEFT JOIN tests t ON t.grading_id = g.id "
            "WHERE g.student = ? GROUP BY g.id ORDER BY g.id",
            (student,),
        )
        return [
            Grading(
                grading_id=row[0],
                run_id=row[1],
                started=row[2],
                status=row[3],
                score=round(row[4], 4),
                max_score=round(row[5], 4),
                content=row[6],
                versions=Versions(*row[7:10]),
                reused_from=row[10],
                handed_in=HandedIn.from_json(json.loads(row[11]) if row[11] else None),
                source=row[12],
            )
            for row in rows
        ]

    # ---- written answers: the TAs' scores and the pseudonyms of anonymised pages ----------------------------

    def written_scores(self, student: str) -> dict[str, WrittenScore]:
        rows = self.db.execute(
            "SELECT question, score, comment, version, scored_by FROM written_scores WHERE student = ? "
            "ORDER BY question",
            (student,),
        )
        return {question: WrittenScore(*scored) for question, *scored in rows}

    def set_written_scores(self, scores: list[tuple[str, str, float, str]], by: str = "the sheet") -> None:
        """Record (student, question, score, comment) rows in one transaction, replacing earlier scores. The rubric
        items applied at the desk stay; the adjustment becomes what makes the score, and each version moves on
        (a TA's page opened before then cannot save over it)."""
        with self._transaction() as db:
            for student, question, given, comment in scores:
                score = exact(given)  # on the grain of points, as every sum of them is
                from_items = db.execute(
                    "SELECT COALESCE(SUM(i.points), 0) FROM written_applied a JOIN written_items i ON i.id = a.item_id "
                    "WHERE a.student = ? AND a.question = ?",
                    (student, question),
                ).fetchone()[0]
                db.execute(
                    "INSERT INTO written_scores (student, question, score, comment, imported, adjustment, version, "
                    "scored_by) VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (student, question) DO UPDATE SET "
                    "score = excluded.score, comment = excluded.comment, imported = excluded.imported, "
                    "adjustment = excluded.adjustment, version = version + 1, scored_by = excluded.scored_by",
                    (student, question, score, comment, time.time(), exact(score - from_items), by),
                )

    def pseudonyms(self, students: list[str]) -> dict[str, str]:
        """A stable pseudonym for each student (made the first time it is asked for), for anonymised pages."""
        with self._transaction() as db:
            known = dict(db.execute("SELECT student, pseudonym FROM pseudonyms"))
            for student in students:
                while student not in known:
                    candidate = f"anon-{secrets.token_hex(3)}"
                    if candidate not in known.values():
                        known[student] = candidate
                        db.execute("INSERT INTO pseudonyms VALUES (?, ?)", (student, candidate))
        return {student: known[student] for student in students}

    # ---- the roster and the class -------------------------------------------------------------------------

    def set_extensions(self, extensions: list[Extension]) -> None:
        """Replace the students' extensions with `extensions`."""
        with self._transaction() as db:
            db.execute("DELETE FROM extensions")
            db.executemany(
                "INSERT INTO extensions VALUES (?, ?, ?, ?)",
                [(e.student, e.due.isoformat() if e.due else "", e.days, e.reason) for e in extensions],
            )

    def extension(self, student: str) -> Extension | None:
        row = self.db.execute("SELECT due, days, reason FROM extensions WHERE student = ?", (student,)).fetchone()
        if row is None:
            return None
        return Extension(student, datetime.fromisoformat(row[0]) if row[0] else None, row[1], row[2])

    def set_roster(self, entries: list[RosterEntry]) -> None:
        """Replace the roster with `entries`."""
        with self._transaction() as db:
            db.execute("DELETE FROM roster")
            db.executemany(
                "INSERT INTO roster VALUES (?, ?, ?, ?, ?, ?)",
                [(e.student, e.name, e.email, e.sis_user_id, e.sis_login_id, e.section) for e in entries],
            )

    def students(self, plots: bool = True) -> list[StudentRow]:
        """Every student graded or on the roster, ordered by id; the roster's name and email come first. Without
        `plots`, their results hold none (for the views of the whole class, which draw no student's work)."""
        roster = {
            row[0]: RosterEntry(*row)
            for row in self.db.execute("SELECT student, name, email, sis_user_id, sis_login_id, section FROM roster")
        }
        graded = [row[0] for row in self.db.execute(f"SELECT student FROM gradings WHERE id IN ({CURRENT_GRADINGS})")]
        rows = []
        for student in sorted(set(graded) | set(roster)):
            result = self.current(student, plots) if student in graded else None
            listed = roster.get(student)
            identity = result.identity if result else Identity(student)
            if listed is not None:
                identity = dataclasses.replace(
                    identity, name=listed.name or identity.name, email=listed.email or identity.email
                )
            rows.append(StudentRow(identity, listed, result))
        return rows
