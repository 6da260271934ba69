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
MEMORY_ENTRIES = 4096  # entries also kept in the process (each a few arrays of a case's size)
_read: dict[Path, dict[str, np.ndarray]] = {}


def cache_folder() -> Path | None:
    """Where the reference's numbers are kept, or None (GRADER_CACHE=off, or no home to keep them in)."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    home = Path(os.path.expanduser("~"))  # "~" itself where there is no home (a container's nobody)
    base = os.environ.get("XDG_CACHE_HOME") or (home / ".cache" if home.is_absolute() else None)
    return Path(base) / "grader" / "reference" if base else None


@cache
def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def entry_key(kind: str, inputs: tuple) -> str:
    """The digest naming an entry: the kind, the assignment's deciding files, the torch version, the inputs
    (bytes as they are, tuples part by part, anything else by its repr)."""
    digest = hashlib.sha256()
    _feed(digest, (kind, current_assignment().inputs_digest, _torch_version(), *inputs))
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, part: object) -> None:
    if isinstance(part, bytes):
        digest.update(b"b%d:" % len(part) + part)
    elif isinstance(part, tuple):
        digest.update(b"t%d:" % len(part))
        for inner in part:
            _feed(digest, inner)
    else:
        text = repr(part).encode()
        digest.update(b"r%d:" % len(text) + text)


def _computed(compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """compute() with torch on one thread: the reference's tensors are tiny (with a worker per core, torch's threads
    spinning while they wait made every worker two to three times slower), and its numbers are then the same
    wherever they were computed. The grader's only use of torch: a grader that finds the numbers kept never
    imports it (half of a Gradescope container's memory beside the kernel's)."""
    try:
        import torch
    except ImportError:
        return compute()
    torch.set_num_threads(1)
    return compute()


def remembered(kind: str, inputs: tuple, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`compute()`'s arrays, from the cache where they were kept for the same key, else computed and kept."""
    folder = cache_folder()
    if folder is None:
        return _computed(compute)
    key = entry_key(kind, inputs)
    path = folder / kind / f"{key}.npz"
    if path in _read:  # a class asks the same of every student: each entry is read once a process
        return _read[path]
    try:
        with np.load(path, allow_pickle=False) as kept:
            found = {name: kept[name] for name in kept.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        found = None  # not kept yet, or unreadable: computed afresh
    if found is None:
        found = _computed(compute)
        _keep(path, found)
    for value in found.values():
        value.flags.writeable = False  # shared by every caller
    if len(_read) < MEMORY_ENTRIES:
        _read[path] = found
    return found


def _keep(path: Path, found: dict[str, np.ndarray]) -> None:
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
