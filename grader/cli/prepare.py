"""The reference's numbers computed ahead: `python -m grader prepare`.

Grading a submission reads numbers only the reference gives (the expected values of each hidden case, the
reference's trainings, the holdout's counts): the first grading computes them, in the grader's process, and
keeps them in the reference cache (`grader/reference_cache.py`). Each Gradescope submission runs in a fresh
container made from the autograder's image, so each computed them again: seconds at half a CPU, and the
reference's packages in memory beside the kernel's. `setup.sh` runs this command once, into the image.

It grades the assignment's solved notebook as a submission: what it computes is what a correct submission's
grading reads, and the solved notebook must get every automatic point (else the assignment is broken, and the
command says so and exits 1).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grader.assignment import current_assignment
from grader.cli.common import sandbox_refusal
from grader.grading import grade_one_folder
from grader.reference_cache import cache_folder
from grader.rubric import load_rubric
from grader.run.sandbox import SandboxMode


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "prepare",
        help="compute the reference's numbers ahead, into the reference cache (Gradescope's setup.sh runs it)",
        description="Grade the assignment's solved notebook once, so that the reference's numbers every grading "
        "reads are in the reference cache ($GRADER_CACHE, else the user's cache folder) before the first "
        "submission. Exits 1 when the solved notebook does not get every automatic point.",
    )
    command.add_argument("--sandbox", type=SandboxMode, choices=list(SandboxMode), default=SandboxMode.AUTO)
    command.add_argument("--rubric", type=Path, metavar="FILE", help="the rubric (default: the assignment's)")
    command.set_defaults(run=prepare)


def prepare(args: argparse.Namespace) -> int:
    folder = cache_folder()
    if folder is None:
        print(
            "error: the reference cache is off (GRADER_CACHE=off, or no home folder): nothing to prepare",
            file=sys.stderr,
        )
        return 2
    if refusal := sandbox_refusal(args.sandbox):
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    rubric = load_rubric(args.rubric)
    solved = current_assignment().solved_notebook
    with tempfile.TemporaryDirectory(prefix="grader-prepare-") as scratch:
        shutil.copy(solved, scratch)
        result = grade_one_folder(Path(scratch), rubric, args.sandbox)
    kept = sum(1 for _ in folder.rglob("*.npz")) if folder.is_dir() else 0
    print(
        f"the solved notebook: {result.score:g}/{rubric.automatic_total:g} automatic points; {kept} of the "
        f"reference's numbers kept in {folder}"
    )
    if result.score < rubric.automatic_total:
        failed = "; ".join(f"{test.name}: {test.problem}" for test in result.tests if not test.passed)
        print(
            f"error: the solved notebook ({solved.name}) loses points, so the assignment is broken: {failed}",
            file=sys.stderr,
        )
        return 1
    return 0
