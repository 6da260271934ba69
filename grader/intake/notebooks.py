"""Read a submitted notebook, turning every way a file can be unreadable into a reason a student understands."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat

# Saved outputs (plots, printed logs) are never graded and are dropped as the notebook is read: the
# limit applies to what is left; the raw file, outputs included, may be larger, up to its own cap.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_RAW_NOTEBOOK_BYTES = 500 * 1024 * 1024


class UnreadableSubmission(Exception):
    """The file is not a notebook we can run; the message says why, for the student."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook as nbformat 4, or UnreadableSubmission with a reason a student understands."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the submitted file is empty")
    if size > MAX_RAW_NOTEBOOK_BYTES:
        raise UnreadableSubmission(
            f"the file is {size / 1e6:.0f} MB; the limit is {MAX_RAW_NOTEBOOK_BYTES / 1e6:.0f} MB "
            "(clear the notebook's outputs and resubmit)"
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
    text = json.dumps(_without_outputs(raw))
    if len(text) > MAX_NOTEBOOK_BYTES:
        raise UnreadableSubmission(
            f"the notebook's code and text are {len(text) / 1e6:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB"
        )
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds; all mean the same to a student
        raise UnreadableSubmission(f"the notebook is damaged: {str(error).splitlines()[0]}") from None
    return notebook


def _without_outputs(raw: dict) -> dict:
    """The notebook's JSON without what running it produced (outputs, counts) or pasted images (attachments)."""
    cells = raw.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cell.pop("attachments", None)
    return raw


def _parsable(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so the rest still parses
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def function_definitions(notebook: nbformat.NotebookNode) -> dict[str, ast.FunctionDef]:
    """Top-level `def`s of the code cells; a later definition wins, as it would when run in order."""
    found: dict[str, ast.FunctionDef] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_parsable(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = node
    return found


def graded_definitions(path: Path, functions: tuple[str, ...] | list[str]) -> int:
    """How many of the graded functions the notebook at `path` defines (0 when it cannot be read)."""
    try:
        return len(set(function_definitions(read_notebook(path))) & set(functions))
    except UnreadableSubmission:
        return 0
