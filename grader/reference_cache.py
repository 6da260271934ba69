"""What an assignment's reference computed, kept on disk: the same inputs give the same numbers without running
the reference again (a class rescored under new points, a class graded again, the next worker).

An assignment asks through `remembered(kind, inputs, compute)`: `inputs` is everything its numbers depend on
besides the assignment's own files (a case's arrays, a seed, epochs), and the key adds those files' digest
(what the assignment names as deciding a grade: its code, the reference, the data) and the torch version, so
that nothing stale is ever read. Entries are `.npz` files (no pickles), written whole or not at all.

Kept in `$GRADER_CACHE`, else in the user's cache folder (`$XDG_CACHE_HOME` or ~/.cache) under `grader/`;
`GRADER_CACHE=off` keeps nothing. A folder that cannot be written costs nothing but the time: the numbers are
computed as they would be without it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from grader.assignment import current_assignment

ENVIRONMENT_VARIABLE = "GRADER_CACHE"


def cache_folder() -> Path | None:
    """Where the reference's numbers are kept, or None (GRADER_CACHE=off)."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader" / "reference"


@cache
def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def entry_key(kind: str, inputs: tuple) -> str:
    """The digest naming an entry: the kind, the assignment's deciding files, the torch version, the inputs
    (bytes as they are, anything else by its repr)."""
    digest = hashlib.sha256()
    for part in (kind, current_assignment().inputs_digest, _torch_version(), *inputs):
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def remembered(kind: str, inputs: tuple, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`compute()`'s arrays, from the cache where they were kept for the same key, else computed and kept."""
    folder = cache_folder()
    if folder is None:
        return compute()
    path = folder / kind / f"{entry_key(kind, inputs)}.npz"
    try:
        with np.load(path, allow_pickle=False) as kept:
            return {name: kept[name] for name in kept.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        pass  # not kept yet, or unreadable: computed afresh
    found = compute()
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as file:
            partial = Path(file.name)
            np.savez(file, **found)
        os.replace(partial, path)  # whole or not at all, whoever else writes the same entry
    except OSError:  # a folder that cannot be written, a full disk: nothing kept
        if partial is not None:
            partial.unlink(missing_ok=True)
    return found
