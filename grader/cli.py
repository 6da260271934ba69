"""The command line, thin over the pipeline and the views: parse, check, call, print.

    python -m grader grade PATH... --out DIR [--jobs N] [--timeout SECONDS] [--force] [--roster FILE]
                                 [--cluster ADDRESS] [--report junit] [--summary-md FILE]
                                 [--sandbox auto|required|off] [--rubric FILE] [--change-rubric]
                                 [--accept-older] [--extensions FILE]
    python -m grader history DIR STUDENT
    python -m grader export canvas DIR --out FILE [--assignment NAME]
    python -m grader gradescope SUBMISSION_DIR --results FILE [--sandbox auto|required|off]
    python -m grader written export DIR [--anonymise]
    python -m grader written import DIR FILE
    python -m grader desk DIR [--host 127.0.0.1] [--port 8765]
    python -m grader similarity DIR [--against OLD_DIR ...]

Exit status: 0 when every submission was graded (whatever the scores); 1 when
someone needs a look: a submission that could not be read (nothing in it can be
graded), the grader failed on one, or a path, an archive or a file could not be
read at all (the rest is graded); 2 when it could not start (bad arguments, rubric,
roster or sandbox, or the class folder is busy with another run); 130 when
interrupted (Ctrl-C: what was graded is stored).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from grader import __version__
from grader.errors import GraderError
from grader.grading import grade_one_folder
from grader.intake import student_folder
from grader.intake.extensions import read_extensions
from grader.intake.roster import read_roster
from grader.integrity import similarity as integrity_signals
from grader.pipeline import ClassRun, grade_class
from grader.points import points_text
from grader.result import LATE, SubmissionStatus
from grader.rubric import RUBRIC_FILE, Rubric, load_rubric
from grader.run.sandbox import SandboxMode, sandbox_works, why_no_sandbox
from grader.store import STORE_FILE, ClassStore, StudentRow, class_rubric_of, current_versions
from grader.views.canvas import write_canvas_csv
from grader.views.gradescope import gradescope_results
from grader.views.junit import write_junit
from grader.views.summary import summary_markdown
from grader.views.write import remove_submission_views, write_class_views, write_submission_views, write_whole
from grader.views.written_pages import SHEET_FILE
from grader.written_answers import WrittenExport, export_written, import_written


class _PrintVersion(argparse.Action):
    """--version: one line, unwrapped (argparse's own action wraps it), computed only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **_: object) -> None:
        help_text = "print the version and the digests of what decides grades, and exit"
        super().__init__(option_strings, dest, nargs=0, help=help_text)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="MessMaster part 2 autograder")
    parser.add_argument("--version", action=_PrintVersion)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grade = commands.add_parser("grade", help="grade submissions into a class folder", description="Grade submissions.")
    grade.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="notebooks, folders or .zip exports (Canvas, Gradescope, Moodle); none with a points-only --change-rubric",
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
        "--cluster",
        metavar="ADDRESS",
        help="grade on the Dask scheduler at ADDRESS (tcp://HOST:PORT) instead of local workers",
    )
    grade.add_argument(
        "--report", action="append", choices=["junit"], default=[], help="also write DIR/junit.xml (CI test reporters)"
    )
    grade.add_argument(
        "--summary-md",
        type=Path,
        metavar="FILE",
        help="write the class summary table (Markdown); also appended to $GITHUB_STEP_SUMMARY when that is set",
    )
    grade.add_argument(
        "--roster", type=Path, metavar="FILE", help="CSV of the class (id, name, email; Canvas's export works)"
    )
    grade.add_argument(
        "--extensions",
        type=Path,
        metavar="FILE",
        help="CSV of students' extensions (student, then days or due, and reason); replaces the class's list",
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
        "--rubric",
        type=Path,
        metavar="FILE",
        help="rubric file (default: the class's own, else grader/rubric.toml); one other than the class's is "
        "refused unless --change-rubric",
    )
    grade.add_argument(
        "--change-rubric",
        action="store_true",
        help="move the whole class to --rubric: points and tolerances rescore every student without kernels; "
        "epochs or rules need every student's submission in this run",
    )
    grade.add_argument(
        "--accept-older",
        action="store_true",
        help="grade a file even when the export shows it is older than the one a student's grading was made from "
        "(by default the newer grading is kept, with a warning)",
    )
    history = commands.add_parser(
        "history",
        help="every grading of one student",
        description="List every grading of STUDENT in the class folder DIR, oldest first, with its versions.",
    )
    history.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    history.add_argument("student", metavar="STUDENT", help="the student's id, as in gradebook.csv")
    history.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    student = commands.add_parser(
        "student",
        help="take a stray student out of the class, or merge one into another",
        description="Remove a student graded by mistake (a misnamed file graded under a name of its own), or merge "
        "them into the student the file belongs to. Their gradings stay in the store and in `history`.",
    )
    changes = student.add_subparsers(dest="change", required=True, metavar="CHANGE")
    remove = changes.add_parser("remove", help="take STUDENT out of the gradebook, exports, desk and signals")
    merge = changes.add_parser("merge", help="STUDENT's grading becomes INTO's, then STUDENT is taken out")
    for parser_ in (remove, merge):
        parser_.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
        parser_.add_argument("student", metavar="STUDENT", help="the student's id, as in gradebook.csv")
        if parser_ is merge:
            parser_.add_argument("into", metavar="INTO", help="the id of the student the file belongs to")
        parser_.add_argument("--reason", required=True, help="why (kept in the student's history)")
        parser_.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
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
    canvas.add_argument(
        "--missing-as-zero",
        action="store_true",
        help="give 0 to students with nothing graded (default: blank, so Canvas's missing-submission policy applies)",
    )
    canvas.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    gradescope = commands.add_parser(
        "gradescope",
        help="grade one Gradescope submission (what run_autograder calls)",
        description="Grade the one notebook in a Gradescope submission folder and write its results.json.",
    )
    gradescope.add_argument("submission", type=Path, metavar="SUBMISSION_DIR", help="the submission's folder")
    gradescope.add_argument("--results", type=Path, required=True, metavar="FILE", help="results.json to write")
    gradescope.add_argument("--sandbox", type=SandboxMode, choices=list(SandboxMode), default=SandboxMode.AUTO)
    gradescope.add_argument("--rubric", type=Path, default=RUBRIC_FILE, metavar="FILE", help=argparse.SUPPRESS)
    written = commands.add_parser(
        "written",
        help="written answers: pages and a scores sheet for TAs, and their scores back",
        description=("Export every written answer for the TAs, or import their scores into the class results."),
    )
    steps = written.add_subparsers(dest="step", required=True, metavar="STEP")
    written_export = steps.add_parser(
        "export", help="DIR/written/: one page per question and written_scores.csv", description="Export answers."
    )
    written_export.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    written_export.add_argument(
        "--anonymise", action="store_true", help="show and list students under stable pseudonyms, not their ids"
    )
    written_import = steps.add_parser(
        "import", help="merge a filled-in written_scores.csv into the class results", description="Import scores."
    )
    written_import.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    written_import.add_argument(
        "file", type=Path, metavar="FILE", help="written_scores.csv (student, question, score, comment)"
    )
    for step in (written_export, written_import):
        step.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    desk = commands.add_parser(
        "desk",
        help="the TA desk: grade written answers and adjust automatic items in a browser",
        description=(
            "Serve the TA desk over the class in DIR. The first line printed is its address with a fresh token; "
            "open it in a browser. A grading run may go on meanwhile. Ctrl-C stops it."
        ),
    )
    desk.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    desk.add_argument("--host", default="127.0.0.1", help="where to listen (default: this machine only)")
    desk.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0 takes a free one)")
    similar = commands.add_parser(
        "similarity",
        help="integrity signals: which submissions a person should compare (never proof)",
        description=(
            "Point at pairs of submissions worth comparing: shared code (normalised fingerprints), identical wrong "
            "outputs on the hidden cases, shared phrases in written answers. Writes DIR/similarity.csv, "
            "DIR/similarity.html and a side-by-side page per pair."
        ),
    )
    similar.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    similar.add_argument(
        "--against", type=Path, nargs="+", default=[], metavar="OLD_DIR", help="earlier terms' class folders"
    )
    return parser


