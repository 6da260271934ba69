"""The students' self-check for any assignment, and the zip students get: built, never hand-written.

`selfcheck.py` is written whole into the assignment's student_template/: the runner (runner.py beside this
module: it runs a saved notebook, calls the graded functions, prints the verdicts) around a block stamped from
what the grader judges with: the rubric's values, the engine's judging framework (`grader/shared/`), the
assignment's own judges and mistakes (its `SELFCHECK_SOURCES`), and the code the grader runs in a kernel (the
recording, the probe's calling code, the assignment's kernel helpers). Beside it, `selfcheck_cases.npz`: the
assignment's public cases, built by its own case builders, with the values its judges will ask for, computed
by the reference and shipped as numbers (never the reference's code).

What an assignment's describing module gives for its self-check (docs/writing-an-assignment.md):

- `SELFCHECK_SOURCES`: its files stamped after the framework (catalogue, judges, a `ShippedValues` subclass):
  their code after their imports, which may be the standard library, numpy and `grader.shared` only;
- `SELFCHECK_EXPECTED` (default "ShippedValues"): the class answering the judges from the shipped numbers;
- `shipped_values(case, expected)` (default `expected.values(case)`), `shipped_extras()` (default none): the
  numbers shipped per public case, and besides them;
- `SELFCHECK_PARAMETERS` (default none): the notebook's parameters when the self-check runs it from a shell;
- `SELFCHECK_TRAININGS` (default none): function -> the epochs its signature defaults to in the handout;
- `BUNDLE_FILES` (default none): more of student_template/ for the zip (a README, a Makefile, requirements);

A kernel the self-check keeps ready for the next check imports the assignment's `warm_modules` ahead (as the
grader's zygote does, grader/assignment.py).
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np

from grader.assignment import Assignment
from grader.errors import GraderError
from grader.items import generate_cases
from grader.rubric import Rubric
from grader.shared import catalogue, judging, outcomes, shipped, verdicts
from grader.shared.outcomes import probe_calls

RUNNER = Path(__file__).with_name("runner.py")
ENGINE = Path(__file__).resolve().parent.parent
# the engine's code stamped first, in this order (each module's code after its imports: they import one another)
SHARED_MODULES: tuple[ModuleType, ...] = (catalogue, outcomes, verdicts, judging, shipped)
# and the code the grader runs in a kernel: the recording's factories, the probe's calling functions
KERNEL_FUNCTIONS = {
    ENGINE / "run" / "recording.py": (
        "_grader_watch",
        "_grader_recording",
        "_grader_install_watch",
        "_grader_collect_less_often",
    ),
    ENGINE / "run" / "kernel_probe.py": ("_grader_call_all",),
}
SELFCHECK = "selfcheck.py"
CASES_DATA = "selfcheck_cases.npz"
STAMP_BEGIN = "# ---- BEGIN SHARED WITH THE GRADER"
STAMP_END = "# ---- END SHARED WITH THE GRADER ----"
FIXED_DATE = (2026, 1, 1, 0, 0, 0)  # zip entries' dates: the same sources give the same bytes


class BundleError(GraderError):
    """The assignment cannot have a self-check as it stands; the message says what it lacks."""

    says = "cannot build the students' bundle: "


def shared_constants(assignment: Assignment, rubric: Rubric) -> dict[str, object]:
    """The rubric's and the assignment's values the self-check needs, under the names it uses them by."""
    items = assignment.ITEMS
    return {
        "POINTS": {items[item].function: _number(spec.points) for item, spec in rubric.items.items()},
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
            for item, entry in items.items()
            if item in rubric.items
        },
        "NOTEBOOK_SIZES": dict(getattr(assignment.module, "NOTEBOOK_SIZES", {})),
        "NOTEBOOK_PARAMETERS": dict(getattr(assignment.module, "SELFCHECK_PARAMETERS", {})),
        "TRAININGS": dict(getattr(assignment.module, "SELFCHECK_TRAININGS", {})),
        "WARM_MODULES": list(assignment.warm_modules),
    }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def module_code(source: str) -> str:
    """A module's code after its docstring and imports (with the comments right above its first statement)."""
    body = ast.parse(source).body
    first = next(node for node in body if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)))
    line = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    lines = source.splitlines()
    above = 0
    while line - 2 - above >= 0 and lines[line - 2 - above].startswith("#"):
        above += 1
    return "\n".join(lines[line - 1 - above :]).strip("\n")


