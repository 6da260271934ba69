"""The layout keeps the data flowing one way: no module imports from a stage after its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .helpers import GRADED_FUNCTIONS, ITEMS, MM, ROOT

GRADER = ROOT / "grader"
# intake -> run -> judge -> result -> store -> views; what serves every stage comes first, the wiring last
STAGES = {
    "errors": 0,
    "assignment": 0,
    "items": 0,
    "rubric": 0,
    "shared": 0,
    "student_text": 0,
    "points": 0,
    "intake": 1,
    "run": 2,
    "judge": 3,
    "result": 4,
    "store": 5,
    "decisions": 5,
    "grading": 5,
    "views": 6,
    "cluster": 7,
    "rescore": 8,
    "written_answers": 8,
    "reference_cache": 0,
    "desk": 8,
    "integrity": 8,
    "selfcheck": 8,
    "pipeline": 8,
    "cli": 9,
    "__main__": 9,
    "__init__": 9,
}


def stage_of(module: str) -> int:
    return STAGES[module.split(".")[1]]


def grader_imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("grader.")}
    return {name for name in found if name != "grader"}


# programs that run apart from the grader: the probe inside a submission's kernel, the kernels' warm parent
APART = ("kernel_probe.py", "recording.py", "zygote.py")
MODULES = sorted(p for p in GRADER.rglob("*.py") if p.name not in APART)


@pytest.mark.parametrize("name", APART)
def test_what_runs_beside_submission_code_imports_nothing_of_the_grader(name):
    """A forked kernel inherits every module its parent imported: none of them may be ours."""
    path = GRADER / "run" / name
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert imported and not {module for module in imported if module.split(".")[0] in ("grader", "reference")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(GRADER)))
def test_no_module_imports_a_later_stage(path):
    module = "grader." + ".".join(path.relative_to(GRADER).with_suffix("").parts)
    late = [name for name in grader_imports(path) if stage_of(name) > stage_of(module)]
    assert late == [], f"{module} reaches down the flow into {late}"


def test_only_the_run_stage_and_one_submissions_grading_start_kernels():
    starters = {str(p.relative_to(GRADER)) for p in MODULES if "grader.run.kernel" in grader_imports(p)}
    assert starters <= {"grading.py"}, starters


def test_no_two_modules_import_each_other_even_lazily():
    """Imports inside functions count too: the cluster and the pipeline once imported each other that way."""
    imports = {"grader." + ".".join(p.relative_to(GRADER).with_suffix("").parts): grader_imports(p) for p in MODULES}
    circles = sorted((a, b) for a, found in imports.items() for b in found if a < b and a in imports.get(b, set()))
    assert circles == []


def test_every_module_of_the_grader_belongs_to_a_stage():
    for path in MODULES:
        stage_of("grader." + ".".join(path.relative_to(GRADER).with_suffix("").parts))


def test_the_tools_import_what_exists():
    """The scripts beside the grader (bench, bundles, demo) name only functions that exist."""
    import importlib

    for name in (
        "bench",
        "build_student_bundle",
        "build_gradescope",
        "cluster_demo",
        "gradescope_resources",
        "calibrate_similarity",
    ):
        importlib.import_module(f"tools.{name}")


def test_the_items_are_listed_in_one_table_only():
    """The assignment's item table (assignment/items.py) is the one registry: no other module keys a table by the
    items' names.

    But for the hints' questions: they are stamped into the students' one-file self-check, which cannot import
    the table; their keys must then be the table's."""
    assert list(MM.catalogue.QUESTION_OF) == list(ITEMS)
    names = set(ITEMS)
    registries = []
    own = [p for p in (ROOT / "assignment").rglob("*.py") if p.name not in ("items.py", "catalogue.py")]
    for path in MODULES + own:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys & names) >= 3:
                    registries.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert registries == []


def test_the_rubric_the_cases_and_the_judges_are_looked_up_in_the_item_table(rubric, cases):
    assert list(rubric.items) == list(cases) == list(GRADED_FUNCTIONS) == list(ITEMS)
    for item, entry in ITEMS.items():
        assert type(rubric.items[item]) is entry.options
        assert {case.item for case in cases[item]} == {item}
        assert entry.judge is getattr(MM.judges, f"judge_{item}")
        assert GRADED_FUNCTIONS[item] == entry.function


# ---- the engine and its assignments ------------------------------------------------------------------------

# what an assignment's folder holds besides its describing module: the engine reads them by path only
ASSIGNMENT_PACKAGES = ("assignment", "reference", "secret", "student_template", "examples")


@pytest.mark.parametrize("path", sorted(GRADER.rglob("*.py")), ids=lambda p: str(p.relative_to(GRADER)))
def test_no_engine_module_imports_an_assignment(path):
    """The engine loads an assignment by path (grader/assignment.py), never by import, even lazily."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not {name for name in imported if name.split(".")[0] in ASSIGNMENT_PACKAGES}


def _code_names(source: str) -> set[str]:
    """The identifiers, attributes and string constants of a module's code (its docstrings and comments aside)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            names.add(node.value)
    return names


def test_no_engine_file_names_an_assignment():
    """No engine file (code, template, style) names an assignment: its title, its notebook, its data, its subject
    anywhere in the text; its graded functions in the code. Checked for every assignment in the repository."""
    from grader.assignment import load_assignment

    roots = [ROOT] + sorted(p.parent for p in (ROOT / "examples" / "assignments").glob("*/assignment.py"))
    assert len(roots) >= 2
    titles, functions = {"MessMaster", "Chihuahua", "muffin"}, set()
    for root in roots:
        assignment = load_assignment(root)
        titles |= {assignment.TITLE, assignment.SLUG, assignment.notebook.stem}
        titles |= {Path(name).stem for name in assignment.STUDENT_FILES if name.endswith(".csv")}
        functions |= set(assignment.graded_functions.values())
    # a graded function may share its name with PyTorch's machinery, which the engine's watch names
    import torch

    functions -= {name for name in functions if hasattr(torch.Tensor, name) or hasattr(torch.nn.Module, name)}
    found = []
    for path in sorted(p for p in GRADER.rglob("*") if p.suffix in (".py", ".j2", ".css", ".toml")):
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {name}" for name in sorted(titles) if name in text]
        if path.suffix == ".py":
            found += [f"{path.relative_to(ROOT)}: {name}" for name in sorted(functions & _code_names(text))]
    assert found == []
