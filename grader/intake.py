"""Find submitted notebooks and read them, turning every way a file can be unreadable into a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


class UnreadableSubmission(Exception):
    """The file is not a notebook we can run; the message says why, for the student."""


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path


def find_submissions(paths: list[Path]) -> list[Submission]:
    """Every `.ipynb` named or inside a named folder (not checkpoints), with unique names."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts and p.is_file()
            )
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    submissions: list[Submission] = []
    taken: set[str] = set()
    for file in files:
        name, suffix = file.stem, 2
        while name in taken:  # two folders may each hold a "homework.ipynb"
            name, suffix = f"{file.stem}-{suffix}", suffix + 1
        taken.add(name)
        submissions.append(Submission(name, file))
    return submissions


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook as nbformat 4, or UnreadableSubmission with a reason a student understands."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the submitted file is empty")
    if size > MAX_NOTEBOOK_BYTES:
        raise UnreadableSubmission(
            f"the notebook is {size / 1e6:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB"
        )
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableSubmission(f"the file is not a Jupyter notebook (not valid JSON: {error})") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise UnreadableSubmission("the file is JSON but not a Jupyter notebook (no cells)")
    major = raw.get("nbformat")
    if major != 4:
        raise UnreadableSubmission(
            f"the notebook is in format version {major}; save it from a current Jupyter (format 4) and resubmit"
        )
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds; all mean the same to a student
        raise UnreadableSubmission(f"the notebook is damaged: {str(error).splitlines()[0]}") from None
    return notebook
