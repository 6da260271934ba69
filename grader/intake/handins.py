"""What one student handed in, whatever its form: the file to grade, newest first, or why there is none.

A student's files come from the export (`layouts.py`). Archives among them are
unpacked (with `archives.py`'s limits, a few levels deep), a Python script in
jupytext's percent or light format becomes a notebook, and of several notebooks
the one named like the assignment's, then the newest by the export's evidence,
then the one defining the most graded functions is graded. A student who handed
in only other files gets no notebook and the reason, never "missing".
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import nbformat

from grader.assignment import current_assignment
from grader.intake.archives import MAX_TOTAL_BYTES, ArchiveError, extract_archive
from grader.intake.notebooks import MAX_NOTEBOOK_BYTES, graded_definitions
from grader.shared.verdicts import code_span

# an archive inside an archive inside ...: deeper than this is not a hand-in but a puzzle
MAX_ARCHIVE_DEPTH = 3
JUNK_PARTS = {".ipynb_checkpoints", "__MACOSX", "__pycache__", ".DS_Store"}


@dataclass(frozen=True, order=True)
class HandedIn:
    """The export's evidence of when a file was handed in; only evidence of the same kind compares.

    Canvas numbers every uploaded file (a resubmission's files get higher attachment ids, and a file
    name already used gets a `-N` suffix); Gradescope's export gives each submission its time.
    """

    kind: str  # "canvas attachment" or "time"
    rank: tuple[float, ...]
    shown: str  # for people: "attachment 5009 (-1)", "2026-11-02 10:00:00+00:00"
    time: datetime | None = None  # when it was handed in, where the export says

    def newer_than(self, other: HandedIn | None) -> bool:
        return other is not None and self.kind == other.kind and self.rank > other.rank

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "rank": list(self.rank),
            "shown": self.shown,
            "time": self.time.isoformat() if self.time else None,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> HandedIn | None:
        if not data:
            return None
        time = datetime.fromisoformat(data["time"]) if data.get("time") else None
        return cls(data["kind"], tuple(data["rank"]), data["shown"], time)


@dataclass(frozen=True)
class HandedFile:
    path: Path
    handed_in: HandedIn | None = None
    shown: str = ""  # its name as the student gave it (inside an archive: `archive.zip/inner/name`)


@dataclass(frozen=True)
class Chosen:
    """The notebook to grade (None when there is none) and what the feedback says about the choice."""

    path: Path | None
    note: str
    handed_in: HandedIn | None = None
    unreadable: bool = False  # something was handed in, and none of it can be graded


def is_junk(relative: Path) -> bool:
    return bool(JUNK_PARTS & set(relative.parts)) or relative.name.startswith(("._", "."))


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder` a person handed in, in a stable order (no checkpoints, caches, hidden files)."""
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and not is_junk(p.relative_to(folder))]


def unpacked(files: list[HandedFile], scratch: Path) -> tuple[list[HandedFile], list[str]]:
    """`files` with every archive among them replaced by what it holds; the problems met, for the feedback."""
    found, problems, queue = [], [], [(f, 0) for f in files]
    budget = MAX_TOTAL_BYTES  # archives inside archives share one: a nest of zips cannot fill the disk
    while queue:
        handed, depth = queue.pop(0)
        if handed.path.suffix.lower() != ".zip":
            found.append(handed)
            continue
        if depth == MAX_ARCHIVE_DEPTH:
            problems.append(f"{code_span(handed.shown)} is an archive more than {MAX_ARCHIVE_DEPTH} levels deep")
            continue
        target = scratch / f"unpacked-{len(list(scratch.glob('unpacked-*')))}"
        try:
            extract_archive(handed.path, target, budget)
        except ArchiveError as error:
            problems.append(f"{code_span(handed.shown)} cannot be unpacked: {error}")
            continue
        budget -= sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
        queue += [
            (HandedFile(inner, handed.handed_in, f"{handed.shown}/{inner.relative_to(target)}"), depth + 1)
            for inner in files_under(target)
        ]
    return found, problems


