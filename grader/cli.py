"""The command line, thin over the pipeline and the views: parse, check, call, print.

    python -m grader grade PATH... --out DIR [--jobs N] [--timeout SECONDS] [--force]
                                 [--roster FILE] [--sandbox auto|required|off] [--rubric FILE]
    python -m grader export canvas DIR --out FILE [--assignment NAME]

Exit status: 0 when every submission was graded (whatever the scores); 1 when
the grader failed on one, or a path or an archive could not be read at all
(the rest is graded); 2 when it could not start (bad arguments, rubric,
roster or sandbox, or the class folder is busy with another run).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from grader.intake.roster import RosterError, read_roster
from grader.pipeline import ClassRun, grade_class
from grader.result import SubmissionStatus
from grader.rubric import RUBRIC_FILE, Rubric, RubricError, load_rubric
from grader.run.sandbox import SandboxMode, bubblewrap_works
from grader.store import STORE_FILE, ClassStore, StoreBusy
from grader.views.canvas import write_canvas_csv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="MessMaster part 2 autograder")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grade = commands.add_parser("grade", help="grade submissions into a class folder", description="Grade submissions.")
    grade.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="notebooks, folders or .zip exports (Canvas, Gradescope, Moodle)",
    )
    grade.add_argument("--out", type=Path, required=True, metavar="DIR", help="the class folder (created if missing)")
    grade.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions graded at once (default 1)")
    grade.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a submission's own cells may run together (default: the rubric's notebook_timeout)",
    )
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade.add_argument(
        "--roster", type=Path, metavar="FILE", help="CSV of the class (id, name, email; Canvas's export works)"
    )
    grade.add_argument(
        "--sandbox",
        type=SandboxMode,
        choices=list(SandboxMode),
        default=SandboxMode.AUTO,
        help="auto: bubblewrap when it runs here, else rlimits only (with a warning); "
        "required: refuse to grade without bubblewrap (for CI); off: rlimits only",
    )
    grade.add_argument(
        "--rubric", type=Path, default=RUBRIC_FILE, metavar="FILE", help="rubric file (default: grader/rubric.toml)"
    )
    export = commands.add_parser("export", help="write a class's grades for an LMS", description="Export grades.")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    canvas = formats.add_parser("canvas", help="Canvas gradebook import CSV", description="Canvas gradebook CSV.")
    canvas.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    canvas.add_argument("--out", type=Path, required=True, metavar="FILE", help="the CSV to write")
    canvas.add_argument(
        "--assignment",
        default="MessMaster part 2",
        metavar="NAME",
        help="the assignment's column, as Canvas names it, e.g. 'MessMaster part 2 (12345)'",
    )
    canvas.add_argument("--rubric", type=Path, default=RUBRIC_FILE, metavar="FILE", help=argparse.SUPPRESS)
    return parser


def _sandbox_refusal(mode: SandboxMode) -> str:
    """Why grading may not start with this sandbox mode here, or "" (after warning when it falls back)."""
    if mode == SandboxMode.OFF or bubblewrap_works():
        return ""
    if mode == SandboxMode.REQUIRED:
        return "--sandbox=required, but bubblewrap cannot run here (install `bubblewrap`)"
    print(
        "WARNING: bubblewrap cannot run here: submissions run with resource limits only, and can see this\n"
        "WARNING: machine's files (including secret/ and reference/) and its network. Install `bubblewrap`.",
        file=sys.stderr,
    )
    return ""


def _print_summary(run: ClassRun, rubric: Rubric, out: Path) -> None:
    for result in run.results:
        print(f"{result.identity.student:<32} {result.score:>6g}/{rubric.automatic_total:g}  {result.status}")
    scores = [r.score for r in run.results]
    unreadable = sum(r.status == SubmissionStatus.UNREADABLE for r in run.results)
    print(
        f"graded {len(run.results)} submission(s) into {out} ({run.reused} unchanged, not run again): "
        f"mean {sum(scores) / len(scores):.1f}, min {min(scores):g}, max {max(scores):g} "
        f"of {rubric.automatic_total:g} automatic points; {unreadable} unreadable"
    )


def _load_rubric(path: Path) -> Rubric | None:
    try:
        return load_rubric(path)
    except RubricError as error:
        print(f"error: cannot use the rubric: {error}", file=sys.stderr)
        return None


def grade(args: argparse.Namespace) -> int:
    rubric = _load_rubric(args.rubric)
    if rubric is None:
        return 2
    if args.timeout is not None:
        if args.timeout <= 0:
            print("error: --timeout must be a positive number of seconds", file=sys.stderr)
            return 2
        rubric = dataclasses.replace(rubric, run=dataclasses.replace(rubric.run, notebook_timeout=args.timeout))
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        roster = read_roster(args.roster) if args.roster else None
    except RosterError as error:
        print(f"error: cannot use the roster: {error}", file=sys.stderr)
        return 2
    if refusal := _sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    try:
        run = grade_class(
            args.paths, args.out, rubric, jobs=args.jobs, sandbox=args.sandbox, force=args.force, roster=roster
        )
    except StoreBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in run.errors:
        print(f"error: {problem}", file=sys.stderr)
    if not run.results:
        print("error: no submissions found", file=sys.stderr)
        return 1 if run.errors else 2
    _print_summary(run, rubric, args.out)
    broken = [r.identity.student for r in run.results if r.status == SubmissionStatus.GRADER_ERROR]
    if broken:
        print(f"the grader failed on: {', '.join(broken)}", file=sys.stderr)
    return 1 if broken or run.errors else 0


def export_canvas(args: argparse.Namespace) -> int:
    rubric = _load_rubric(args.rubric)
    if rubric is None:
        return 2
    if not (args.folder / STORE_FILE).is_file():
        print(f"error: {args.folder} holds no {STORE_FILE}: grade into it first", file=sys.stderr)
        return 2
    try:
        with ClassStore.open(args.folder, rubric) as store:
            rows = store.students()
    except StoreBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_canvas_csv(rows, args.assignment, args.out)
    print(f"wrote {args.out}: {len(rows)} student(s), column {args.assignment!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        return grade(args)
    return export_canvas(args)
