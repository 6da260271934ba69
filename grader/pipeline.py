"""Grade a class with independent workers: intake -> (grading.py, one submission each) -> store -> views.

Every submission ends with a result in the class store and its files, whatever
it did. An unchanged submission (same notebook, grader, rubric and cases)
takes its stored result without a kernel, unless forced.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from grader.assignment import Assignment, current_assignment, refuse_another
from grader.errors import GraderError
from grader.grading import (
    grade_in_this_process,
    read_submission,
    start_worker,
    zero_result,
    zygotes_ahead,
)
from grader.intake import Submission, collect_submissions
from grader.intake.extensions import Extension
from grader.intake.roster import Roster
from grader.points import points_text
from grader.rescore import needing_kernels, rescore_class
from grader.result import SubmissionResult, SubmissionStatus
from grader.rubric import Rubric, rubric_changes
from grader.run.sandbox import SandboxMode
from grader.store import ASSIGNMENT_SETTING, ClassStore, Versions, content_hash, current_versions
from grader.views.write import write_class_views, write_submission_views

if TYPE_CHECKING:  # Dask is imported only for a cluster
    from distributed import Client

# a submission whose grading worker dies (killed, out of memory) is graded again by a fresh one, this often at most
WORKER_ATTEMPTS = 3
UNGUARDED_SCRIPT = (
    "the grader was called while one of its workers started: each worker imports the script that started the "
    'grading again, so a script must call the grader under `if __name__ == "__main__":`'
)
# a write to the class store that fails is tried this often, this far apart
STORE_ATTEMPTS = 3
STORE_PAUSE_SECONDS = 2


def _with_retries(write: Callable[[], int]) -> int:
    """A store write, tried again after a pause when it fails (a full or busy disk may free up)."""
    attempt = 1
    while True:
        try:
            return write()
        except (sqlite3.Error, OSError) as error:
            if attempt == STORE_ATTEMPTS:
                raise
            print(f"warning: the class store could not be written ({error}); trying again", file=sys.stderr)
            time.sleep(STORE_PAUSE_SECONDS)
            attempt += 1


@dataclass
class ClassRun:
    """What one grading run did: this run's results in the order found, what it reused, what it could not read."""

    results: list[SubmissionResult] = field(default_factory=list)
    reused: int = 0  # students whose own file was unchanged since it was graded: not run again
    identical: int = 0  # students whose file is identical to another's (a group's members): graded once
    errors: list[str] = field(default_factory=list)
    kept_newer: list[str] = field(default_factory=list)  # students whose newer grading an older file would replace
    rescored: list[str] = field(default_factory=list)  # students scored again under a new rubric, without kernels
    held: list[str] = field(
        default_factory=list
    )  # written scores above their new points, held to them ("ana q1d: 6 -> 5")


def _grade_in_marked_worker(marker: Path, submission: Submission, rubric: Rubric, sandbox: SandboxMode):
    """A pool worker's task: `marker` exists while it grades, so that a worker that dies is seen to have died
    on this submission (a broken pool fails every unfinished task alike, started or not)."""
    marker.touch()
    result = grade_in_this_process(submission, rubric, sandbox)
    marker.unlink()
    return result


