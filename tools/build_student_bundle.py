"""Write dist/messmaster-part2-student.zip: what a student needs, and only that.

The bundle is a fixed list of files from student_template/ (never a folder
glob, so nothing new slips in); zip entries have fixed dates, so the same
sources give the same bytes.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "student_template"
BUNDLE = ROOT / "dist" / "messmaster-part2-student.zip"
FOLDER = "messmaster-part2"
FILES = ("messmaster_part2.ipynb", "util.py", "selfcheck.py", "data/xor_pattern.csv", "README.md", "Makefile")


def build_bundle(out: Path = BUNDLE) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in FILES:
            entry = zipfile.ZipInfo(f"{FOLDER}/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, (SOURCE / name).read_bytes())
    return out


def main() -> int:
    path = build_bundle()
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB, {len(FILES)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
