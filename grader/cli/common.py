"""What the commands share: the assignment worked on, a graded class opened under its own rubric, and whether
grading may start with the sandbox asked for."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from grader.assignment import AssignmentError, current_assignment, refuse_another, use_assignment
from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SandboxMode, sandbox_works, why_no_sandbox
from grader.store import STORE_FILE, ClassStore, class_assignment_of


def choose_assignment(args: argparse.Namespace) -> None:
    """The assignment a command works on: `--assignment-dir` (already in use), else the one the class folder's
    store remembers, else the default. A remembered folder that is gone, or another assignment than the class's,
    is refused with what to do."""
    folder = getattr(args, "folder", None) or getattr(args, "out", None)  # grade names its class --out
    kept = class_assignment_of(folder) if isinstance(folder, Path) else None
    if getattr(args, "assignment_dir", None) is not None:
        refuse_another(kept, current_assignment())
        return
    if kept is None:
        use_assignment(None)
        return
    if not kept.is_dir():
        raise AssignmentError(
            f"{folder} was graded for the assignment in {kept}, which is not there: pass --assignment-dir "
            "with where it is now"
        )
    use_assignment(kept)


@contextlib.contextmanager
def graded_class(args: argparse.Namespace) -> Iterator[tuple[ClassStore, Rubric] | None]:
    """The class store of `args.folder` (locked) and its rubric (the class's own, unless one is named); None,
    after saying why, when it cannot be had."""
    rubric = load_rubric(args.rubric) if args.rubric is not None else None
    if not (args.folder / STORE_FILE).is_file():
        print(f"error: {args.folder} holds no {STORE_FILE}: grade into it first", file=sys.stderr)
        yield None
        return
    with ClassStore.open(args.folder, rubric) as store:
        yield store, store.rubric


def sandbox_refusal(mode: SandboxMode) -> str:
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
