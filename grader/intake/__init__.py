"""Intake: from the paths an instructor names (notebooks, scripts, folders, `.zip` exports) to a submission each.

`collect_submissions` unpacks exports safely (`archives.py`), recognises the
export's layout and each student's identity (`layouts.py`), merges what one
student handed in, and picks the file to grade, newest first (`handins.py`;
`notebooks.py` reads it). A path or an archive that cannot be read is reported,
and the rest is collected.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.intake.archives import ArchiveError, extract_archive
from grader.intake.handins import Chosen, HandedFile, HandedIn, choose_handin
from grader.intake.layouts import Handed, Identity, handed_files, lms_file, read_layout

__all__ = [
    "HandedIn",
    "Identity",
    "Intake",
    "Submission",
    "collect_submissions",
    "one_folders_submission",
    "student_folder",
]


@dataclass(frozen=True)
class Submission:
    identity: Identity
    path: Path | None  # the notebook to grade; None when the student handed in none
    note: str = ""  # which file was graded and how, when there was a choice, or why there is none
    handed_in: HandedIn | None = None  # the export's evidence of when the graded file was handed in
    unreadable: bool = False  # something was handed in, and none of it can be graded

    @property
    def folder(self) -> str:
        return student_folder(self.identity.student)


@dataclass
class Intake:
    submissions: list[Submission] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # paths, archives or files that could not be read at all


def student_folder(student: str) -> str:
    """A folder name for the student's files: the id itself when it is safe, else a safe form and a short hash."""
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", student).strip("._-")[:80]
    if safe == student:
        return safe
    return f"{safe or 'student'}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"


def _merge(handed: list[Handed]) -> dict[str, tuple[Identity, list[HandedFile]]]:
    """One entry per student: their files from everywhere, their identity completed from every mention."""
    merged: dict[str, tuple[Identity, list[HandedFile]]] = {}
    for entry in handed:
        student = entry.identity.student
        if student not in merged:
            merged[student] = (entry.identity, list(entry.files))
            continue
        identity, files = merged[student]
        identity = replace(
            identity,
            name=identity.name or entry.identity.name,
            email=identity.email or entry.identity.email,
            source=f"{identity.source}; {entry.identity.source}",
            late=identity.late or entry.identity.late,
        )
        known = {f.path for f in files}
        merged[student] = (identity, files + [f for f in entry.files if f.path not in known])
    return merged


def _single_folder(root: Path) -> Path:
    """An archive that wraps everything in one folder: that folder."""
    children = [c for c in root.iterdir() if c.name not in {"__MACOSX", ".DS_Store"}]
    return children[0] if len(children) == 1 and children[0].is_dir() else root


def _submission(identity: Identity, chosen: Chosen) -> Submission:
    return Submission(identity, chosen.path, chosen.note, chosen.handed_in, chosen.unreadable)


def collect_submissions(
    paths: list[Path], scratch: Path, template_stem: str, functions: tuple[str, ...], exclude: Path | None = None
) -> Intake:
    """Every student's submission under `paths` (but the folder `exclude`); archives are unpacked below `scratch`.

    A `.zip` named as an LMS names one student's upload is that student's; any other `.zip` is an export.
    """
    exclude = exclude.resolve() if exclude else None
    intake, handed = Intake(), []
    for index, path in enumerate(paths):
        shown = str(path)
        try:
            if path.is_file() and path.suffix.lower() == ".zip" and lms_file(path, shown) is None:
                root = _single_folder(extract_archive(path, scratch / f"archive-{index}"))
                found, strays = read_layout(root, shown, template_stem)
            elif path.exists():
                found, strays = read_layout(path, shown, template_stem, exclude)
            else:
                found, strays = [], [f"{shown}: no such file or folder"]
            handed += found
            intake.errors += strays
        except ArchiveError as error:
            intake.errors.append(f"{shown}: cannot unpack the archive: {error}")
        except (OSError, ValueError) as error:
            intake.errors.append(f"{shown}: cannot be read: {error}")
    for number, (identity, files) in enumerate(_merge(handed).values()):
        chosen = choose_handin(files, scratch / f"student-{number}", template_stem, functions)
        intake.submissions.append(_submission(identity, chosen))
    return intake


def one_folders_submission(
    folder: Path, identity: Identity, scratch: Path, template_stem: str, functions: tuple[str, ...]
) -> Submission:
    """The one submission in `folder` (Gradescope's `submission/`), whatever it holds: the same choice as a class's."""
    return _submission(identity, choose_handin(list(handed_files(folder)), scratch, template_stem, functions))
