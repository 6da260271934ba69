"""Measure moving a class to a rubric with other points: rescoring from stored outcomes against grading again.

Grades the example submissions with kernels (the real rubric), then fills the class store up to N students
by giving each example's grading (its tests, stored outcomes and pages) to N / 5 students, and times
`grade --change-rubric` with other points on that class: every student is rescored, none is run.
Printed: the kernel grading's time per student, the rescoring's per student and for the class, and the ratio.

Usage: python tools/bench_rescore.py [--students 300] [--jobs 2] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions"
RUBRIC = ROOT / "assignment" / "rubric.toml"
sys.path.insert(0, str(ROOT))

from grader.store import ClassStore  # noqa: E402
from grader.views.write import write_submission_views  # noqa: E402


def grade(paths: list[Path], out: Path, *extra: str) -> float:
    started = time.monotonic()
    command = [sys.executable, "-m", "grader", "grade", *map(str, paths), "--out", str(out), *extra]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"grading failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return time.monotonic() - started


def fill_class(out: Path, students: int) -> None:
    """Copies of each stored grading (tests and outcomes) for made-up students, up to `students` in all, with
    their pages (a class graded for real has them: a rescore redraws only what changed)."""
    db = sqlite3.connect(out / "grades.sqlite")
    gradings = [row[0] for row in db.execute("SELECT MAX(id) FROM gradings GROUP BY student")]
    columns = [row[1] for row in db.execute("PRAGMA table_info(gradings)") if row[1] not in ("id", "student")]
    listed = ", ".join(columns)
    test_columns = ", ".join(row[1] for row in db.execute("PRAGMA table_info(tests)") if row[1] != "grading_id")
    with db:
        for number in range(students - len(gradings)):
            source = gradings[number % len(gradings)]
            cursor = db.execute(
                f"INSERT INTO gradings (student, {listed}) SELECT ?, {listed} FROM gradings WHERE id = ?",
                (f"copy{number:04d}", source),
            )
            new = cursor.lastrowid
            db.execute(
                f"INSERT INTO tests (grading_id, {test_columns}) "
                f"SELECT ?, {test_columns} FROM tests WHERE grading_id = ?",
                (new, source),
            )
            db.execute("INSERT INTO evidence SELECT ?, data FROM evidence WHERE grading_id = ?", (new, source))
    db.close()
    with ClassStore.open(out) as store:
        for row in store.students():
            write_submission_views(row.result, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    examples = sorted(EXAMPLES.glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="bench-rescore-") as scratch:
        out = Path(scratch) / "grades"
        kernels = grade([EXAMPLES], out, "--jobs", str(args.jobs), "--sandbox", args.sandbox)
        fill_class(out, args.students)
        moved = Path(scratch) / "v2.toml"
        text = RUBRIC.read_text()
        moved.write_text(
            text.replace("[items.forward]\npoints = 10", "[items.forward]\npoints = 12").replace("q1d = 6", "q1d = 4")
        )
        rescoring = grade([examples[0]], out, "--rubric", str(moved), "--change-rubric", "--sandbox", args.sandbox)
        size = (out / "grades.sqlite").stat().st_size
    per_kernel = kernels / len(examples)
    print(
        f"grading with kernels: {len(examples)} notebooks in {kernels:.1f} s, {per_kernel:.2f} s a student "
        f"(--jobs {args.jobs})"
    )
    print(
        f"rescoring {args.students} students under other points: {rescoring:.1f} s in all (the command, start "
        f"to end), {rescoring / args.students * 1000:.0f} ms a student"
    )
    print(
        f"grading the class again with kernels would take about {per_kernel * args.students:.0f} s: "
        f"rescoring is {per_kernel * args.students / rescoring:.0f}x faster"
    )
    print(f"class store with {args.students} students and their outcomes: {size / 1024**2:.1f} MiB")


if __name__ == "__main__":
    main()
