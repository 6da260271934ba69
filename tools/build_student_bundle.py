"""Write dist/messmaster-part2-student.zip: what a student needs, and only that.

First the self-check is stamped: the block between its SHARED WITH THE GRADER
markers is rewritten from the rubric (points, tolerances, the weights' band,
the same-start tolerance) and from `grader/shared_with_selfcheck.py` (the value
comparison, the parameter checks, the gradient hints, the parameter
injection), so that the students' checks judge as the grader does. `make student-bundle`
also writes the stamped file back to student_template/ (a test checks that the
committed one is current).

The bundle is a fixed list of files from student_template/ (never a folder
glob, so nothing new slips in), with the self-check stamped afresh; zip
entries have fixed dates, so the same sources give the same bytes.

Usage: python tools/build_student_bundle.py [--check]   (--check: exit 1 if selfcheck.py is not current)
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.items import GRADED_FUNCTIONS, InitParamsItem, OptimizersItem  # noqa: E402
from grader.rubric import Rubric, load_rubric  # noqa: E402
from grader.shared import catalogue as shared_with_selfcheck  # noqa: E402

SOURCE = ROOT / "student_template"
SELFCHECK = SOURCE / "selfcheck.py"
RECORDING = ROOT / "grader" / "run" / "recording.py"
BUNDLE = ROOT / "dist" / "messmaster-part2-student.zip"
FOLDER = "messmaster-part2"
FILES = (
    "messmaster_part2.ipynb",
    "util.py",
    "selfcheck.py",
    "data/xor_pattern.csv",
    "README.md",
    "Makefile",
    "requirements.txt",
)
STAMP_BEGIN = "# ---- BEGIN SHARED WITH THE GRADER"
STAMP_END = "# ---- END SHARED WITH THE GRADER ----"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def shared_constants(rubric: Rubric) -> dict[str, object]:
    """The rubric's values the self-check needs, under the names it uses them by."""
    init_params: InitParamsItem = rubric.items["init_params"]
    optimizers: OptimizersItem = rubric.items["optimizers"]
    return {
        "POINTS": {GRADED_FUNCTIONS[item]: _number(spec.points) for item, spec in rubric.items.items()},
        "WRITTEN_POINTS": _number(rubric.written_total),
        "RTOL": rubric.tolerance.rtol,
        "ATOL": rubric.tolerance.atol,
        "WEIGHT_STD": init_params.weight_std,
        "WEIGHT_STD_MIN_SIZE": init_params.weight_std_min_size,
        "WEIGHT_MAX_ABS": init_params.weight_max_abs,
        "SAME_START_RTOL": optimizers.same_start_rtol,
        "SAME_START_ATOL": optimizers.same_start_atol,
        # the rules on a function's own code, so that the self-check fails what the grader zeroes by rule
        "RULE_IDENTIFIERS": {
            GRADED_FUNCTIONS[item]: list(spec.rule.identifiers) for item, spec in rubric.items.items() if spec.rule
        },
        "RULE_REASONS": {GRADED_FUNCTIONS[item]: spec.rule.reason for item, spec in rubric.items.items() if spec.rule},
        # and on what runs while it is called, and on what it returns: recorded as the grader records it
        "RULE_WATCH": {
            GRADED_FUNCTIONS[item]: list(spec.rule.watch) for item, spec in rubric.items.items() if spec.rule
        },
        "RULE_AUTOGRAD_HISTORY": {
            GRADED_FUNCTIONS[item]: spec.rule.autograd_history for item, spec in rubric.items.items() if spec.rule
        },
    }


def _shared_code() -> str:
    """shared_with_selfcheck.py after its imports (the self-check imports numpy itself, at its top)."""
    source = Path(shared_with_selfcheck.__file__).read_text()
    imports = [node for node in ast.parse(source).body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(source.splitlines()[imports[-1].end_lineno :]).strip("\n")


def _recording_code() -> str:
    """run/recording.py's factory of the Recording class, the grader's own record of what runs during a call."""
    source = RECORDING.read_text()
    start = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef))
    return "\n".join(source.splitlines()[start.lineno - 1 :]).strip("\n")


def _literal(value: object) -> str:
    """A value as Python source the formatter keeps as it is (text in double quotes)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (str, list)) else repr(value)


def shared_block(rubric: Rubric) -> str:
    lines = [f"{STAMP_BEGIN}: stamped by `make student-bundle` from the course's rubric; do not edit ----"]
    for name, value in shared_constants(rubric).items():
        if isinstance(value, dict):  # one entry a line, as the formatter keeps it
            lines += [f"{name} = {{", *(f'    "{key}": {_literal(entry)},' for key, entry in value.items()), "}"]
        else:
            lines.append(f"{name} = {_literal(value)}")
    return "\n".join([*lines, "", "", _shared_code(), "", "", _recording_code(), "", "", STAMP_END])


def stamp_selfcheck(text: str, rubric: Rubric) -> str:
    """The self-check's text with its shared block rewritten; ValueError when the markers are missing."""
    start, end = text.find(STAMP_BEGIN), text.find(STAMP_END)
    if start < 0 or end < start:
        raise ValueError(f"{SELFCHECK.name} lacks the markers {STAMP_BEGIN!r} ... {STAMP_END!r}")
    return text[:start] + shared_block(rubric) + text[end + len(STAMP_END) :]


def build_bundle(out: Path = BUNDLE, rubric: Rubric | None = None) -> Path:
    """Zip the students' files into `out`, the self-check freshly stamped from `rubric` (default: the course's)."""
    stamped = stamp_selfcheck(SELFCHECK.read_text(), rubric or load_rubric())
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in FILES:
            entry = zipfile.ZipInfo(f"{FOLDER}/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            if name == SELFCHECK.name:
                data = stamped.encode()
            else:
                data = (SOURCE / name).read_bytes()
            bundle.writestr(entry, data)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Stamp the self-check and write the students' zip.")
    parser.add_argument("--check", action="store_true", help="exit 1 if selfcheck.py differs from its stamp")
    args = parser.parse_args()
    stamped = stamp_selfcheck(SELFCHECK.read_text(), load_rubric())
    if SELFCHECK.read_text() != stamped:
        if args.check:
            print("student_template/selfcheck.py is stale: run `make student-bundle`", file=sys.stderr)
            return 1
        SELFCHECK.write_text(stamped)
        print(f"stamped {SELFCHECK.relative_to(ROOT)} from the rubric")
    if args.check:
        return 0
    path = build_bundle()
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB, {len(FILES)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
