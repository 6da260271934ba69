"""The assignment the engine grades: a folder, loaded by path.

An assignment is a folder shaped like this repository's top level: `reference/` (the solved notebook, the
reference's code), `student_template/` (the notebook students get and the files beside it), `secret/` (hidden
cases, holdout data) and a rubric, with one Python module that describes it: `assignment.py`, or a package
`assignment/`, at the folder's top. The engine reads everything it knows of an assignment through `Assignment`
below, and names none: a course's next assignment is another folder.

One assignment is the process's at a time (`use_assignment`): the command line picks it (an option, or what
the class store remembers), workers are handed its folder when they start. Unset, it is the folder holding the
engine, which for this repository is the course's own assignment.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.errors import GraderError
from grader.shared import catalogue

DESCRIBING_MODULE = "assignment"  # assignment.py or assignment/__init__.py at the folder's top
ENVIRONMENT_VARIABLE = "GRADER_ASSIGNMENT"  # an assignment folder, for processes started without the option

# what every describing module must give, and what each is
REQUIRED = {
    "TITLE": "the assignment's name, as pages and reports show it",
    "SLUG": "a short file-name form of it (bundles are named after it)",
    "NOTEBOOK": "the template notebook, relative to the folder",
    "SOLVED_NOTEBOOK": "the solved notebook (its written answers are the model answers)",
    "STUDENT_FILES": "what students get beside the notebook, relative to student_template/",
    "RUBRIC": "the rubric's file",
    "CASES": "the hidden cases' definitions",
    "PUBLIC_CASES": "the self-check's public cases' definitions",
    "GRADING_INPUTS": "files and folders whose content decides a grade besides the notebook",
    "ITEMS": "the graded items: item -> grader.items.GradedItem",
    "QUESTION_MARKERS": "each written question's marker in the handout's text",
    "MISCONCEPTIONS": "the mistake catalogue: name -> grader.shared.catalogue.Misconception",
    "notebook_parameters": "rubric -> the values the grader sets in the notebook's `parameters` cell",
    "expected": "-> where judges read expected values from (the reference)",
    "training_rows": "-> the rows of the notebook's own training data (a result that many rows long came from it)",
    "plot_data": "(cases, outcomes) -> the numbers a feedback page draws",
    "figures": "plot data -> the feedback page's figures (grader.views.figures.Figure)",
}


class AssignmentError(GraderError):
    """The assignment folder cannot be used; the message names the folder and what is missing."""

    says = "cannot use the assignment: "


class AssignmentMismatch(AssignmentError):
    """A class folder is graded for one assignment; another was asked for."""


@dataclass(frozen=True, eq=False)
class Assignment:
    """One assignment: its folder and its describing module, with the module's names as attributes."""

    root: Path
    module: ModuleType

    def __getattr__(self, name: str) -> Any:
        # only reached for names the dataclass does not hold: the describing module's (REQUIRED lists them)
        if name.startswith("__") or name in ("root", "module"):
            raise AttributeError(name)
        return getattr(self.module, name)

    @property
    def notebook(self) -> Path:
        return self.root / self.module.NOTEBOOK

    @property
    def template_dir(self) -> Path:
        return self.root / "student_template"

    @property
    def solved_notebook(self) -> Path:
        return self.root / self.module.SOLVED_NOTEBOOK

    @property
    def rubric_file(self) -> Path:
        return self.root / self.module.RUBRIC

    @property
    def cases_file(self) -> Path:
        return self.root / self.module.CASES

    @property
    def public_cases_file(self) -> Path:
        return self.root / self.module.PUBLIC_CASES

    @property
    def graded_functions(self) -> dict[str, str]:
        """item -> the notebook's function it calls."""
        return {item: entry.function for item, entry in self.module.ITEMS.items()}

    @cached_property
    def code_digest(self) -> str:
        """A digest of the describing module's code (its package's, for a package): what draws and judges."""
        path = describing_module_path(self.root)
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]

    @cached_property
    def inputs_digest(self) -> str:
        """A digest of the files the module names as deciding a grade (GRADING_INPUTS: its code, the reference,
        the data), names and bytes: what the reference's numbers depend on besides their inputs."""
        digest = hashlib.sha256()
        for name in self.module.GRADING_INPUTS:
            path = self.root / name
            files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            for file in files if path.is_dir() else [path]:
                digest.update(str(file.relative_to(self.root)).encode() + b"\0" + file.read_bytes() + b"\0")
        return digest.hexdigest()

    @cached_property
    def warm_modules(self) -> tuple[str, ...]:
        """What a kernel of this assignment imports, imported ahead by a kernel kept ready (the grader's zygote, the
        self-check's spare kernel): the template notebook's imports and those of the helper modules students get,
        never the helpers themselves (imported from the notebook's folder, which no kernel kept ready knows), then
        the module's WARM_MODULES (what a first call imports lazily, say)."""
        notebook = json.loads(self.notebook.read_text())
        sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
        helpers = [name for name in self.module.STUDENT_FILES if name.endswith(".py")]
        sources += [(self.template_dir / name).read_text() for name in helpers]
        local = {Path(name).stem for name in helpers}
        found = [name for source in sources for name in _imported(source) if name.split(".")[0] not in local]
        found = [name for name in found if name != "__future__"]
        return tuple(dict.fromkeys([*found, *getattr(self.module, "WARM_MODULES", ())]))

    @property
    def kernel_helpers(self) -> str:
        """Source the probe defines in the kernel beside its own: the functions a `Call.via` names."""
        return getattr(self.module, "KERNEL_HELPERS", "")


