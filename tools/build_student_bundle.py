"""Write dist/SLUG-student.zip for an assignment: what a student needs, and only that.

First the self-check is written: student_template/selfcheck.py, the engine's runner with the grader's judging
stamped in (the rubric's values, the judging framework, the assignment's judges and mistakes, the kernel's
calling code), and student_template/selfcheck_cases.npz, the public cases with the reference's expected values
as numbers (grader/selfcheck/bundle.py says what goes in). Then the zip: a fixed list of files of
student_template/. `make student-bundle` runs this for the course's assignment; a test checks that the committed
self-check and cases are current.

Usage: python tools/build_student_bundle.py [--check] [--assignment-dir DIR] [--out FILE]
       (--check: exit 1 if selfcheck.py or selfcheck_cases.npz is not current)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignment import Assignment, use_assignment  # noqa: E402
from grader.rubric import Rubric, load_rubric  # noqa: E402
from grader.selfcheck.bundle import (  # noqa: E402
    CASES_DATA,
    SELFCHECK,
    BundleError,
    build_bundle,
    bundle_files,
    cases_bytes,
    public_cases_data,
    selfcheck_source,
    stale_cases,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the students' self-check and zip for an assignment.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if selfcheck.py or selfcheck_cases.npz is not current"
    )
    parser.add_argument(
        "--assignment-dir", type=Path, default=None, help="the assignment's folder (default: this repository's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="the zip (default: dist/SLUG-student.zip)")
    args = parser.parse_args(argv)
    assignment = use_assignment(args.assignment_dir)
    rubric = load_rubric(assignment.rubric_file)
    try:
        return _build(assignment, rubric, args.check, args.out)
    except BundleError as error:
        print(f"cannot build the students' bundle: {error}", file=sys.stderr)
        return 2


def _build(assignment: Assignment, rubric: Rubric, check: bool, out: Path | None) -> int:
    stamped = selfcheck_source(assignment, rubric)
    selfcheck, cases = assignment.template_dir / SELFCHECK, assignment.template_dir / CASES_DATA
    stale = [selfcheck] if not selfcheck.is_file() or selfcheck.read_text() != stamped else []
    stale += [cases] if stale_cases(assignment, rubric) else []
    if check:
        for path in stale:
            print(f"{path} is stale: run `python tools/build_student_bundle.py`", file=sys.stderr)
        return 1 if stale else 0
    if selfcheck in stale:
        selfcheck.write_text(stamped)
        print(f"wrote {selfcheck}: the runner, the rubric's values and the grader's judging")
    if cases in stale:
        cases.write_bytes(cases_bytes(public_cases_data(assignment, rubric)))
        print(f"wrote {cases}: the public cases and their expected values")
    out = out or ROOT / "dist" / f"{assignment.SLUG}-student.zip"
    build_bundle(assignment, out, rubric)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {len(bundle_files(assignment))} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
