"""Grade one class three ways and compare: on an idle machine, beside two CPU burners, and at half a CPU.

A grade must not depend on the machine. Each way grades the same submissions into a fresh class folder with
the same command (`python -m grader grade ... --jobs 2`); the scores, statuses and test results must be
equal, with no grader_error. Half a CPU needs root (a cgroup); without it that way is left out.

Usage: python tools/busy_class.py [--copies N] [--sandbox off] [SUBMISSIONS ...]   (default: the examples, once)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.gradescope_resources import Cgroup  # noqa: E402

EXAMPLES = ROOT / "examples" / "submissions"
BURNER = "while True: pass"


def grade(submissions: Path, out: Path, prefix: list[str], sandbox: str) -> tuple[float, dict]:
    """Grade the class into `out`; the seconds it took and, by student, (status, score, every test)."""
    command = [*prefix, sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--jobs", "2"]
    command += ["--sandbox", sandbox]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode not in (0, 1):
        raise SystemExit(f"grading failed ({run.returncode}):\n{run.stderr[-2000:]}")
    with open(out / "gradebook.csv", newline="") as gradebook:
        statuses = {row["student"]: row["status"] for row in csv.DictReader(gradebook)}
    graded = {}
    for results in sorted(out.glob("*/results.json")):
        report = json.loads(results.read_text())
        student = results.parent.name
        graded[student] = (statuses.get(student), report["score"], [(t["name"], t["score"]) for t in report["tests"]])
    return seconds, graded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", nargs="*", type=Path, default=sorted(EXAMPLES.glob("*.ipynb")))
    parser.add_argument("--copies", type=int, default=1, help="copies of each submission (default: 1)")
    parser.add_argument("--sandbox", default="auto", help="as `grade --sandbox` (off: kernels started afresh)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="busy-class-"))
    folder = scratch / "class"
    folder.mkdir()
    for path in args.submissions:
        for copy in range(args.copies):
            # a byte apart, so that no copy is answered from another's grading
            text = path.read_text().rstrip() + "\n" + " " * copy
            (folder / f"{path.stem}_{copy}.ipynb").write_text(text)
    ways: dict[str, tuple[float, dict]] = {}
    ways["idle"] = grade(folder, scratch / "idle", [], args.sandbox)
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(2)]
    try:
        ways["two burners"] = grade(folder, scratch / "busy", [], args.sandbox)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    if os.geteuid() == 0:
        group = Cgroup(f"messmaster-busy-class-{os.getpid()}", cpu=0.5, memory_bytes=16 * 1024**3)
        try:
            ways["half a CPU"] = grade(folder, scratch / "half", group.enter_command(), args.sandbox)
        finally:
            group.remove()
    reference = ways["idle"][1]
    same = True
    for way, (seconds, graded) in ways.items():
        errors = sum(status == "grader_error" for status, _, _ in graded.values())
        equal = graded == reference
        same = same and equal and errors == 0
        print(
            f"{way:<12} {len(graded)} submissions in {seconds:6.1f} s; grader errors: {errors}; "
            f"{'the same results as idle' if equal else 'DIFFERENT results from idle'}"
        )
        for student in sorted(set(graded) | set(reference)):
            if graded.get(student) != reference.get(student):
                print(f"    {student}: idle {reference.get(student)!r:.200}\n    {way}: {graded.get(student)!r:.200}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
