"""What the commands share: a graded class opened under its own rubric, and whether grading may start with the
sandbox asked for."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from grader.rubric import Rubric, load_rubric
from grader.run.sandbox import SandboxMode, sandbox_works, why_no_sandbox
from grader.store import STORE_FILE, ClassStore


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
