"""What decides a grade besides the notebook, as versions: equal versions and an equal notebook give an equal
result (so a run reuses a grading instead of running a kernel)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from grader.assignment import current_assignment
from grader.intake import Submission
from grader.rubric import Rubric

ENGINE = Path(__file__).resolve().parents[1]  # the grader's own code decides a grade too


@dataclass(frozen=True)
class Versions:
    """What, besides the notebook, decides a grade: equal versions and content give an equal result."""

    grader: str
    rubric: str
    cases: str


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [path]


def _digest(files: list[tuple[Path, Path]]) -> str:
    """Each file's name (below its base folder) and bytes, hashed in order."""
    digest = hashlib.sha256()
    for path, base in files:
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def current_versions(rubric: Rubric) -> Versions:
    """The versions of the assignment in use: the engine's code with what the assignment names as deciding a grade
    (its judges, the reference, the students' files), the rubric, and what of it is secret (the hidden cases, the
    holdout)."""
    assignment = current_assignment()
    secret = assignment.root / "secret"
    deciding = [path for name in assignment.GRADING_INPUTS for path in _files(assignment.root / name)]
    code = [(path, ENGINE.parent) for path in _files(ENGINE)]
    code += [(path, assignment.root) for path in deciding if secret not in path.parents]
    rubric_text = json.dumps(dataclasses.asdict(rubric), sort_keys=True, default=str)
    return Versions(
        grader=_digest(code),
        rubric=hashlib.sha256(rubric_text.encode()).hexdigest()[:16],
        cases=_digest([(path, assignment.root) for path in deciding if secret in path.parents]),
    )


def content_hash(submission: Submission) -> str:
    """The submitted notebook's bytes, hashed ("none" when there is no notebook)."""
    if submission.path is None:
        return "none"
    return hashlib.sha256(submission.path.read_bytes()).hexdigest()