def _imported(source: str) -> list[str]:
    """The absolute imports of a piece of code (IPython's magics and shell lines read as blank)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append(node.module)
    return found


def refuse_another(kept: Path | None, assignment: Assignment) -> None:
    """A class folder is graded for one assignment (`kept`, what its store remembers): AssignmentMismatch, saying
    what to do, when `assignment` is another."""
    if kept is not None and Path(kept) != assignment.root:
        raise AssignmentMismatch(
            f"this class is graded for the assignment in {kept}, not {assignment.root}: grade it with "
            f"--assignment-dir {kept}, or grade the other assignment into another class folder"
        )


def describing_module_path(root: Path) -> Path | None:
    for candidate in (root / f"{DESCRIBING_MODULE}.py", root / DESCRIBING_MODULE / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(root: Path) -> str:
    """The name an assignment's module is imported under: one per folder, the same in every process (so what
    a worker unpickles, say a rubric's item options, resolves to the module its parent loaded)."""
    return "graded_assignment_" + hashlib.sha256(str(root).encode()).hexdigest()[:12]


@cache
def load_assignment(root: Path) -> Assignment:
    """The assignment in folder `root`, its describing module imported once per process."""
    root = Path(root).resolve()
    path = describing_module_path(root)
    if path is None:
        raise AssignmentError(
            f"{root} has no {DESCRIBING_MODULE}.py or {DESCRIBING_MODULE}/__init__.py describing an assignment"
        )
    name = module_name(root)
    package = [str(path.parent)] if path.name == "__init__.py" else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=package)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    missing = [f"{key} ({what})" for key, what in REQUIRED.items() if not hasattr(module, key)]
    if missing:
        raise AssignmentError(f"{path} does not give: {'; '.join(missing)}")
    return Assignment(root, module)


def default_root() -> Path:
    """The folder an unset assignment is looked for in: $GRADER_ASSIGNMENT, else the folder holding the engine."""
    if chosen := os.environ.get(ENVIRONMENT_VARIABLE):
        return Path(chosen).resolve()
    return Path(__file__).resolve().parent.parent


_chosen: Path | None = None
_in_catalogue: Path | None = None  # whose mistakes grader.shared.catalogue holds


def use_assignment(root: Path | str | None) -> Assignment:
    """Make the assignment in `root` (None: the default) this process's, and return it."""
    global _chosen
    _chosen = load_assignment(Path(root).resolve() if root is not None else default_root()).root
    return current_assignment()


def current_assignment() -> Assignment:
    """This process's assignment."""
    global _in_catalogue
    assignment = load_assignment(_chosen or default_root())
    if _in_catalogue != assignment.root:  # the hints every verdict gives are the assignment's
        catalogue.MISCONCEPTIONS.clear()
        catalogue.MISCONCEPTIONS.update(assignment.MISCONCEPTIONS)
        _in_catalogue = assignment.root
    return assignment


@cache
def import_file(path: Path) -> ModuleType:
    """A module of an assignment's folder imported by its path (say the reference's code, which every assignment
    keeps as `reference/...`: a package name would be the same for two assignments), once per process."""
    path = Path(path).resolve()
    name = "graded_file_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
