"""Grade submissions into a class folder: `python -m grader grade PATH... --out DIR`."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from grader.cli.common import sandbox_refusal
from grader.intake.extensions import read_extensions
from grader.intake.roster import read_roster
from grader.pipeline import ClassRun, grade_class
from grader.points import points_text
from grader.result import SubmissionStatus
from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SandboxMode
from grader.store import ClassStore, StudentRow, class_rubric_of
from grader.views.junit import write_junit
from grader.views.summary import summary_markdown


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "grade", help="grade submissions into a class folder", description="Grade submissions."
    )
    command.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="notebooks, folders or .zip exports (Canvas, Gradescope, Moodle); none with a points-only --change-rubric",
    )
    command.add_argument("--out", type=Path, required=True, metavar="DIR", help="the class folder (created if missing)")
    command.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions graded at once (default 1)")
    command.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a submission's own cells may run together (default: the rubric's notebook_timeout)",
    )
    command.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    command.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="grade on the Dask scheduler at ADDRESS (tcp://HOST:PORT) instead of local workers",
    )
    command.add_argument(
        "--report", action="append", choices=["junit"], default=[], help="also write DIR/junit.xml (CI test reporters)"
    )
    command.add_argument(
        "--summary-md",
        type=Path,
        metavar="FILE",
        help="write the class summary table (Markdown); also appended to $GITHUB_STEP_SUMMARY when that is set",
    )
    command.add_argument(
        "--roster", type=Path, metavar="FILE", help="CSV of the class (id, name, email; Canvas's export works)"
    )
    command.add_argument(
        "--extensions",
        type=Path,
        metavar="FILE",
        help="CSV of students' extensions (student, then days or due, and reason); replaces the class's list",
    )
    command.add_argument(
        "--sandbox",
        type=SandboxMode,
        choices=list(SandboxMode),
        default=SandboxMode.AUTO,
        help="auto: bubblewrap when it runs here, else rlimits only (with a warning); "
        "required: refuse to grade without bubblewrap (for CI); off: rlimits only",
    )
    command.add_argument(
        "--rubric",
        type=Path,
        metavar="FILE",
        help="rubric file (default: the class's own, else the assignment's); one other than the class's is "
        "refused unless --change-rubric",
    )
    command.add_argument(
        "--change-rubric",
        action="store_true",
        help="move the whole class to --rubric: points and tolerances rescore every student without kernels; "
        "epochs or rules need every student's submission in this run",
    )
    command.add_argument(
        "--accept-older",
        action="store_true",
        help="grade a file even when the export shows it is older than the one a student's grading was made from "
        "(by default the newer grading is kept, with a warning)",
    )
    command.set_defaults(run=grade)


@contextlib.contextmanager
def _cluster(address: str | None, sandbox: SandboxMode) -> Iterator[object | None]:
    """A connected Dask client for `--cluster` (Dask imported only then), or None for local workers."""
    if address is None:
        yield None
        return
    from grader.cluster import open_cluster

    with open_cluster(address, sandbox) as client:
        yield client


def _names(students: list[str]) -> str:
    return ", ".join(students[:20]) + (f" and {len(students) - 20} more" if len(students) > 20 else "")


def _say_held(run: ClassRun) -> None:
    if run.held:
        held = "; ".join(f"{who} {question} {points_text(a)} -> {points_text(b)}" for who, question, a, b in run.held)
        print(f"{len(run.held)} written score(s) above their question's new points, held to them: {held}")


def _row_of(rows: list[StudentRow], result) -> StudentRow:
    return next(row for row in rows if row.identity.student == result.identity.student)


def _print_summary(run: ClassRun, rubric: Rubric, out: Path, rows: list[StudentRow]) -> None:
    """Each student of this run, then what the run did, naming everyone who needs a look."""
    for result in run.results:
        shown = f"{points_text(result.score)}/{points_text(rubric.automatic_total)}"
        print(f"{result.identity.student:<32} {shown:>13}  {result.status}")
    scores = [r.score for r in run.results]
    reuse = [f"{run.reused} unchanged, not run again"] * bool(run.reused)
    reuse += [f"{run.identical} identical to another student's file, graded once"] * bool(run.identical)
    reused = f" ({'; '.join(reuse)})" if reuse else ""
    print(
        f"graded {len(run.results)} student(s) into {out}{reused}: "
        f"automatic points mean {sum(scores) / len(scores):.1f}, min {points_text(min(scores))}, "
        f"max {points_text(max(scores))} of {points_text(rubric.automatic_total)}"
    )
    unreadable = [r.identity.student for r in run.results if r.status == SubmissionStatus.UNREADABLE]
    missing = [row.identity.student for row in rows if row.result is None]
    on_roster = any(row.roster is not None for row in rows)
    off_roster = [r.identity.student for r in run.results if on_roster and _row_of(rows, r).roster is None]
    for count, students, what in (
        (len(unreadable), unreadable, "handed in nothing that can be graded (their feedback says why)"),
        (len(missing), missing, "on the roster, with nothing handed in"),
        (len(off_roster), off_roster, "graded, but not on the roster (a misnamed file, or a late enrolment?)"),
    ):
        if count:
            print(f"{count} student(s) {what}: {_names(students)}")
    if run.rescored:
        print(f"rescored {len(run.rescored)} student(s) under the new rubric from their stored outcomes (no kernel)")
    _say_held(run)
    for kept in run.kept_newer:
        print(f"warning: {kept} (--accept-older grades it anyway)", file=sys.stderr)


def _write_reports(args: argparse.Namespace, rubric: Rubric) -> None:
    """The machine-readable reports asked for, from the class store."""
    summary_targets = [args.summary_md] if args.summary_md else []
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        summary_targets.append(Path(os.environ["GITHUB_STEP_SUMMARY"]))
    if not args.report and not summary_targets:
        return
    with ClassStore.open(args.out, rubric) as store:
        rows = store.students(plots=False)
    if "junit" in args.report:
        write_junit(rows, args.out)
    for index, target in enumerate(summary_targets):
        with open(target, "w" if index == 0 and args.summary_md else "a") as f:  # the job summary is appended to
            f.write(summary_markdown(rows, rubric))


def grade(args: argparse.Namespace) -> int:
    own = class_rubric_of(args.out)
    rubric = own if args.rubric is None and own is not None else load_rubric(args.rubric)
    if args.timeout is not None:
        if args.timeout <= 0:
            print("error: --timeout must be a positive number of seconds", file=sys.stderr)
            return 2
        try:
            rubric = dataclasses.replace(rubric, run=dataclasses.replace(rubric.run, notebook_timeout=args.timeout))
        except ValueError as error:
            print(f"error: --timeout {args.timeout:g}: {error}", file=sys.stderr)
            return 2
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    if not args.paths and not args.change_rubric:
        print(
            "error: name the submissions to grade (PATH...); only --change-rubric, which rescores the class from "
            "what it stored, needs none",
            file=sys.stderr,
        )
        return 2
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    roster = read_roster(args.roster) if args.roster else None
    extensions = read_extensions(args.extensions) if args.extensions else None
    if refusal := sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    try:
        with _cluster(args.cluster, args.sandbox) as cluster:
            run = grade_class(
                args.paths,
                args.out,
                rubric,
                jobs=args.jobs,
                sandbox=args.sandbox,
                force=args.force,
                roster=roster,
                cluster=cluster,
                accept_older=args.accept_older,
                change_rubric=args.change_rubric,
                extensions=extensions,
            )
    except KeyboardInterrupt:
        print(
            f"interrupted: every submission graded so far is stored in {args.out}; run the same command again "
            "to grade the rest",
            file=sys.stderr,
        )
        return 130
    for problem in run.errors:
        print(f"error: {problem}", file=sys.stderr)
    _write_reports(args, rubric)
    if not args.paths:  # the class moved to a new rubric from its store: no submission was named
        print(f"rescored {len(run.rescored)} student(s) in {args.out} under the new rubric (no kernel)")
        _say_held(run)
        return 1 if run.errors else 0
    if not run.results:
        print("error: no submissions found", file=sys.stderr)
        return 1 if run.errors else 2
    with ClassStore.open(args.out, rubric) as store:
        rows = store.students(plots=False)
    _print_summary(run, rubric, args.out, rows)
    broken = [r.identity.student for r in run.results if r.status == SubmissionStatus.GRADER_ERROR]
    unreadable = any(r.status == SubmissionStatus.UNREADABLE for r in run.results)
    if broken:
        # a grader_error is never reused from the store: the same command grades just these again
        python = os.path.relpath(sys.executable)
        python = python if not python.startswith("..") else "python"
        again = shlex.join([python, "-m", "grader", *(a for a in args.argv if a != "--force")])
        print(
            f"the grader failed on {len(broken)} submission(s), after trying again: {', '.join(broken)}\n"
            f"to grade just these again (the others are kept as they are): {again}",
            file=sys.stderr,
        )
    return 1 if broken or unreadable or run.errors else 0