def _grade_in_workers(
    submissions: list[Submission], rubric: Rubric, jobs: int, sandbox: SandboxMode
) -> Iterator[tuple[Submission, SubmissionResult]]:
    """Each submission's result as soon as a worker has it.

    A worker that dies (killed, out of memory) breaks the pool: a fresh pool grades what was unfinished, and
    a submission whose worker died WORKER_ATTEMPTS times is the grader's failure on it, not the student's.
    """
    # Not fork: a forked child of a process that already ran torch deadlocks in its thread pool. A fork server
    # that has only imported the grader forks each worker, which then starts warm. Not torch: a worker needs it
    # only where the reference cache lacks a number (a student's own first weights), and a fork server holding it
    # costs every worker its pages and the command 3 s of a core while the zygotes import. The workers' zygotes
    # are started first: they import (4-5 s) while the fork server does, not after it.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    deaths: dict[int, int] = {}  # by place in `submissions`
    stillborn = 0  # pools in a row that broke before any worker began a submission
    remaining = list(range(len(submissions)))
    workers = max(1, min(jobs, len(remaining)))
    with (
        tempfile.TemporaryDirectory(prefix="grader-workers-") as markers,
        zygotes_ahead(workers, rubric, sandbox) as zygotes,
    ):
        while remaining:
            unfinished = []
            pool = ProcessPoolExecutor(
                max_workers=max(1, min(jobs, len(remaining))),
                mp_context=context,
                # before a task's rubric is unpickled: its item options are the assignment's
                initializer=start_worker,
                initargs=(current_assignment().root, zygotes),
            )
            try:
                futures = {
                    pool.submit(_grade_in_marked_worker, Path(markers) / str(i), submissions[i], rubric, sandbox): i
                    for i in remaining
                }
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        unfinished.append(index)
                        continue
                    except Exception as error:  # its result could not come back
                        reason = f"The grader's worker could not return this result ({error}); ask the staff."
                        result = zero_result(submissions[index], rubric, SubmissionStatus.GRADER_ERROR, reason)
                    yield submissions[index], result
            finally:
                # on Ctrl-C (or any way out) nothing more is started; what is stored stays, the next run does the rest
                pool.shutdown(wait=True, cancel_futures=True)
            began = [index for index in unfinished if (Path(markers) / str(index)).exists()]
            stillborn = stillborn + 1 if len(unfinished) == len(remaining) and not began else 0
            if stillborn == WORKER_ATTEMPTS:  # workers that die as they start never grade: no fresh pool will
                print(
                    f"error: the grading workers died as they started, {WORKER_ATTEMPTS} times (their own errors are "
                    'above; a script that calls the grader must do so under `if __name__ == "__main__":`)',
                    file=sys.stderr,
                )
                reason = "The grader's workers died as they started, before grading this; ask the staff."
                for index in unfinished:
                    yield (
                        submissions[index],
                        zero_result(submissions[index], rubric, SubmissionStatus.GRADER_ERROR, reason),
                    )
                return
            remaining = []
            for index in unfinished:
                marker = Path(markers) / str(index)
                if marker.exists():
                    marker.unlink()
                    deaths[index] = deaths.get(index, 0) + 1
                if deaths.get(index, 0) < WORKER_ATTEMPTS:
                    remaining.append(index)
                    continue
                reason = f"The grader's worker died each of the {WORKER_ATTEMPTS} times it graded this; ask the staff."
                yield submissions[index], zero_result(submissions[index], rubric, SubmissionStatus.GRADER_ERROR, reason)
            if remaining:
                print(
                    f"warning: a grading worker died; {len(remaining)} unfinished submission(s) go to fresh workers",
                    file=sys.stderr,
                )


class RubricMismatch(GraderError):
    """A run would grade part of a class under another rubric than the rest; the message says what differs."""


def _check_assignment(store: ClassStore, assignment: Assignment) -> None:
    """A class is graded for one assignment, which its store remembers (later commands need not name it again)."""
    kept = store.setting(ASSIGNMENT_SETTING)
    refuse_another(Path(kept) if kept is not None else None, assignment)
    if kept is None:
        store.set_setting(ASSIGNMENT_SETTING, str(assignment.root))


def _check_rubric(store: ClassStore, rubric: Rubric, submissions: list[Submission], change_rubric: bool) -> bool:
    """Whether the class must be rescored under `rubric` first; RubricMismatch when the run would mix rubrics."""
    own = store.class_rubric()
    changes = [c for c in rubric_changes(own, rubric) if c.kind != "resources"] if own else []
    if not changes:
        return False
    listed = "; ".join(str(change) for change in changes[:8]) + (" ..." if len(changes) > 8 else "")
    if not change_rubric:
        raise RubricMismatch(
            f"the class was graded under another rubric ({listed}). Grade with the class's rubric (leave out "
            "--rubric), or move the whole class to this one with --change-rubric"
        )
    kernels = any(c.kind == "grading" for c in changes)
    # only tolerances and an item's options turn a test's verdict (points, the total, written points and the late
    # policy do not), and with it a training's judge may read a handout's loop it did not read before
    verdicts = any(
        c.key.startswith("tolerance.") or (c.key.startswith("items.") and not c.key.endswith(".points"))
        for c in changes
    )
    needed = set(store.current_ids()) if kernels else set(needing_kernels(store, rubric, verdicts))
    absent = sorted(needed - {s.identity.student for s in submissions})
    if absent:
        why = (
            "its changes need every notebook run again"
            if kernels
            else "they were graded before outcomes were kept, or their tests would read a handout's loop their "
            "grading did not run"
        )
        raise RubricMismatch(
            f"--change-rubric: {why} ({listed}), and these students are not in this run: "
            f"{', '.join(absent[:20])}{' ...' if len(absent) > 20 else ''}. Name the whole class's submissions"
        )
    return not kernels


