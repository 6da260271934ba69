"""Intake: from the paths an instructor names (notebooks, folders, `.zip` exports) to one submission per student.

`collect_submissions` unpacks archives safely (`archives.py`), recognises the
export's layout and each student's identity (`layouts.py`), merges what one
student handed in, and picks the notebook to grade (`notebooks.py` reads it).
A path or an archive that cannot be read is reported, and the rest is collected.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.intake.archives import ArchiveError, extract_archive
from grader.intake.layouts import Handed, Identity, named_like, read_layout
from grader.intake.notebooks import graded_definitions
from grader.student_text import code_span

__all__ = ["Identity", "Intake", "Submission", "choose_notebook", "collect_submissions", "student_folder"]


@dataclass(frozen=True)
class Submission:
    identity: Identity
    path: Path | None  # the notebook to grade; None when the student handed in none
    note: str = ""  # which notebook was graded when there were several, or why there is none

    @property
    def folder(self) -> str:
        return student_folder(self.identity.student)


@dataclass
class Intake:
    submissions: list[Submission] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # paths or archives that could not be read at all


def student_folder(student: str) -> str:
    """A folder name for the student's files: the id itself when it is safe, else a safe form and a short hash."""
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", student).strip("._-")[:80]
    if safe == student:
        return safe
    return f"{safe or 'student'}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"


def choose_notebook(
    notebooks: tuple[Path, ...], template_stem: str, functions: tuple[str, ...]
) -> tuple[Path | None, str]:
    """The notebook to grade and what the feedback should say about the choice."""
    if not notebooks:
        return None, "no notebook (.ipynb) was found in what was handed in"
    if len(notebooks) == 1:
        return notebooks[0], ""
    named = [p for p in notebooks if named_like(p, template_stem)]
    candidates = named or list(notebooks)
    chosen = max(candidates, key=lambda p: graded_definitions(p, functions))
    why = "it is named like the assignment's notebook" if named else "it defines the most graded functions"
    others = ", ".join(code_span(p.name) for p in notebooks if p != chosen)
    return chosen, f"Graded {code_span(chosen.name)} ({why}); also handed in: {others}."


def _merge(handed: list[Handed]) -> dict[str, tuple[Identity, tuple[Path, ...]]]:
    """One entry per student: their notebooks from everywhere, their identity completed from every mention."""
    merged: dict[str, tuple[Identity, tuple[Path, ...]]] = {}
    for entry in handed:
        student = entry.identity.student
        if student not in merged:
            merged[student] = (entry.identity, entry.notebooks)
            continue
        identity, notebooks = merged[student]
        identity = replace(
            identity,
            name=identity.name or entry.identity.name,
            email=identity.email or entry.identity.email,
            source=f"{identity.source}; {entry.identity.source}",
            late=identity.late or entry.identity.late,
        )
        merged[student] = (identity, notebooks + tuple(p for p in entry.notebooks if p not in notebooks))
    return merged


def _single_folder(root: Path) -> Path:
    """An archive that wraps everything in one folder: that folder."""
    children = [c for c in root.iterdir() if c.name not in {"__MACOSX", ".DS_Store"}]
    return children[0] if len(children) == 1 and children[0].is_dir() else root


def collect_submissions(
    paths: list[Path], scratch: Path, template_stem: str, functions: tuple[str, ...], exclude: Path | None = None
) -> Intake:
    """Every student's submission under `paths` (but the folder `exclude`); archives are unpacked below `scratch`."""
    exclude = exclude.resolve() if exclude else None
    intake, handed = Intake(), []
    for index, path in enumerate(paths):
        shown = str(path)
        try:
            if path.is_file() and path.suffix.lower() == ".zip":
                root = _single_folder(extract_archive(path, scratch / f"archive-{index}"))
                handed += read_layout(root, shown, template_stem)
            elif path.exists():
                handed += read_layout(path, shown, template_stem, exclude)
            else:
                intake.errors.append(f"{shown}: no such file or folder")
        except ArchiveError as error:
            intake.errors.append(f"{shown}: cannot unpack the archive: {error}")
        except (OSError, ValueError) as error:
            intake.errors.append(f"{shown}: cannot be read: {error}")
    for identity, notebooks in _merge(handed).values():
        path, note = choose_notebook(notebooks, template_stem, functions)
        intake.submissions.append(Submission(identity, path, note))
    return intake
