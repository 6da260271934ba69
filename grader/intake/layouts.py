"""Who handed in what: the layouts courses download, each turned into identities and the files they handed in.

- Canvas "Download Submissions": flat files `{name}_{user id}_{attachment id}_{file}`,
  with `LATE_` (or `late_`) before the user id when the submission was late; any file;
- Gradescope "Export Submissions": `submission_ID/` folders described by
  `submission_metadata.yml` (`:submitters:` with `:name:`, `:sid:`, `:email:`; `:created_at:`);
- Moodle: `{Full Name}_{id}_assignsubmission_file_/` folders, or (downloaded without folders)
  flat files `{Full Name}_{id}_assignsubmission_file_{file}`;
- a plain folder: `NAME.ipynb`, `NAME.py`, `NAME.zip` or `NAME/any file` (NAME is the student).

What a student's files hold (archives, scripts, several notebooks) is `handins.py`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import yaml

from grader.intake.handins import HandedFile, HandedIn, files_under, is_junk, named_like
from grader.student_text import clean

# the name (which may hold underscores: `vega_victor`) is what comes before the first two numeric fields
CANVAS_FILE = re.compile(r"^(?P<slug>.+?)_(?:(?:LATE|late)_(?P<late>))?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
CANVAS_LIKE = re.compile(r"_(?:LATE_|late_)?\d+_")  # a name Canvas may have made, in a folder of Canvas's files
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_\w+?_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<file>.+)$")
CANVAS_RESUBMISSION = re.compile(r"-(?P<number>\d+)$")  # Canvas's suffix on a file name already used
GRADESCOPE_METADATA = "submission_metadata.yml"
# in a plain folder, the top-level files that are a student's hand-in (NAME.ipynb ...); others are reported
PLAIN_HANDINS = {".ipynb", ".py", ".zip"}


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
    """One identity's files as found in one place of the export."""

    identity: Identity
    files: tuple[HandedFile, ...]


def handed_files(folder: Path, handed_in: HandedIn | None = None) -> tuple[HandedFile, ...]:
    """Every file a person handed in below `folder`, named as it is inside it."""
    return tuple(HandedFile(p, handed_in, str(p.relative_to(folder))) for p in files_under(folder))


def canvas_handed_in(attachment: str, file: str) -> HandedIn:
    """Canvas's evidence of recency: the attachment id (a later upload has a higher one), then the `-N` suffix."""
    suffix = CANVAS_RESUBMISSION.search(Path(file).stem)
    number = int(suffix["number"]) if suffix else 0
    shown = f"Canvas attachment {attachment}" + (f" (-{number})" if number else "")
    return HandedIn("canvas attachment", (int(attachment), number), shown)


def canvas_file(path: Path, source: str) -> Handed | None:
    match = CANVAS_FILE.match(path.name)
    if not match or not path.is_file():
        return None
    identity = Identity(match["user"], name=match["slug"], source=source, late=match["late"] is not None)
    return Handed(identity, (HandedFile(path, canvas_handed_in(match["submission"], match["file"]), match["file"]),))


def _unsymbol(table: dict) -> dict:
    return {str(key).strip(":"): value for key, value in table.items()}


def gradescope_time(value: object) -> HandedIn | None:
    """A submission's `:created_at:` as evidence (YAML may have read it as a datetime already), None if unreadable."""
    if not isinstance(value, datetime):
        text = re.sub(r"\s+([+-]\d\d:?\d\d)$", r"\1", str(value or "").strip())  # "... -07:00": no space
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Ruby writes nanoseconds; Python reads micro
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    return HandedIn("time", (value.timestamp(),), value.isoformat(sep=" "), value)


def _gradescope_submitters(base: Path) -> list[tuple[Path, Identity, HandedIn | None]]:
    """(submission folder, submitter, when) for every submitter in `base`'s metadata; ValueError when broken."""
    try:
        metadata = yaml.safe_load((base / GRADESCOPE_METADATA).read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{GRADESCOPE_METADATA} cannot be read: {error}") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{GRADESCOPE_METADATA} does not map submission folders to their submitters")
    found = []
    for key, entry in metadata.items():
        folder_name = str(key).strip(":")  # keys are written Ruby-style, `:submitters:`, which YAML reads ":submitters"
        entry = _unsymbol(entry) if isinstance(entry, dict) else {}
        submitters, when = entry.get("submitters"), gradescope_time(entry.get("created_at"))
        if not (base / folder_name).is_dir() or not isinstance(submitters, list):
            continue
        for submitter in submitters:  # a group submission counts for each of its members
            if isinstance(submitter, dict):
                submitter = _unsymbol(submitter)
                name, email = str(submitter.get("name") or ""), str(submitter.get("email") or "")
                student = str(submitter.get("sid") or email or folder_name)
                found.append((base / folder_name, Identity(student, name=name, email=email), when))
    return found


