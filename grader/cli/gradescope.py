"""One Gradescope submission graded (what run_autograder calls): `python -m grader gradescope`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.cli.common import sandbox_refusal
from grader.grading import grade_one_folder
from grader.rubric import load_rubric
from grader.run.sandbox import SandboxMode
from grader.views.gradescope import gradescope_results
from grader.views.whole_files import write_whole


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "gradescope",
        help="grade one Gradescope submission (what run_autograder calls)",
        description="Grade the one notebook in a Gradescope submission folder and write its results.json.",
    )
    command.add_argument("submission", type=Path, metavar="SUBMISSION_DIR", help="the submission's folder")
    command.add_argument("--results", type=Path, required=True, metavar="FILE", help="results.json to write")
    command.add_argument("--sandbox", type=SandboxMode, choices=list(SandboxMode), default=SandboxMode.AUTO)
    command.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    command.set_defaults(run=gradescope)


def gradescope(args: argparse.Namespace) -> int:
    rubric = load_rubric(args.rubric)
    if not args.submission.is_dir():
        print(f"error: no such folder: {args.submission}", file=sys.stderr)
        return 2
    if refusal := sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    result = grade_one_folder(args.submission, rubric, args.sandbox)
    report = gradescope_results(result, written_as_tests=False)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_whole(args.results, json.dumps(report, indent=2) + "\n")
    print(f"{result.score:g}/{rubric.automatic_total:g} automatic points ({result.status}); wrote {args.results}")
    return 0
