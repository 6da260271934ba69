"""A class's grades for an LMS: `python -m grader export canvas DIR --out FILE`."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.assignment import current_assignment
from grader.cli.common import graded_class as _graded_class
from grader.views.canvas import write_canvas_csv


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("export", help="write a class's grades for an LMS", description="Export grades.")
    formats = command.add_subparsers(dest="format", required=True, metavar="FORMAT")
    canvas = formats.add_parser("canvas", help="Canvas gradebook import CSV", description="Canvas gradebook CSV.")
    canvas.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    canvas.add_argument("--out", type=Path, required=True, metavar="FILE", help="the CSV to write")
    canvas.add_argument(
        "--assignment",
        metavar="NAME",
        help="the assignment's column, as Canvas names it, e.g. 'Homework 3 (12345)' (default: the assignment's title)",
    )
    canvas.add_argument(
        "--missing-as-zero",
        action="store_true",
        help="give 0 to students with nothing graded (default: blank, so Canvas's missing-submission policy applies)",
    )
    canvas.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    command.set_defaults(run=export_canvas)


def export_canvas(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        rows = opened[0].students()
    column = args.assignment or current_assignment().TITLE
    write_canvas_csv(rows, column, args.out, opened[1].total, args.missing_as_zero)
    print(f"wrote {args.out}: {len(rows)} student(s), column {column!r}")
    return 0