def _newer_grading(store: ClassStore, submission: Submission, content: str) -> str:
    """Why the student's current grading is of a newer file than `submission`'s, or ""."""
    current = store.current_handin(submission.identity.student)
    if current is None or current[0] == content or submission.handed_in is None:
        return ""
    stored = current[1]
    if stored is None or not stored.newer_than(submission.handed_in):
        return ""
    return f"kept the grading of the newer file ({stored.shown}); this one is older ({submission.handed_in.shown})"


@dataclass
class Plan:
    """What a run does with each submission it found, decided before any kernel starts."""

    kept_newer: list[tuple[Submission, str]] = field(default_factory=list)  # older files: the newer grading stays
    reuse: list[tuple[Submission, int]] = field(default_factory=list)  # unchanged: the stored grading to take
    # by content hash: each notebook is graded once, for its first submission, and copied to the others
    # (a group's members, a copied file)
    to_grade: dict[str, list[Submission]] = field(default_factory=dict)


def plan_run(
    store: ClassStore,
    submissions: list[Submission],
    contents: dict[str, str],
    versions: Versions,
    force: bool,
    accept_older: bool,
) -> Plan:
    """Which submissions keep a newer grading, which take a stored grading, and which need grading."""
    plan = Plan()
    for submission in submissions:
        content = contents[submission.identity.student]
        if not accept_older and (newer := _newer_grading(store, submission, content)):
            plan.kept_newer.append((submission, newer))
        elif (stored := None if force else store.cached(content, versions)) is not None:
            plan.reuse.append((submission, stored))
        else:
            plan.to_grade.setdefault(content, []).append(submission)
    return plan


@dataclass
class Recorder:
    """Stores each grading of a run and writes the student's views; what fails there is that student's only.

    A store write that fails is tried again after a pause; one that still fails, or views that cannot be
    written, become the student's grader_error (nothing, when even that cannot be stored, said in `run.errors`).
    """

    store: ClassStore
    run_id: int
    versions: Versions
    rubric: Rubric
    out: Path
    contents: dict[str, str]  # each student's content hash
    run: ClassRun
    results: dict[str, SubmissionResult] = field(default_factory=dict)  # each student's current result

    def keep(self, submission: Submission, grading: int | SubmissionResult) -> int | None:
        """Store a new result, or reuse the stored grading of that id; the id stored, or None."""
        student = submission.identity.student
        content = self.contents[student]
        own = isinstance(grading, int) and self.store.current_content(student) == content  # unchanged since
        try:
            grading_id = _with_retries(
                lambda: (
                    self.store.reuse(self.run_id, submission, content, self.versions, grading)
                    if isinstance(grading, int)
                    else self.store.record(self.run_id, submission, content, self.versions, grading)
                )
            )
            self.results[student] = self.store.current(student)
            write_submission_views(self.results[student], self.out)
        except Exception as error:
            traceback.print_exc()
            reason = f"The grader could not record this result ({type(error).__name__}: {error}); ask the staff."
            self.results[student] = zero_result(submission, self.rubric, SubmissionStatus.GRADER_ERROR, reason)
            try:
                grading_id = self.store.record(self.run_id, submission, content, self.versions, self.results[student])
                write_submission_views(self.results[student], self.out)
            except Exception as again:
                self.run.errors.append(f"{student}: nothing could be recorded ({type(again).__name__}: {again})")
                return None
            return grading_id
        self.run.reused += own
        self.run.identical += isinstance(grading, int) and not own
        return grading_id

    def keep_current(self, submission: Submission) -> None:
        """The student's current grading stays (an older file was handed in)."""
        self.results[submission.identity.student] = self.store.current(submission.identity.student)


