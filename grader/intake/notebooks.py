"""Read a submitted notebook, turning every way a file can be unreadable into a reason a student understands."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import nbformat.validator

from grader.errors import SubmissionError

# Saved outputs (plots, printed logs) are never graded and are dropped as the notebook is read: the
# limit applies to what is left; the raw file, outputs included, may be larger, up to its own cap.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_RAW_NOTEBOOK_BYTES = 500 * 1024 * 1024
# a notebook's metadata key: the format it was handed in as, when it was upgraded to be graded
UPGRADED_FROM = "grader_upgraded_from"


class UnreadableSubmission(SubmissionError):
    """The file is not a notebook we can run; the message says why, for the student."""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(value: object) -> object:
    """`value` (parsed JSON) with every lone surrogate, in keys and strings alike, replaced by U+FFFD.

    JSON may escape half of a UTF-16 pair (`"\\ud800"`), which no UTF-8 file, kernel message or store can
    carry: Jupyter itself could not save it. Nothing else is changed, so the notebook runs as it was written.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return value


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
        raw = _encodable(json.loads(path.read_bytes()))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableSubmission(f"the file is not a Jupyter notebook (not valid JSON: {error})") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise UnreadableSubmission("the file is JSON but not a Jupyter notebook (no cells)")
    major = raw.get("nbformat")
    if major not in (3, 4):
        raise UnreadableSubmission(
            f"the notebook is in format version {major}; save it from a current Jupyter (format 4) and resubmit"
        )
    text = json.dumps(_with_cell_ids(_without_outputs(raw)))
    if len(text) > MAX_NOTEBOOK_BYTES:
        raise UnreadableSubmission(
            f"the notebook's code and text are {len(text) / 1e6:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB"
        )
    try:
        notebook = _without_invalid_metadata(nbformat.reads(text, as_version=4))
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds; all mean the same to a student
        raise UnreadableSubmission(f"the notebook is damaged: {str(error).splitlines()[0]}") from None
    if major == 3:  # Jupyter opens and upgrades these too; nbformat converted it on reading
        notebook.metadata[UPGRADED_FROM] = 3
    return notebook


def _without_invalid_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`notebook` without the metadata entries its format does not allow (a tag with a comma, a kernelspec
    without a name): Jupyter opens and runs such a notebook with a warning, and none of it is graded."""
    for _ in range(100):  # each round removes at least one entry
        errors = list(nbformat.validator.iter_validate(notebook))
        places = [list(error.absolute_path) for error in errors]
        if not errors or not all("metadata" in place for place in places):
            return notebook
        for place in places:
            end = place.index("metadata") + 1
            holder = notebook
            for step in place[:end]:
                holder = holder[step]
            if end < len(place):
                holder.pop(place[end], None)
            else:
                holder.clear()
    return notebook


def upgrade_note(notebook: nbformat.NotebookNode) -> str:
    """What the feedback says when the notebook was upgraded to be graded, or ""."""
    old = notebook.metadata.get(UPGRADED_FROM)
    if old is None:
        return ""
    return (
        f"Your notebook was saved in format {old} (an old Jupyter); it was upgraded to format 4 to be graded, as "
        "Jupyter would on opening it (this costs no points)."
    )


def _without_outputs(raw: dict) -> dict:
    """The notebook's JSON without what running it produced (outputs, counts) or pasted images (attachments)."""
    cells = raw.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cell.pop("attachments", None)
    return raw


def _with_cell_ids(raw: dict) -> dict:
    """Format 4.5 and later gives each cell an id; a notebook whose cells lack them (written by another tool) is
    given them here, as Jupyter would, rather than warned about on the instructor's terminal."""
    cells = raw.get("cells")
    if raw.get("nbformat") == 4 and isinstance(raw.get("nbformat_minor"), int) and raw["nbformat_minor"] >= 5:
        for index, cell in enumerate(cells if isinstance(cells, list) else []):
            if isinstance(cell, dict) and "id" not in cell:
                cell["id"] = f"grader-{index}"
    return raw


def _parsable(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so the rest still parses
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _top_level_functions(notebook: nbformat.NotebookNode) -> Iterator[tuple[ast.FunctionDef, str]]:
    """Each top-level `def` of the code cells, in order, with the cell's text it was parsed from. A cell that is
    not Python is passed over, and so is one that exhausts the parser (nesting deep enough to blow its stack or
    its memory): a submission's text must never make the grader itself fail."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        text = _parsable(cell.source)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                yield node, text


def function_definitions(notebook: nbformat.NotebookNode) -> dict[str, ast.FunctionDef]:
    """Top-level `def`s of the code cells; a later definition wins, as it would when run in order."""
    return {node.name: node for node, _ in _top_level_functions(notebook)}


def function_sources(notebook: nbformat.NotebookNode, names: set[str], limit: int) -> dict[str, str]:
    """The source of the last top-level definition of each function in `names` (at most `limit` characters)."""
    return {
        node.name: (ast.get_source_segment(text, node) or "")[:limit]
        for node, text in _top_level_functions(notebook)
        if node.name in names
    }


def graded_definitions(path: Path, functions: tuple[str, ...] | list[str]) -> int:
    """How many of the graded functions the notebook at `path` defines (0 when it cannot be read)."""
    try:
        return len(set(function_definitions(read_notebook(path))) & set(functions))
    except UnreadableSubmission:
        return 0