def functions_code(path: Path, names: tuple[str, ...]) -> str:
    """The top-level functions `names` of a file, in its order."""
    source = path.read_text()
    lines = source.splitlines()
    found = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name in names]
    return "\n\n\n".join("\n".join(lines[node.lineno - 1 : node.end_lineno]) for node in found)


def assignment_sources(assignment: Assignment) -> list[Path]:
    """The assignment's files stamped into its self-check; BundleError where it names none or a missing one."""
    names = getattr(assignment.module, "SELFCHECK_SOURCES", None)
    if not names:
        raise BundleError(
            f"{assignment.TITLE}: its module names no SELFCHECK_SOURCES (the files holding its judges and mistakes, "
            "stamped into the students' self-check)"
        )
    paths = [assignment.root / name for name in names]
    if missing := [str(p) for p in paths if not p.is_file()]:
        raise BundleError(f"{assignment.TITLE}: SELFCHECK_SOURCES names files that do not exist: {', '.join(missing)}")
    return paths


def shared_block(assignment: Assignment, rubric: Rubric) -> str:
    lines = [f"{STAMP_BEGIN}: stamped by `make student-bundle` from the course's rubric; do not edit ----"]
    lines += [f"{name} = {value!r}" for name, value in shared_constants(assignment, rubric).items()]
    code = [module_code(Path(module.__file__).read_text()) for module in SHARED_MODULES]
    code += [module_code(path.read_text()) for path in assignment_sources(assignment)]
    code += [functions_code(path, names) for path, names in KERNEL_FUNCTIONS.items()]
    if assignment.kernel_helpers:
        code.append(module_code(assignment.kernel_helpers))
    code.append(f"SHIPPED_EXPECTED = {getattr(assignment.module, 'SELFCHECK_EXPECTED', 'ShippedValues')}")
    return "\n".join([*lines, "", "", "\n\n\n".join(code), "", "", STAMP_END])


def stamped_imports(sources: list[str]) -> list[str]:
    """The imports the stamped code makes of the standard library and numpy (one line each): what it imports of
    the grader is stamped beside it."""
    found = []
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, ast.Import) or (
                isinstance(node, ast.ImportFrom) and not node.level and node.module not in ("__future__", None)
            ):
                names = [alias.name for alias in node.names]
                if not any(name.split(".")[0] == "grader" for name in [getattr(node, "module", "") or "", *names]):
                    found.append(ast.unparse(node))
    return list(dict.fromkeys(found))


def _ruff(*arguments: str, text: str) -> str:
    command = [sys.executable, "-m", "ruff", *arguments, "--isolated", "--line-length", "120"]
    command += ["--target-version", "py311", "-"]
    return subprocess.run(command, input=text, capture_output=True, text=True).stdout or text