def _sandbox_refusal(mode: SandboxMode) -> str:
    """Why grading may not start with this sandbox mode here, or "" (after warning when it falls back)."""
    if mode == SandboxMode.OFF or sandbox_works():
        return ""
    if mode == SandboxMode.REQUIRED:
        return f"--sandbox=required, but {why_no_sandbox()}"
    print(
        f"WARNING: {why_no_sandbox()}.\nWARNING: Submissions run with resource limits only (as a user of their own "
        "where the grader is root), and can\nWARNING: see this machine's network and any file not closed to others.",
        file=sys.stderr,
    )
    return ""


@contextlib.contextmanager
def _cluster(address: str | None, sandbox: SandboxMode) -> Iterator[object | None]:
    """A connected Dask client for `--cluster` (Dask imported only then), or None for local workers."""
    if address is None:
        yield None
        return
    from grader.cluster import open_cluster

    with open_cluster(address, sandbox) as client:
        yield client


def version_line() -> str:
    """The package's version and what decides its grades (the same digests the class store records)."""
    versions = current_versions(load_rubric())
    return (
        f"messmaster-grader {__version__} (grader {versions.grader}, default rubric {versions.rubric}, "
        f"hidden cases {versions.cases})"
    )


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
        rows = store.students()
    if "junit" in args.report:
        write_junit(rows, args.out)
    for index, target in enumerate(summary_targets):
        with open(target, "w" if index == 0 and args.summary_md else "a") as f:  # the job summary is appended to
            f.write(summary_markdown(rows, rubric))


