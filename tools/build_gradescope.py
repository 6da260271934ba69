"""Write dist/gradescope-autograder.zip: `setup.sh` and `run_autograder` at its root, the grader beside them.

Gradescope unpacks the zip into /autograder/source and runs `setup.sh` there
once; `run_autograder` then grades each submission. The zip holds the grader,
the reference, the hidden cases and holdout, and the students' files the
notebook needs: a fixed list of folders and files, never caches or tests.

Usage: python tools/build_gradescope.py [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "integrations" / "gradescope"
ZIP = ROOT / "dist" / "gradescope-autograder.zip"
SCRIPTS = ("setup.sh", "run_autograder")
SOURCES = (
    "requirements-runtime.txt",
    "grader",
    "reference/__init__.py",
    "reference/solutions.py",
    "secret/__init__.py",
    "secret/cases.toml",
    "secret/data/holdout.csv",
    "student_template/__init__.py",
    "student_template/messmaster_part2.ipynb",
    "student_template/util.py",
    "student_template/data/xor_pattern.csv",
)


def source_files() -> list[Path]:
    files = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            files.append(path)
    return files


def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry


def build_gradescope_zip(out: Path = ZIP) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for script in SCRIPTS:
            archive.writestr(_entry(script, executable=True), (INTEGRATION / script).read_bytes())
        for path in source_files():
            archive.writestr(_entry(str(path.relative_to(ROOT)), executable=False), path.read_bytes())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Write the Gradescope autograder zip.")
    parser.add_argument("--out", type=Path, default=ZIP)
    path = build_gradescope_zip(parser.parse_args().out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB): upload it as the assignment's autograder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