def grade_class(
    paths: list[Path],
    out: Path,
    rubric: Rubric,
    jobs: int = 1,
    sandbox: SandboxMode = SandboxMode.AUTO,
    force: bool = False,
    roster: Roster | None = None,
    cluster: Client | None = None,
    accept_older: bool = False,
    change_rubric: bool = False,
    extensions: list[Extension] | None = None,
) -> ClassRun:
    """Grade every submission under `paths` into the class folder `out` (its store, then its views).

    On local worker processes, or on the Dask cluster of `cluster` (a connected client). A file the export
    shows to be older than the one a student's current grading was made from is not graded (the student
    keeps the newer grading, named in `kept_newer`) unless `accept_older`. A rubric other than the class's
    raises RubricMismatch unless `change_rubric`: then the class is rescored without kernels where the change
    allows it, and graded again by kernels where it does not (every student must then be in `paths`).
    Raises StoreBusy when another run holds `out`.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # a worker starting imports the script that started the grading again, and this call with it
        raise GraderError(UNGUARDED_SCRIPT)
    run = ClassRun()
    versions = current_versions(rubric)
    with ClassStore.open(out, rubric) as store, tempfile.TemporaryDirectory(prefix="grader-intake-") as scratch:
        assignment = current_assignment()
        functions = tuple(assignment.graded_functions.values())
        intake = collect_submissions(paths, Path(scratch), assignment.notebook.stem, functions, exclude=out)
        run.errors = intake.errors
        if roster is not None:  # before anything is stored: a roster that matches nobody is refused
            roster.check_matches([s.identity.student for s in intake.submissions] + list(store.current_ids()))
        rescore = _check_rubric(store, rubric, intake.submissions, change_rubric)
        _check_assignment(store, assignment)
        run_id = store.begin_run(versions)
        store.set_class_rubric(rubric)
        run.held = store.decisions.hold_to_points()
        for student in dict.fromkeys(student for student, *_ in run.held):
            write_submission_views(store.current(student), out)
        if rescore:  # the reference's numbers are read back from its cache, or computed there on one thread
            run.rescored = rescore_class(store, rubric, versions, run_id).rescored
            for student in run.rescored:
                write_submission_views(store.current(student), out)
        if roster is not None:
            store.set_roster(roster)
        if extensions is not None:
            store.set_extensions(extensions)
        contents = {s.identity.student: content_hash(s) for s in intake.submissions}
        plan = plan_run(store, intake.submissions, contents, versions, force, accept_older)
        recorder = Recorder(store, run_id, versions, rubric, out, contents, run)
        for submission, newer in plan.kept_newer:
            run.kept_newer.append(f"{submission.identity.student}: {newer}")
            recorder.keep_current(submission)
        for submission, stored in plan.reuse:
            recorder.keep(submission, stored)
        _grade_planned(plan, recorder, rubric, jobs, sandbox, cluster)
        write_class_views(store, rubric, out)
        store.finish_run(run_id)
    run.results = [recorder.results[s.identity.student] for s in intake.submissions]
    return run


def _grade_planned(
    plan: Plan, recorder: Recorder, rubric: Rubric, jobs: int, sandbox: SandboxMode, cluster: Client | None
) -> None:
    """Grade each planned notebook once and record it for every submission of it, as results come."""
    firsts = {content: group[0] for content, group in plan.to_grade.items()}
    # a file that is no notebook needs no kernel, and so no worker: it is answered here
    answered_here = {
        content: result
        for content, first in firsts.items()
        if isinstance(result := read_submission(first, rubric), SubmissionResult)
    }
    runnable = [first for content, first in firsts.items() if content not in answered_here]
    if cluster is None:
        graded = _grade_in_workers(runnable, rubric, jobs, sandbox) if runnable else iter(())
    else:
        from grader.cluster import grade_on_cluster  # Dask is imported only for a cluster

        graded = grade_on_cluster(cluster, runnable, rubric, sandbox)
    progress = tqdm(total=len(firsts), unit="notebook", disable=not sys.stderr.isatty() or not firsts)
    for submission, result in itertools.chain(((firsts[c], r) for c, r in answered_here.items()), graded):
        grading_id = recorder.keep(submission, result)
        for same in plan.to_grade[recorder.contents[submission.identity.student]][1:]:
            recorder.keep(same, result if grading_id is None else grading_id)
        progress.update()
        progress.set_postfix_str(f"{submission.identity.student}: {points_text(result.score)}")
    progress.close()
