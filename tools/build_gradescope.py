"""Write dist/gradescope-autograder.zip: `setup.sh` and `run_autograder` at its root, the grader beside them.

Gradescope unpacks the zip into /autograder/source and runs `setup.sh` there
once; `run_autograder` then grades each submission. The zip holds the engine
(`grader/`) and, beside it, the assignment it grades as the engine reads it:
its describing module and rubric, the hidden cases and holdout, the reference's
code and solved notebook (`setup.sh` grades it once: `python -m grader prepare`),
and the students' files the notebook needs. A fixed list, never caches or tests:
the engine's files, and what the assignment's module names.

Usage: python tools/build_gradescope.py [--out FILE] [--assignment-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignment import Assignment, describing_module_path, load_assignment  # noqa: E402

INTEGRATION = ROOT / "integrations" / "gradescope"
ZIP = ROOT / "dist" / "gradescope-autograder.zip"
SCRIPTS = ("setup.sh", "run_autograder")
ENGINE = ("requirements-runtime.txt", "grader")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [path]


def assignment_files(assignment: Assignment) -> list[Path]:
    """What grading the assignment reads: its module, its rubric, its hidden cases, the template notebook and the
    files beside it, what its module names as deciding a grade, and the solved notebook (graded once at setup)."""
    describing = describing_module_path(assignment.root)
    names = [describing.parent if describing.name == "__init__.py" else describing]
    names += [assignment.rubric_file, assignment.cases_file, assignment.notebook, assignment.solved_notebook]
    names += [assignment.template_dir / name for name in assignment.STUDENT_FILES]
    names += [assignment.root / name for name in assignment.GRADING_INPUTS]
    return list(dict.fromkeys(path for name in names for path in _files(name)))


def source_files(assignment: Assignment) -> list[tuple[Path, str]]:
    """Each file of the zip with its name there: the engine's, then the assignment's at the zip's root."""
    files = [(path, str(path.relative_to(ROOT))) for name in ENGINE for path in _files(ROOT / name)]
    return files + [(path, str(path.relative_to(assignment.root))) for path in assignment_files(assignment)]


def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry


def build_gradescope_zip(out: Path = ZIP, assignment_root: Path = ROOT) -> Path:
    """The autograder zip for the assignment in `assignment_root` (default: this repository's)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for script in SCRIPTS:
            archive.writestr(_entry(script, executable=True), (INTEGRATION / script).read_bytes())
        for path, name in source_files(load_assignment(assignment_root)):
            archive.writestr(_entry(name, executable=False), path.read_bytes())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Write the Gradescope autograder zip.")
    parser.add_argument("--out", type=Path, default=ZIP)
    parser.add_argument("--assignment-dir", type=Path, default=ROOT, metavar="DIR", help="the assignment's folder")
    args = parser.parse_args()
    path = build_gradescope_zip(args.out, args.assignment_dir)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB): upload it as the assignment's autograder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