def _gradescope(root: Path, shown: str) -> list[Handed] | None:
    bases = [root, *sorted(f.parent for f in root.glob(f"*/{GRADESCOPE_METADATA}"))]
    base = next((b for b in bases if (b / GRADESCOPE_METADATA).is_file()), None)
    if base is None:
        return None
    return [
        Handed(replace(identity, source=f"{shown}/{folder.relative_to(root)}"), handed_files(folder, when))
        for folder, identity, when in _gradescope_submitters(base)
    ]


def _moodle_folder(folder: Path, source: str) -> Handed | None:
    match = MOODLE_FOLDER.match(folder.name)
    if match is None or not folder.is_dir():
        return None
    return Handed(Identity(match["id"], name=match["name"], source=source), handed_files(folder))


def _moodle_file(path: Path, source: str) -> Handed | None:
    match = MOODLE_FILE.match(path.name)
    if match is None or not path.is_file():
        return None
    return Handed(Identity(match["id"], name=match["name"], source=source), (HandedFile(path, None, match["file"]),))


def _moodle(root: Path, shown: str) -> list[Handed] | None:
    entries = sorted(root.glob("*")) + sorted(root.glob("*/*"))
    handed = [
        h
        for entry in entries
        if (h := _moodle_folder(entry, f"{shown}/{entry.relative_to(root)}"))
        or (h := _moodle_file(entry, f"{shown}/{entry.relative_to(root)}"))
    ]
    return handed or None


def _canvas_or_plain(root: Path, shown: str, exclude: Path | None) -> tuple[list[Handed], list[str]]:
    handed, strays = [], []
    paths = [
        p for p in sorted(root.iterdir()) if not is_junk(Path(p.name)) and not (exclude and p.resolve() == exclude)
    ]
    from_canvas = any(canvas_file(path, "") is not None for path in paths)
    for path in paths:
        source = f"{shown}/{path.name}"
        if path.is_dir():
            handed.append(Handed(Identity(path.name, source=source), handed_files(path)))
        elif (canvas := canvas_file(path, source)) is not None:
            handed.append(canvas)
        elif from_canvas and CANVAS_LIKE.search(path.stem):  # never a student named after the whole file
            strays.append(
                f"{source}: not graded: its name is not one Canvas gives (NAME_ID_SUBMISSION_FILE, the ids "
                "numbers), so whose it is cannot be read; rename it so, or move it into a folder named after "
                "the student"
            )
        elif path.suffix.lower() in PLAIN_HANDINS:
            handed.append(Handed(Identity(path.stem, source=source), (HandedFile(path, None, path.name),)))
        else:
            strays.append(
                f"{source}: not graded: not a notebook, a script or a zip, and not named as an LMS names a "
                "student's file (move it into a student's folder, or out of the class's)"
            )
    return handed, strays


def lms_file(path: Path, shown: str) -> Handed | None:
    """A file named as Canvas or Moodle names one student's upload: that student's."""
    return canvas_file(path, shown) or _moodle_file(path, shown) if path.is_file() else None


def one_students(path: Path, shown: str, template_stem: str) -> list[Handed] | None:
    """When `path` is one student's file or folder inside an export, that student (the same id as in the whole).

    So that regrading one student by naming their file or folder keeps their identity: a Canvas or Moodle
    file (of any kind); a Gradescope `submission_ID` folder (or a file in it); a Moodle student folder (or
    a file in it); a plain `NAME/` folder holding a notebook or script named like the template (or that file).
    """
    if (flat := lms_file(path, shown)) is not None:
        return [flat]
    folder = path if path.is_dir() else path.parent
    if (folder.parent / GRADESCOPE_METADATA).is_file():
        members = [(i, when) for f, i, when in _gradescope_submitters(folder.parent) if f.name == folder.name]
        if members:
            return [
                Handed(
                    replace(identity, source=shown), _files(path, when) if path.is_file() else handed_files(path, when)
                )
                for identity, when in members
            ]
    if (moodle := _moodle_folder(folder, shown)) is not None:
        return [Handed(moodle.identity, _files(path, None) if path.is_file() else moodle.files)]
    if path.is_file():
        student = folder.name if named_like(path.name, template_stem) else path.stem
        return [Handed(Identity(student, source=shown), _files(path, None))]
    if any(
        p.is_file() and named_like(p.name, template_stem) and not CANVAS_FILE.match(p.name) for p in folder.iterdir()
    ):
        return [Handed(Identity(folder.name, source=shown), handed_files(folder))]
    return None


def _files(path: Path, when: HandedIn | None) -> tuple[HandedFile, ...]:
    return (HandedFile(path, when, path.name),)


def read_layout(
    root: Path, shown: str, template_stem: str, exclude: Path | None = None
) -> tuple[list[Handed], list[str]]:
    """The submissions in a path (one student's, or a class's by the first layout that fits), but `exclude`, and
    the files in it that belong to nobody, each with why.

    ValueError when the export's own description (Gradescope's metadata) is broken.
    """
    single = one_students(root, shown, template_stem)
    if single is not None:
        return single, []
    for recognise in (_gradescope, _moodle):
        found = recognise(root, shown)
        if found is not None:
            return found, []
    return _canvas_or_plain(root, shown, exclude)
