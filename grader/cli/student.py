"""A stray student taken out of the class, or merged into another: `python -m grader student remove|merge`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.cli.common import graded_class as _graded_class
from grader.intake import student_folder
from grader.store import current_versions
from grader.views.write import remove_submission_views, write_class_views, write_submission_views


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "student",
        help="take a stray student out of the class, or merge one into another",
        description="Remove a student graded by mistake (a misnamed file graded under a name of its own), or merge "
        "them into the student the file belongs to. Their gradings stay in the store and in `history`.",
    )
    changes = command.add_subparsers(dest="change", required=True, metavar="CHANGE")
    remove = changes.add_parser("remove", help="take STUDENT out of the gradebook, exports, desk and signals")
    merge = changes.add_parser("merge", help="STUDENT's grading becomes INTO's, then STUDENT is taken out")
    for parser_ in (remove, merge):
        parser_.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
        parser_.add_argument("student", metavar="STUDENT", help="the student's id, as in gradebook.csv")
        if parser_ is merge:
            parser_.add_argument("into", metavar="INTO", help="the id of the student the file belongs to")
        parser_.add_argument("--reason", required=True, help="why (kept in the student's history)")
        parser_.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    command.set_defaults(run=change_student)


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
