"""Measure the speed targets in one run and print the figures.

- the self-check's function checks on a finished notebook's functions (target: under 5 s),
- the self-check from a shell on a saved notebook, kernel start-up included (target: under 15 s),
- grading one submission end to end in the sandbox, and a batch with --jobs 2 (seconds per notebook).

Usage: .venv/bin/python tools/benchmark.py   (takes about two minutes)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.build_examples import OUT as EXAMPLES  # noqa: E402
from examples.build_examples import fixed_template  # noqa: E402
from grader.pipeline import grade_class  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from student_template import selfcheck  # noqa: E402
from tools.build_student_bundle import FOLDER, build_bundle  # noqa: E402


def main() -> None:
    template = nbformat.read(ROOT / "student_template" / "messmaster_part2.ipynb", as_version=4)
    finished = fixed_template(template)
    namespace = {"torch": torch, "F": F, "RANDOM_SEED": 10011}
    for cell in finished.cells:
        if "graded" in cell.metadata.get("tags", []):
            exec(cell.source, namespace)  # our own fixed template, not a submission
    started = time.perf_counter()
    outcomes = selfcheck.run_checks(namespace)
    checks = time.perf_counter() - started
    print(f"self-check, function checks: {checks:.2f} s for {len(outcomes)} checks (target < 5 s: {checks / 5:.0%})")

    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(build_bundle(Path(scratch) / "bundle.zip")) as archive:
            archive.extractall(scratch)
        folder = Path(scratch) / FOLDER
        nbformat.write(finished, folder / "finished.ipynb")
        started = time.perf_counter()
        subprocess.run([sys.executable, "selfcheck.py", "finished.ipynb"], cwd=folder, capture_output=True, check=True)
        shell = time.perf_counter() - started
    print(f"self-check from a shell, kernel included: {shell:.1f} s (target < 15 s: {shell / 15:.0%})")

    rubric = load_rubric()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        grade_class([EXAMPLES / "alice_correct.ipynb"], Path(out), rubric, jobs=1, sandbox="required")
        one = time.perf_counter() - started
    print(f"grading one submission (sandboxed, {rubric.run.grading_epochs} epochs): {one:.1f} s")
    count = len(list(EXAMPLES.glob("*.ipynb")))
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        grade_class([EXAMPLES], Path(out), rubric, jobs=2, sandbox="required")
        batch = time.perf_counter() - started
    print(
        f"grading {count} examples with --jobs 2: {batch:.1f} s, {batch / count:.1f} s per notebook; "
        f"a class of 300 would take about {300 * batch / count / 60:.0f} min"
    )


if __name__ == "__main__":
    main()
