"""Measure grading a class again when every submission is unchanged (issue 36: 100 a second or more).

Grades the example submissions with kernels, fills the class store up to N students by giving each example's
grading to made-up students (as tools/bench_rescore.py does), writes each student's file as it was graded, then
times `grade` on those files: every student answered from the store, no kernel. Printed: seconds, students a
second and CPU seconds, for each of `--runs` runs on a fresh copy of the same class.

Usage: python tools/bench_unchanged.py [--students 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions"
sys.path.insert(0, str(ROOT))

from grader.store import ClassStore  # noqa: E402
from grader.views.write import write_class_views  # noqa: E402
from tools.bench_rescore import fill_class, grade  # noqa: E402


def files_as_graded(out: Path, folder: Path) -> int:
    """Each current student's file, the example whose bytes its grading was made from; how many."""
    examples = {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in EXAMPLES.glob("*.ipynb")}
    db = sqlite3.connect(out / "grades.sqlite")
    rows = db.execute(
        "SELECT student, content_hash FROM gradings WHERE id IN (SELECT MAX(id) FROM gradings GROUP BY student)"
    ).fetchall()
    db.close()
    folder.mkdir()
    for student, content in rows:
        shutil.copy(examples[content], folder / f"{student}.ipynb")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-unchanged-") as scratch:
        scratch = Path(scratch)
        graded = scratch / "graded"
        grade([EXAMPLES], graded, "--jobs", "2", "--sandbox", "off")
        fill_class(graded, args.students)
        with ClassStore.open(graded) as store:  # the class as the last run left it: its report of these students
            write_class_views(store, store.rubric, graded)
        students = files_as_graded(graded, scratch / "files")
        for run in range(args.runs):
            out = scratch / f"run{run}"
            shutil.copytree(graded, out)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            command = [sys.executable, "-m", "grader", "grade", str(scratch / "files"), "--out", str(out)]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            seconds = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0 or f"({students} unchanged" not in done.stdout:
                raise SystemExit(f"not all unchanged ({done.returncode}):\n{done.stdout[-500:]}{done.stderr[-2000:]}")
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            print(
                f"run {run + 1}: {students} unchanged students in {seconds:.2f} s: {students / seconds:.0f}/s, "
                f"{cpu:.2f} CPU s ({cpu / students * 1000:.1f} ms a student)"
            )


if __name__ == "__main__":
    main()
