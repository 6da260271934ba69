"""Who handed in what: the layouts courses download, each turned into identities and their notebooks.

- Canvas "Download Submissions": flat files `{name}_{user id}_{submission id}_{file}`,
  with `LATE_` (or `late_`) before the user id when the submission was late;
- Gradescope "Export Submissions": `submission_ID/` folders described by
  `submission_metadata.yml` (`:submitters:` with `:name:`, `:sid:`, `:email:`);
- Moodle: `{Full Name}_{id}_assignsubmission_file_/` folders, or (downloaded without folders)
  flat files `{Full Name}_{id}_assignsubmission_file_{file}`;
- a plain folder: `NAME.ipynb` or `NAME/any.ipynb` (NAME is the student).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from grader.student_text import clean

CANVAS_FILE = re.compile(
    r"^(?P<slug>[^_]+)_(?:(?:LATE|late)_(?P<late>))?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$"
)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_\w+?_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<file>.+\.ipynb)$")
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

    def __post_init__(self) -> None:
        # names come from file names a student chose: made fit for every output before anything uses them
        for field in ("student", "name", "email", "source"):
            object.__setattr__(self, field, clean(getattr(self, field)))


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


def _gradescope_submitters(base: Path) -> list[tuple[Path, Identity]]:
    """(submission folder, submitter) for every submitter in `base`'s metadata; ValueError when it is broken."""
    try:
        metadata = yaml.safe_load((base / GRADESCOPE_METADATA).read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{GRADESCOPE_METADATA} cannot be read: {error}") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{GRADESCOPE_METADATA} does not map submission folders to their submitters")
    found = []
    for key, entry in metadata.items():
        folder_name = str(key).strip(":")  # keys are written Ruby-style, `:submitters:`, which YAML reads ":submitters"
        submitters = _unsymbol(entry).get("submitters") if isinstance(entry, dict) else None
        if not (base / folder_name).is_dir() or not isinstance(submitters, list):
            continue
        for submitter in submitters:  # a group submission counts for each of its members
            if isinstance(submitter, dict):
                submitter = _unsymbol(submitter)
                name, email = str(submitter.get("name") or ""), str(submitter.get("email") or "")
                student = str(submitter.get("sid") or email or folder_name)
                found.append((base / folder_name, Identity(student, name=name, email=email)))
    return found


def _gradescope(root: Path, shown: str) -> list[Handed] | None:
    bases = [root, *sorted(f.parent for f in root.glob(f"*/{GRADESCOPE_METADATA}"))]
    base = next((b for b in bases if (b / GRADESCOPE_METADATA).is_file()), None)
    if base is None:
        return None
    return [
        Handed(replace(identity, source=f"{shown}/{folder.relative_to(root)}"), tuple(notebooks_under(folder)))
        for folder, identity in _gradescope_submitters(base)
    ]


def _moodle_folder(folder: Path, source: str) -> Handed | None:
    match = MOODLE_FOLDER.match(folder.name)
    if match is None or not folder.is_dir():
        return None
    return Handed(Identity(match["id"], name=match["name"], source=source), tuple(notebooks_under(folder)))


def _moodle_file(path: Path, source: str) -> Handed | None:
    match = MOODLE_FILE.match(path.name)
    if match is None or not path.is_file():
        return None
    return Handed(Identity(match["id"], name=match["name"], source=source), (path,))


def _moodle(root: Path, shown: str) -> list[Handed] | None:
    entries = sorted(root.glob("*")) + sorted(root.glob("*/*"))
    handed = [
        h
        for entry in entries
        if (h := _moodle_folder(entry, f"{shown}/{entry.relative_to(root)}"))
        or (h := _moodle_file(entry, f"{shown}/{entry.relative_to(root)}"))
    ]
    return handed or None


def _canvas_or_plain(root: Path, shown: str, exclude: Path | None) -> list[Handed]:
    handed = []
    for path in sorted(root.iterdir()):
        source = f"{shown}/{path.name}"
        if path.name in IGNORED_PARTS or path.name.startswith(".") or (exclude and path.resolve() == exclude):
            continue
        if path.is_file() and path.suffix == ".ipynb":
            handed.append(canvas_file(path, source) or Handed(Identity(path.stem, source=source), (path,)))
        elif path.is_dir():
            handed.append(Handed(Identity(path.name, source=source), tuple(notebooks_under(path))))
    return handed


def named_like(path: Path, template_stem: str) -> bool:
    """Named as the template is, allowing a Canvas prefix and a resubmission's number (`-1`, ` (2)`)."""
    canvas = CANVAS_FILE.match(path.name)
    stem = Path(canvas["file"] if canvas else path.name).stem
    return stem == template_stem or re.fullmatch(rf"{re.escape(template_stem)}[-_ ]?\(?\d+\)?", stem) is not None


def one_students(path: Path, shown: str, template_stem: str) -> list[Handed] | None:
    """When `path` is one student's file or folder inside an export, that student (the same id as in the whole).

    So that regrading one student by naming their file or folder keeps their identity: a Canvas file; a
    Gradescope `submission_ID` folder (or a file in it); a Moodle student folder (or a file in it); a
    plain `NAME/` folder holding a notebook named like the template (or that notebook).
    """
    if path.is_file() and (flat := canvas_file(path, shown) or _moodle_file(path, shown)) is not None:
        return [flat]
    folder = path if path.is_dir() else path.parent
    notebooks = (path,) if path.is_file() else tuple(notebooks_under(folder))
    if (folder.parent / GRADESCOPE_METADATA).is_file():
        members = [i for f, i in _gradescope_submitters(folder.parent) if f.name == folder.name]
        if members:
            return [Handed(replace(identity, source=shown), notebooks) for identity in members]
    if (moodle := _moodle_folder(folder, shown)) is not None:
        return [Handed(moodle.identity, notebooks)]
    if path.is_file():
        student = folder.name if named_like(path, template_stem) else path.stem
        return [Handed(Identity(student, source=shown), notebooks)]
    if any(named_like(p, template_stem) and not CANVAS_FILE.match(p.name) for p in folder.glob("*.ipynb")):
        return [Handed(Identity(folder.name, source=shown), notebooks)]
    return None


def read_layout(root: Path, shown: str, template_stem: str, exclude: Path | None = None) -> list[Handed]:
    """The submissions in a path (one student's, or a class's by the first layout that fits), but `exclude`.

    ValueError when the export's own description (Gradescope's metadata) is broken.
    """
    single = one_students(root, shown, template_stem)
    if single is not None:
        return single
    for recognise in (_gradescope, _moodle):
        found = recognise(root, shown)
        if found is not None:
            return found
    return _canvas_or_plain(root, shown, exclude)
