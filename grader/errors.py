"""The grader's own errors: one base, each kind saying what the command exits with.

A command that cannot start or go on (a rubric, roster or extensions file that does not read, a class folder
busy with another run, a rubric other than the class's, a cluster that does not answer) raises a `GraderError`;
the command line catches the base once, prints its message and exits with its code. What goes wrong with one
submission (an archive, a notebook, a kernel) is a `SubmissionError`: the pipeline turns it into that
student's result, and the class is graded on.
"""

from __future__ import annotations


class GraderError(Exception):
    """An error of the grader's own; the message is for people."""

    exit_code = 2  # the command could not start or go on; what was stored stays
    says = ""  # what the command line puts before the message ("cannot use the roster: ")


class SubmissionError(GraderError):
    """What goes wrong with one submission: its result says why, and the rest of the class is graded."""

    exit_code = 1  # someone needs a look


def require(condition: bool, message: str) -> None:
    """A check of a value read from a file: ValueError with `message` when it fails (the reader adds where)."""
    if not condition:
        raise ValueError(message)