def grade(args: argparse.Namespace) -> int:
    own = class_rubric_of(args.out)
    rubric = own if args.rubric is None and own is not None else load_rubric(args.rubric or RUBRIC_FILE)
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
    if refusal := _sandbox_refusal(args.sandbox):
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
        rows = store.students()
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


@contextlib.contextmanager
def _graded_class(args: argparse.Namespace) -> Iterator[tuple[ClassStore, Rubric] | None]:
    """The class store of `args.folder` (locked) and its rubric (the class's own, unless one is named); None,
    after saying why, when it cannot be had."""
    rubric = load_rubric(args.rubric) if args.rubric is not None else None
    if not (args.folder / STORE_FILE).is_file():
        print(f"error: {args.folder} holds no {STORE_FILE}: grade into it first", file=sys.stderr)
        yield None
        return
    with ClassStore.open(args.folder, rubric) as store:
        yield store, store.rubric


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _explained_total(store: ClassStore, student: str) -> list[str]:
    """What the student's total is made of now: the grading's points, each adjustment, each written score, the
    late penalty, and the rubric they are under, with who and when."""
    result = store.current(student)
    if result is None:
        return []
    rubric = result.rubric
    lines = [
        f"total now {points_text(result.total)} of {points_text(result.total_max)}: {points_text(result.score)} "
        f"automatic + {points_text(result.written_score)} written - {points_text(result.late_penalty)} late penalty"
    ]
    if (changed := store.rubric_changed()) is not None:
        lines.append(f"  under the class's rubric since {_when(changed)} ({points_text(rubric.total)} points in all)")
    for item in rubric.items:
        lines.append(f"  {item}: {points_text(result.item_score(item))}/{points_text(rubric.items[item].points)}")
        if item in result.adjustments:
            lines.append(f"    adjusted: {result.adjustments[item].says(item)}")
    times = store.written_times(student)
    for question, points in rubric.written.items():
        scored = result.written_scores.get(question)
        if scored is None:
            lines.append(f"  written {question}: awaiting grading ({points_text(points)} points)")
            continue
        who = f", by {scored.by}" if scored.by else ""
        lines.append(
            f"  written {question}: {points_text(scored.score)}/{points_text(points)}{who} on {_when(times[question])}"
        )
    if (late := result.lateness) is not None:
        lines.append(f"  late: {late.says} ({points_text(-result.late_penalty)} points)")
        if LATE in result.adjustments:
            lines.append(f"    adjusted: {result.adjustments[LATE].says(LATE)}")
    return lines


def history(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        store = opened[0]
        gradings = store.history(args.student)
        removal = store.removal(args.student)
        explained = _explained_total(store, args.student)
    if not gradings:
        print(f"error: {args.student!r} has never been graded in {args.folder}", file=sys.stderr)
        return 1
    print(f"{'run':>4}  {'started':<19}  {'score':>12}  {'status':<12}  {'notebook':<12}  versions, handed in")
    for grading in gradings:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(grading.started))
        versions = f"grader {grading.versions.grader}, rubric {grading.versions.rubric}, cases {grading.versions.cases}"
        reused = f"; reused grading {grading.reused_from}" if grading.reused_from else ""
        handed_in = f"; {grading.handed_in.shown}" if grading.handed_in else ""
        score = f"{points_text(grading.score)}/{points_text(grading.max_score)}"
        print(
            f"{grading.run_id:>4}  {started:<19}  {score:>12}  {grading.status:<12}  {grading.content[:12]:<12}  "
            f"{versions}{handed_in}{reused}"
        )
    print(f"{len(gradings)} grading(s) of {args.student}; the last is current")
    print("\n".join(explained))
    if removed := removal:
        reason, into, made = removed
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(made))
        print(f"taken out of the class{f' (merged into {into})' if into else ''} on {when}: {reason}")
    return 0