def selfcheck_source(assignment: Assignment, rubric: Rubric) -> str:
    """The students' selfcheck.py for the assignment: the runner with the shared block stamped in and the imports
    that block needs, the unused ones dropped, sorted and formatted as the project's code is."""
    runner = RUNNER.read_text()
    start, end = runner.find(STAMP_BEGIN), runner.find(STAMP_END)
    text = runner[:start] + shared_block(assignment, rubric) + runner[end + len(STAMP_END) :]
    named = {"ASSIGNMENT_TITLE": assignment.TITLE, "NOTEBOOK_FILE": assignment.notebook.name}
    named["FIRST_ITEM"] = next(iter(rubric.items))
    for token, value in named.items():  # the runner's docstring, said of this assignment
        text = text.replace(token, value)
    sources = [Path(module.__file__).read_text() for module in SHARED_MODULES]
    sources += [path.read_text() for path in assignment_sources(assignment)] + [assignment.kernel_helpers]
    first_import = text.index("\nfrom __future__ import annotations\n") + len("\nfrom __future__ import annotations\n")
    text = text[:first_import] + "\n".join(stamped_imports(sources)) + "\n" + text[first_import:]
    text = _ruff("check", "--select", "F401,I", "--fix", "--quiet", text=text)
    return _ruff("format", text=text)


def public_cases_data(assignment: Assignment, rubric: Rubric) -> dict[str, np.ndarray]:
    """The public cases as the self-check reads them: the probe's calls and their arrays by item, what the judges
    will ask of each (under `expected/ITEM/CASE/...`), what the assignment ships besides, and a JSON `meta`."""
    cases = generate_cases(rubric.run.grading_epochs, assignment.public_cases_file)
    expected = assignment.expected()
    values = getattr(assignment.module, "shipped_values", lambda case, expected: expected.values(case))
    arrays: dict[str, np.ndarray] = {}
    described = {}
    for item, item_cases in cases.items():
        calls, inputs = probe_calls(item_cases)
        arrays |= {f"{item}/{name}": value for name, value in inputs.items()}
        described[item] = {"cases": [{"name": c.name, "spec": c.spec} for c in item_cases], "calls": calls}
        for case in item_cases:
            found = values(case, expected)
            arrays |= {f"expected/{item}/{case.name}/{name}": np.asarray(value) for name, value in found.items()}
    extras = getattr(assignment.module, "shipped_extras", dict)()
    arrays |= {name: np.asarray(value) for name, value in extras.items()}
    arrays["meta"] = np.array(json.dumps({"items": described, "training_rows": assignment.training_rows()}))
    return arrays


def cases_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The public cases as an `.npz` (no pickles) whose entries have fixed dates: the same values, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as file:
                np.lib.format.write_array(file, np.asanyarray(value), allow_pickle=False)
    return buffer.getvalue()


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


def stale_cases(assignment: Assignment, rubric: Rubric) -> list[str]:
    """What of the committed public cases' data differs from what the rubric and the reference give now."""
    path = assignment.template_dir / CASES_DATA
    if not path.is_file():
        return [f"{path.name} is missing"]
    with np.load(path, allow_pickle=False) as stored:
        return differences(public_cases_data(assignment, rubric), {name: stored[name] for name in stored.files})


def bundle_files(assignment: Assignment) -> list[str]:
    """What the students' zip holds, relative to student_template/: a fixed list (never a folder's glob, so
    nothing new slips in)."""
    names = [assignment.notebook.name, *assignment.STUDENT_FILES, SELFCHECK, CASES_DATA]
    names += list(getattr(assignment.module, "BUNDLE_FILES", ()))
    return list(dict.fromkeys(names))


def build_bundle(assignment: Assignment, out: Path, rubric: Rubric) -> Path:
    """Zip the students' files into `out` under a folder named after the assignment, the self-check freshly
    stamped from `rubric`."""
    names = bundle_files(assignment)
    if missing := [name for name in names if name != SELFCHECK and not (assignment.template_dir / name).is_file()]:
        raise BundleError(f"{assignment.TITLE}: the students' zip names files student_template/ lacks: {missing}")
    stamped = selfcheck_source(assignment, rubric)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in names:
            entry = zipfile.ZipInfo(f"{assignment.SLUG}/{name}", date_time=FIXED_DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            data = stamped.encode() if name == SELFCHECK else (assignment.template_dir / name).read_bytes()
            bundle.writestr(entry, data)
    return out
