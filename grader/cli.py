"""Command line: `python -m grader grade PATH... --out DIR [--jobs N] [--timeout SECONDS]`.

Exit status 0 when every submission was graded (whatever the scores), 1 when
the grader failed on one, 2 when it could not start (bad arguments or rubric).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from grader.pipeline import grade_batch
from grader.rubric import RUBRIC_FILE, load_rubric
from grader.sandbox import bubblewrap_works


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="MessMaster part 2 autograder")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade submitted notebooks")
    grade.add_argument("paths", nargs="+", type=Path, help="notebooks, or folders searched for *.ipynb")
    grade.add_argument("--out", type=Path, required=True, help="folder for results (created if missing)")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    grade.add_argument(
        "--timeout", type=float, default=None, help="seconds a submission's own cells may run (default: the rubric's)"
    )
    grade.add_argument(
        "--sandbox",
        choices=["auto", "required", "off"],
        default="auto",
        help="auto: bubblewrap when it runs here, else rlimits only (with a warning); "
        "required: refuse to grade without bubblewrap (for CI); off: rlimits only",
    )
    grade.add_argument("--rubric", type=Path, default=RUBRIC_FILE, help="rubric file (default: grader/rubric.toml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rubric = load_rubric(args.rubric)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: cannot read the rubric {args.rubric}: {error}", file=sys.stderr)
        return 2
    if args.timeout is not None:
        rubric = dataclasses.replace(rubric, notebook_timeout=args.timeout)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.sandbox != "off" and not bubblewrap_works():
        if args.sandbox == "required":
            print("error: --sandbox=required, but bubblewrap cannot run here (install `bubblewrap`)", file=sys.stderr)
            return 2
        print(
            "WARNING: bubblewrap cannot run here: submissions run with resource limits only, and can see this\n"
            "WARNING: machine's files (including secret/ and reference/) and its network. Install `bubblewrap`.",
            file=sys.stderr,
        )
    results = grade_batch(args.paths, args.out, jobs=args.jobs, rubric=rubric, sandbox=args.sandbox)
    if not results:
        print("error: no .ipynb files found", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.name:<32} {result.score:>6g}/{rubric.automatic_total:g}  {result.status}")
    scores = [r.score for r in results]
    broken = [r.name for r in results if r.status == "grader_error"]
    print(
        f"graded {len(results)} submission(s) into {args.out}: mean {sum(scores) / len(scores):.1f}, "
        f"min {min(scores):g}, max {max(scores):g} of {rubric.automatic_total:g} automatic points; "
        f"{sum(r.status == 'unreadable' for r in results)} unreadable"
    )
    if broken:
        print(f"the grader failed on: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0
