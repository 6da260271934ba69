"""Who handed in what: the layouts courses download, each turned into identities and their notebooks.

- Canvas "Download Submissions": flat files `{name}_{user id}_{submission id}_{file}`,
  with `LATE_` (or `late_`) before the user id when the submission was late;
- Gradescope "Export Submissions": `submission_ID/` folders described by
  `submission_metadata.yml` (`:submitters:` with `:name:`, `:sid:`, `:email:`);
- Moodle: `{Full Name}_{id}_assignsubmission_file_/` folders;
- a plain folder: `NAME.ipynb` or `NAME/any.ipynb` (NAME is the student).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CANVAS_FILE = re.compile(
    r"^(?P<slug>[^_]+)_(?:(?:LATE|late)_(?P<late>))?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$"
)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_\w+?_?$")
GRADESCOPE_METADATA = "submission_metadata.yml"
IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}


@dataclass(frozen=True)
class Identity:
    """Who a submission belongs to, as the export says."""

    student: str  # the LMS's id (Canvas user id, Gradescope SID, Moodle id), else the file's or folder's name
    name: str = ""
    email: str = ""
    source: str = ""  # where it came from: the path as given, or inside the archive
    late: bool = False


@dataclass(frozen=True)
class Handed:
    """One identity's notebooks as found in one place of the export."""

    identity: Identity
    notebooks: tuple[Path, ...]


def notebooks_under(folder: Path) -> list[Path]:
    """Every `.ipynb` file below `folder`, in a stable order, without checkpoints or macOS's resource forks."""
    return [
        path
        for path in sorted(folder.rglob("*.ipynb"))
        if path.is_file() and not IGNORED_PARTS & set(path.relative_to(folder).parts) and not path.name.startswith("._")
    ]


def canvas_file(path: Path, source: str) -> Handed | None:
    match = CANVAS_FILE.match(path.name)
    if not match or path.suffix != ".ipynb":
        return None
    identity = Identity(match["user"], name=match["slug"], source=source, late=match["late"] is not None)
    return Handed(identity, (path,))


def _unsymbol(table: dict) -> dict:
    return {str(key).strip(":"): value for key, value in table.items()}


def _gradescope(root: Path, shown: str) -> list[Handed] | None:
    metadata_files = [root / GRADESCOPE_METADATA, *sorted(root.glob(f"*/{GRADESCOPE_METADATA}"))]
    metadata_file = next((f for f in metadata_files if f.is_file()), None)
    if metadata_file is None:
        return None
    base = metadata_file.parent
    try:
        metadata = yaml.safe_load(metadata_file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{GRADESCOPE_METADATA} cannot be read: {error}") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{GRADESCOPE_METADATA} does not map submission folders to their submitters")
    handed = []
    for key, entry in metadata.items():
        folder_name = str(key).strip(":")  # keys are written Ruby-style, `:submitters:`, which YAML reads ":submitters"
        folder = base / folder_name
        submitters = _unsymbol(entry).get("submitters") if isinstance(entry, dict) else None
        if not folder.is_dir() or not isinstance(submitters, list):
            continue
        notebooks = tuple(notebooks_under(folder))
        for submitter in submitters:  # a group submission counts for each of its members
            if not isinstance(submitter, dict):
                continue
            submitter = _unsymbol(submitter)
            name, email = str(submitter.get("name") or ""), str(submitter.get("email") or "")
            student = str(submitter.get("sid") or email or folder_name)
            source = f"{shown}/{folder.relative_to(root)}"
            handed.append(Handed(Identity(student, name=name, email=email, source=source), notebooks))
    return handed


def _moodle(root: Path, shown: str) -> list[Handed] | None:
    folders = [
        f for f in sorted(root.glob("*")) + sorted(root.glob("*/*")) if f.is_dir() and MOODLE_FOLDER.match(f.name)
    ]
    if not folders:
        return None
    handed = []
    for folder in folders:
        match = MOODLE_FOLDER.match(folder.name)
        identity = Identity(match["id"], name=match["name"], source=f"{shown}/{folder.relative_to(root)}")
        handed.append(Handed(identity, tuple(notebooks_under(folder))))
    return handed


def _canvas_or_plain(root: Path, shown: str) -> list[Handed]:
    handed = []
    for path in sorted(root.iterdir()):
        source = f"{shown}/{path.name}"
        if path.name in IGNORED_PARTS or path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".ipynb":
            handed.append(canvas_file(path, source) or Handed(Identity(path.stem, source=source), (path,)))
        elif path.is_dir():
            handed.append(Handed(Identity(path.name, source=source), tuple(notebooks_under(path))))
    return handed


def read_layout(root: Path, shown: str) -> list[Handed]:
    """The submissions in a folder, by the first layout that fits; ValueError when its description is broken."""
    for recognise in (_gradescope, _moodle):
        found = recognise(root, shown)
        if found is not None:
            return found
    return _canvas_or_plain(root, shown)
