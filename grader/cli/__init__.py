"""The command line, thin over the pipeline and the views: parse, check, call, print.

    python -m grader [--assignment-dir DIR] COMMAND ...   (default: the class's, else this repository's)
    python -m grader grade PATH... --out DIR [--jobs N] [--timeout SECONDS] [--force] [--roster FILE]
                                 [--cluster ADDRESS] [--report junit] [--summary-md FILE]
                                 [--sandbox auto|required|off] [--rubric FILE] [--change-rubric]
                                 [--accept-older] [--extensions FILE]
    python -m grader history DIR STUDENT
    python -m grader export canvas DIR --out FILE [--assignment NAME]
    python -m grader gradescope SUBMISSION_DIR --results FILE [--sandbox auto|required|off]
    python -m grader prepare [--sandbox auto|required|off]
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

Every command works on one assignment (grader/assignment.py): the folder `--assignment-dir` names (or
$GRADER_ASSIGNMENT), else the one the class folder's store remembers, else the folder holding the engine.

Each command is a module of this package (`grade.py`, `history.py`, ...): its arguments (`add_to`) and what it
does; this one assembles the parser and runs the command asked for.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__
from grader.assignment import AssignmentError, use_assignment
from grader.cli import desk, export, grade, gradescope, history, prepare, similarity, student, written
from grader.cli.common import choose_assignment
from grader.errors import GraderError
from grader.rubric import load_rubric
from grader.store import current_versions

COMMANDS = (grade, history, student, export, gradescope, prepare, written, desk, similarity)


class _PrintVersion(argparse.Action):
    """--version: one line, unwrapped (argparse's own action wraps it), computed only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **_: object) -> None:
        help_text = "print the version and the digests of what decides grades, and exit"
        super().__init__(option_strings, dest, nargs=0, help=help_text)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_line())
        parser.exit()


class _UseAssignment(argparse.Action):
    """--assignment-dir: the assignment is loaded as soon as it is read, so that --version after it reports it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: object, *_: object):
        try:
            use_assignment(value)
        except AssignmentError as error:
            parser.error(f"{error.says}{error}")
        setattr(namespace, self.dest, value)


def version_line() -> str:
    """The package's version and what decides its grades (the same digests the class store records), for the
    assignment in use (its rubric is the default one)."""
    versions = current_versions(load_rubric())
    return (
        f"messmaster-grader {__version__} (grader {versions.grader}, default rubric {versions.rubric}, "
        f"hidden cases {versions.cases})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="A notebook autograder")
    parser.add_argument("--version", action=_PrintVersion)
    parser.add_argument(
        "--assignment-dir",
        type=Path,
        action=_UseAssignment,
        metavar="DIR",
        help="the assignment's folder (its assignment.py, reference/, student_template/, secret/, rubric); "
        "default: the one the class folder was graded for, else this repository's",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line (`python -m grader`, or `messmaster-grader` once installed with pip)."""
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    try:
        choose_assignment(args)
        return args.run(args)
    except GraderError as error:  # every error of the grader's own, once: its message and its exit code
        print(f"error: {error.says}{error}", file=sys.stderr)
        return error.exit_code
