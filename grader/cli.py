"""The command line, thin over `pipeline.grade_batch`: parse, check, call, print.

    python -m grader grade PATH... --out DIR [--jobs N] [--timeout SECONDS]
                                 [--sandbox auto|required|off] [--rubric FILE]

Exit status 0 when every submission was graded (whatever the scores), 1 when
the grader failed on one, 2 when it could not start (bad arguments, rubric or sandbox).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from grader.pipeline import grade_batch
from grader.result import SubmissionResult, SubmissionStatus
from grader.rubric import RUBRIC_FILE, Rubric, RubricError, load_rubric
from grader.run.sandbox import SandboxMode, bubblewrap_works


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="MessMaster part 2 autograder")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grade = commands.add_parser("grade", help="grade submitted notebooks", description="Grade submitted notebooks.")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks, or folders searched for *.ipynb")
    grade.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for results (created if missing)")
    grade.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions graded at once (default 1)")
    grade.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a submission's own cells may run together (default: the rubric's notebook_timeout)",
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


def _print_summary(results: list[SubmissionResult], rubric: Rubric, out: Path) -> None:
    for result in results:
        print(f"{result.name:<32} {result.score:>6g}/{rubric.automatic_total:g}  {result.status}")
    scores = [r.score for r in results]
    unreadable = sum(r.status == SubmissionStatus.UNREADABLE for r in results)
    print(
        f"graded {len(results)} submission(s) into {out}: mean {sum(scores) / len(scores):.1f}, "
        f"min {min(scores):g}, max {max(scores):g} of {rubric.automatic_total:g} automatic points; "
        f"{unreadable} unreadable"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rubric = load_rubric(args.rubric)
    except RubricError as error:
        print(f"error: cannot use the rubric: {error}", file=sys.stderr)
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
    if refusal := _sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    results = grade_batch(args.paths, args.out, rubric, jobs=args.jobs, sandbox=args.sandbox)
    if not results:
        print("error: no .ipynb files found", file=sys.stderr)
        return 2
    _print_summary(results, rubric, args.out)
    broken = [r.name for r in results if r.status == SubmissionStatus.GRADER_ERROR]
    if broken:
        print(f"the grader failed on: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0
