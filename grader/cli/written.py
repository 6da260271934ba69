"""Written answers: the TAs' pages and sheet out, their scores in: `python -m grader written export|import`."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.cli.common import graded_class as _graded_class
from grader.views.written_pages import SHEET_FILE
from grader.written_answers import WrittenExport, export_written, import_written


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "written",
        help="written answers: pages and a scores sheet for TAs, and their scores back",
        description=("Export every written answer for the TAs, or import their scores into the class results."),
    )
    steps = command.add_subparsers(dest="step", required=True, metavar="STEP")
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
    command.set_defaults(run=written)


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
