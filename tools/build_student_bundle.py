"""Write dist/messmaster-part2-student.zip: what a student needs, and only that.

First the self-check is stamped: the block between its SHARED WITH THE GRADER
markers is rewritten from the rubric (points, tolerances, each item's options)
and from the grader's own code that judges (`grader/shared/`: the cases' data,
the verdicts, the judges, the mistake catalogue) and calls (the kernel probe's
calling code and the recording of what runs), so that the students' checks
judge exactly as the grader does. Beside it, `selfcheck_cases.npz`: the public
cases (reference/public_cases.toml, built by the grader's own builders) with
the reference's expected values, as numbers. `make student-bundle` writes both
back to student_template/ (a test checks that the committed ones are current).

The bundle is a fixed list of files from student_template/ (never a folder
glob, so nothing new slips in), with the self-check stamped afresh; zip
entries have fixed dates, so the same sources give the same bytes.

Usage: python tools/build_student_bundle.py [--check]   (--check: exit 1 if either is not current)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignment import use_assignment  # noqa: E402
from grader.items import generate_cases  # noqa: E402
from grader.rubric import Rubric, load_rubric  # noqa: E402
from grader.shared import catalogue, judging, outcomes, verdicts  # noqa: E402
from grader.shared.outcomes import probe_calls  # noqa: E402

ASSIGNMENT = use_assignment(ROOT)
MESSMASTER = ASSIGNMENT.module  # its judges, catalogue, cases and reference (imported when first wanted)
importlib.import_module(f"{MESSMASTER.__name__}.reference_values")
ITEMS = ASSIGNMENT.ITEMS
GRADED_FUNCTIONS = ASSIGNMENT.graded_functions

SOURCE = ROOT / "student_template"
SELFCHECK = SOURCE / "selfcheck.py"
CASES_DATA = SOURCE / "selfcheck_cases.npz"
PUBLIC_CASES = ROOT / "reference" / "public_cases.toml"
RUN = ROOT / "grader" / "run"
# stamped in this order: each module's code after its imports (they import one another and the standard library):
# the engine's catalogue, then the assignment's (its MISCONCEPTIONS is the one hints read), the judging framework,
# then the assignment's judges
SHARED_MODULES = (catalogue, MESSMASTER.catalogue, outcomes, verdicts, judging, MESSMASTER.judges)
# and the code the grader runs in a kernel: the recording's factories, the probe's calling functions, the handout loop
KERNEL_FUNCTIONS = {
    RUN / "recording.py": ("_grader_watch", "_grader_recording", "_grader_install_watch"),
    RUN / "kernel_probe.py": ("_grader_call_all",),
    ROOT / "assignment" / "kernel_helpers.py": ("_grader_handout_loop",),
}
BUNDLE = ROOT / "dist" / "messmaster-part2-student.zip"
FOLDER = "messmaster-part2"
FILES = (
    "messmaster_part2.ipynb",
    "util.py",
    "selfcheck.py",
    "selfcheck_cases.npz",
    "data/xor_pattern.csv",
    "README.md",
    "Makefile",
    "requirements.txt",
)
STAMP_BEGIN = "# ---- BEGIN SHARED WITH THE GRADER"
STAMP_END = "# ---- END SHARED WITH THE GRADER ----"


def shared_constants(rubric: Rubric) -> dict[str, object]:
    """The rubric's values the self-check needs, under the names it uses them by."""
    return {
        "POINTS": {GRADED_FUNCTIONS[item]: _number(spec.points) for item, spec in rubric.items.items()},
        "WRITTEN_POINTS": _number(rubric.written_total),
        "RTOL": rubric.tolerance.rtol,
        "ATOL": rubric.tolerance.atol,
        "CALL_TIMEOUT": rubric.run.call_timeout,
        # each item's [items.NAME] table (its rule among them), and its entry in the item table
        "ITEM_OPTIONS": {item: json.loads(json.dumps(dataclasses.asdict(spec))) for item, spec in rubric.items.items()},
        "ITEM_TABLE": {
            item: {
                "function": entry.function,
                "judge": entry.judge.__name__,
                "parts": list(entry.parts),
                "changes_inputs": entry.changes_inputs,
                "composes": list(entry.composes),
            }
            for item, entry in ITEMS.items()
            if item in rubric.items
        },
    }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _module_code(path: Path) -> str:
    """A module's code after its docstring and imports."""
    source = path.read_text()
    body = ast.parse(source).body
    first = next(node for node in body if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)))
    line = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    return "\n".join(source.splitlines()[line - 1 - _comments_above(source, line) :]).strip("\n")


def _comments_above(source: str, lineno: int) -> int:
    """How many comment lines stand right above line `lineno` (they belong to it)."""
    lines, count = source.splitlines(), 0
    while lineno - 2 - count >= 0 and lines[lineno - 2 - count].startswith("#"):
        count += 1
    return count


def _functions_code(path: Path, names: tuple[str, ...]) -> str:
    """The top-level functions `names` of a file, in its order."""
    source = path.read_text()
    lines = source.splitlines()
    found = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name in names]
    return "\n\n\n".join("\n".join(lines[node.lineno - 1 : node.end_lineno]) for node in found)