def notebook_from_script(script: Path, into: Path) -> tuple[Path, str]:
    """The script as a notebook file below `into` (jupytext's percent or light format) and the format's name.

    The first cell that sets what the template's `parameters` cell sets (say EPOCHS) is tagged `parameters`, as
    the template's is, when no cell carries the tag, so that the grader's values (fewer epochs) apply to a script
    as to a notebook. ValueError when it cannot be read.
    """
    size = script.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"it is {size / 1e6:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB")
    import jupytext  # here: most classes hand in no script, and it takes a third of a second to import

    try:
        notebook = jupytext.read(script)
    except Exception as error:  # jupytext raises many kinds for text it cannot parse
        raise ValueError(f"{type(error).__name__}: {error}") from None
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    names = template_parameters(current_assignment().notebook)
    line = re.compile(rf"^({'|'.join(map(re.escape, names))})\s*=", re.MULTILINE)
    setting = [c for c in notebook.cells if c.cell_type == "code" and names and line.search(c.source)]
    if not tagged and setting:
        setting[0].setdefault("metadata", {}).setdefault("tags", []).append("parameters")
    for index, cell in enumerate(notebook.cells):  # not random ids: the same script, the same notebook (the cache)
        cell["id"] = f"cell-{index}"
    format_name = notebook.metadata.get("jupytext", {}).get("text_representation", {}).get("format_name", "light")
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{script.stem}.ipynb"
    nbformat.write(notebook, target)
    return target, format_name


@cache
def template_parameters(template: Path) -> tuple[str, ...]:
    """The names the template notebook's `parameters` cell assigns."""
    names: list[str] = []
    for cell in nbformat.read(template, as_version=4).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.append(node.id)
    return tuple(dict.fromkeys(names))


def named_like(name: str, template_stem: str) -> bool:
    """Named as the template is, allowing a resubmission's number (`-1`, ` (2)`), with any extension."""
    stem = Path(name).stem
    return stem == template_stem or re.fullmatch(rf"{re.escape(template_stem)}[-_ ]?\(?\d+\)?", stem) is not None


def _pick(candidates: list[HandedFile], template_stem: str, functions: tuple[str, ...]) -> tuple[HandedFile, str]:
    """Named like the assignment's notebook, then the newest, then defining the most graded functions."""
    named = [c for c in candidates if named_like(c.shown.rsplit("/", 1)[-1], template_stem)]
    pool = named or candidates
    kinds = {c.handed_in.kind if c.handed_in else None for c in pool}
    dated = len(kinds) == 1 and None not in kinds and len({c.handed_in.rank for c in pool}) > 1
    if named and dated:
        return max(pool, key=lambda c: c.handed_in.rank), "it is the newest named like the assignment's notebook"
    if named and len(named) == 1:
        return named[0], "it is named like the assignment's notebook"
    chosen = max(pool, key=lambda c: (graded_definitions(c.path, functions), c.handed_in.rank if dated else ()))
    return chosen, "it defines the most graded functions" + (", and is the newest of those" if dated else "")


def choose_handin(files: list[HandedFile], scratch: Path, template_stem: str, functions: tuple[str, ...]) -> Chosen:
    """The notebook to grade among what one student handed in, and why; `scratch` receives unpacked files."""
    if not files:
        return Chosen(None, "nothing was handed in")
    found, problems = unpacked(files, scratch)
    notebooks = [f for f in found if f.path.suffix.lower() == ".ipynb"]
    scripts = [f for f in found if f.path.suffix.lower() == ".py"]
    converted = ""
    if not notebooks and scripts:
        for index, script in enumerate(scripts):
            try:
                path, format_name = notebook_from_script(script.path, scratch / f"converted-{index}")
            except ValueError as error:
                problems.append(f"{code_span(script.shown)} could not be read as a notebook script: {error}")
                continue
            notebooks.append(HandedFile(path, script.handed_in, script.shown))
            converted = f"jupytext's {format_name} format"
    if not notebooks:
        names = ", ".join(code_span(f.shown) for f in found[:5]) + (" and more" if len(found) > 5 else "")
        reason = "; ".join(problems) or (
            f"what was handed in ({names}) holds no Jupyter notebook (.ipynb) or Python script (.py)"
            if found
            else "nothing was handed in"
        )
        return Chosen(None, reason, unreadable=bool(files))
    chosen, why = (notebooks[0], "") if len(notebooks) == 1 else _pick(notebooks, template_stem, functions)
    notes = []
    if len(notebooks) > 1:
        others = ", ".join(code_span(n.shown) for n in notebooks if n is not chosen)
        notes.append(f"Graded {code_span(chosen.shown)} ({why}); also handed in: {others}.")
    if converted and chosen.path.suffix == ".ipynb" and chosen.shown.lower().endswith(".py"):
        notes.append(f"Graded the Python script {code_span(chosen.shown)}, read as a notebook in {converted}.")
    notes += [f"{problem[0].upper()}{problem[1:]}." for problem in problems]
    return Chosen(chosen.path, " ".join(notes), chosen.handed_in)