def change_student(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        store, rubric = opened
        if args.student not in store.current_ids():  # INTO may be a roster student with nothing graded yet
            print(f"error: no graded student {args.student!r} in {args.folder}", file=sys.stderr)
            return 2
        if args.change == "merge" and args.into == args.student:
            print("error: a student cannot be merged into themselves", file=sys.stderr)
            return 2
        if args.change == "merge":
            store.merge_student(args.student, args.into, args.reason, current_versions(rubric))
            write_submission_views(store.current(args.into), args.folder)
        else:
            store.remove_student(args.student, args.reason)
        remove_submission_views(student_folder(args.student), args.folder)
        write_class_views(store, rubric, args.folder)
    into = f" into {args.into}" if args.change == "merge" else ""
    print(f"{args.change}d {args.student}{into} in {args.folder}; their gradings stay in `history`")
    return 0


def export_canvas(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        rows = opened[0].students()
    write_canvas_csv(rows, args.assignment, args.out, opened[1].total, args.missing_as_zero)
    print(f"wrote {args.out}: {len(rows)} student(s), column {args.assignment!r}")
    return 0


def gradescope(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    if not args.submission.is_dir():
        print(f"error: no such folder: {args.submission}", file=sys.stderr)
        return 2
    if refusal := _sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    result = grade_one_folder(args.submission, rubric, args.sandbox)
    report = gradescope_results(result, written_as_tests=False)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_whole(args.results, json.dumps(report, indent=2) + "\n")
    print(f"{result.score:g}/{rubric.automatic_total:g} automatic points ({result.status}); wrote {args.results}")
    return 0


def _said_kept(export: WrittenExport) -> None:
    if export.kept_edits:
        print(
            f"{export.folder / SHEET_FILE} held {export.kept_edits} score(s) or comment(s) not yet imported: they "
            f"are kept in the new sheet as they were (the sheet it replaced is saved as {export.saved.name}); import "
            "it to apply them"
        )
    if export.overtaken:
        print(
            f"{len(export.overtaken)} row(s) of the old sheet (a TA's edits, or the scores as they were exported) "
            "differ from those saved at the TA desk since, and were not carried over (the desk's are in the new "
            f"sheet; the old one is saved as {export.saved.name}): {', '.join(export.overtaken)}"
        )


def written(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        store, rubric = opened
        if args.step == "export":
            export = export_written(store, rubric, args.folder, anonymise=args.anonymise)
            _said_kept(export)
            print(
                f"wrote {export.folder}: {len(rubric.written)} question page(s) and {SHEET_FILE} for "
                f"{export.students} student(s)"
            )
            return 0
        done = import_written(store, rubric, args.file, args.folder)
    if done.pages is not None:
        _said_kept(done.pages)
    if done.overtaken:
        print(
            f"{len(done.overtaken)} row(s) were scored at the TA desk after {args.file} was exported and were left "
            f"as the desk has them (export the sheet again to edit them): {', '.join(done.overtaken[:20])}"
        )
    print(f"imported {done.imported} written score(s) into {args.folder}")
    return 0


def similarity(args: argparse.Namespace) -> int:
    found = integrity_signals(args.folder, args.against)
    earlier = f" and {found.earlier} of earlier terms" if found.earlier else ""
    print(
        f"compared {found.compared} submission(s){earlier}: {len(found.flagged)} pair(s) worth a look, in "
        f"{found.csv} and {found.csv.with_suffix('.html')} (a reason to look, never proof)"
    )
    return 0


def serve_the_desk(args: argparse.Namespace) -> int:
    from grader.desk.app import serve_desk  # the web stack is imported only for the desk

    try:
        serve_desk(args.folder, args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port} ({error.strerror or error})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line (`python -m grader`, or `messmaster-grader` once installed with pip)."""
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    verbs = {
        "grade": grade,
        "history": history,
        "student": change_student,
        "export": export_canvas,
        "gradescope": gradescope,
        "written": written,
        "desk": serve_the_desk,
        "similarity": similarity,
    }
    try:
        return verbs[args.command](args)
    except GraderError as error:  # every error of the grader's own, once: its message and its exit code
        print(f"error: {error.says}{error}", file=sys.stderr)
        return error.exit_code