def shared_block(rubric: Rubric) -> str:
    lines = [f"{STAMP_BEGIN}: stamped by `make student-bundle` from the course's rubric; do not edit ----"]
    lines += [f"{name} = {value!r}" for name, value in shared_constants(rubric).items()]
    code = [_module_code(Path(module.__file__)) for module in SHARED_MODULES]
    code += [_functions_code(path, names) for path, names in KERNEL_FUNCTIONS.items()]
    return "\n".join([*lines, "", "", "\n\n\n".join(code), "", "", STAMP_END])


def public_cases_data(rubric: Rubric) -> dict[str, np.ndarray]:
    """The public cases as the self-check reads them: the probe's calls and their arrays, and the reference's
    expected values for each (what `ReferenceExpected` answers the judges), under `expected/ITEM/CASE/...`."""
    cases = generate_cases(rubric.run.grading_epochs, PUBLIC_CASES)
    expected = MESSMASTER.reference_values.ReferenceExpected()
    solutions = MESSMASTER.reference_values.solutions
    arrays: dict[str, np.ndarray] = {}
    described = {}
    for item, item_cases in cases.items():
        calls, inputs = probe_calls(item_cases)
        arrays |= {f"{item}/{name}": value for name, value in inputs.items()}
        described[item] = {"cases": [{"name": c.name, "spec": c.spec} for c in item_cases], "calls": calls}
        for case in item_cases:
            base = f"expected/{item}/{case.name}"
            if item in ("loss_fn", "forward", "backward"):
                arrays |= {f"{base}/{name}": value for name, value in expected.values(case).items()}
            elif item == "train_manual":
                call = case.graded_calls[0]
                torch.manual_seed(call.seed)  # as the probe seeds before it calls train_manual
                start = [p.numpy() for p in solutions.init_params(case.arrays["X"].shape[1], 10, 2)]
                arrays |= {f"{base}/start/{index}": value for index, value in enumerate(start)}
                arrays[f"{base}/history"] = expected.training(case, start)
                if "n" in case.spec:
                    arrays[f"{base}/history_on_split"] = expected.training(case, start, on_split=True)
            elif item == "optimizers":
                for optimizer in ("SGD", "Adam"):
                    arrays[f"{base}/{optimizer}"] = expected.optimizer(case, optimizer)
                    if "n" in case.spec:
                        arrays[f"{base}/{optimizer}_on_split"] = expected.optimizer(case, optimizer, on_split=True)
    arrays["holdout/X"], arrays["holdout/y"] = MESSMASTER.cases.notebook_held_back()
    arrays["meta"] = np.array(json.dumps({"items": described, "training_rows": ASSIGNMENT.training_rows()}))
    return arrays


def cases_bytes(rubric: Rubric) -> bytes:
    """The public cases as an `.npz` (no pickles) whose entries have fixed dates: the same values, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in public_cases_data(rubric).items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as file:
                np.lib.format.write_array(file, np.asanyarray(value), allow_pickle=False)
    return buffer.getvalue()


def stale_cases(rubric: Rubric, path: Path = CASES_DATA) -> list[str]:
    """What of the public cases' data at `path` differs from what the rubric and the reference give now."""
    if not path.is_file():
        return [f"{path.name} is missing"]
    with np.load(path, allow_pickle=False) as stored:
        return differences(public_cases_data(rubric), {name: stored[name] for name in stored.files})


def differences(fresh: dict[str, np.ndarray], kept: dict[str, np.ndarray]) -> list[str]:
    """The arrays missing from one side, or of other values (floats within a millionth of each other agree)."""
    differ = sorted(set(fresh) ^ set(kept))
    for name in sorted(set(fresh) & set(kept)):
        a, b = fresh[name], kept[name]
        same = a.shape == b.shape and (
            bool(np.allclose(a, b, rtol=1e-6, atol=1e-7)) if a.dtype.kind == "f" else bool(np.array_equal(a, b))
        )
        differ += [] if same else [name]
    return differ


def stamp_selfcheck(text: str, rubric: Rubric) -> str:
    """The self-check's text with its shared block rewritten, in the project's format; ValueError when the
    markers are missing."""
    start, end = text.find(STAMP_BEGIN), text.find(STAMP_END)
    if start < 0 or end < start:
        raise ValueError(f"{SELFCHECK.name} lacks the markers {STAMP_BEGIN!r} ... {STAMP_END!r}")
    stamped = text[:start] + shared_block(rubric) + text[end + len(STAMP_END) :]
    formatter = [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(SELFCHECK), "-"]
    return subprocess.run(formatter, input=stamped, capture_output=True, text=True, check=True, cwd=ROOT).stdout


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
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if selfcheck.py or selfcheck_cases.npz is not current"
    )
    args = parser.parse_args()
    rubric = load_rubric()
    stamped = stamp_selfcheck(SELFCHECK.read_text(), rubric)
    stale = [SELFCHECK.name] if SELFCHECK.read_text() != stamped else []
    stale += [CASES_DATA.name] if stale_cases(rubric) else []
    if args.check:
        for name in stale:
            print(f"student_template/{name} is stale: run `make student-bundle`", file=sys.stderr)
        return 1 if stale else 0
    if SELFCHECK.name in stale:
        SELFCHECK.write_text(stamped)
        print(f"stamped {SELFCHECK.relative_to(ROOT)} from the rubric")
    if CASES_DATA.name in stale:
        CASES_DATA.write_bytes(cases_bytes(rubric))
        print(f"wrote {CASES_DATA.relative_to(ROOT)}: the public cases and their expected values")
    path = build_bundle()
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB, {len(FILES)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
