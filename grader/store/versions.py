"""What decides a grade besides the notebook, as versions: equal versions and an equal notebook give an equal
result (so a run reuses a grading instead of running a kernel)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from grader.cases import CASES_FILE, HOLDOUT_DATA, ROOT
from grader.intake import Submission
from grader.rubric import Rubric

# what decides a grade besides the rubric and the cases: the grader's code, the reference, the students' files
GRADER_SOURCES = ("grader", "reference/solutions.py", "student_template/util.py", "student_template/data")


@dataclass(frozen=True)
class Versions:
    """What, besides the notebook, decides a grade: equal versions and content give an equal result."""

    grader: str
    rubric: str
    cases: str


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def current_versions(rubric: Rubric) -> Versions:
    files = []
    for name in GRADER_SOURCES:
        path = ROOT / name
        files += (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
    rubric_text = json.dumps(dataclasses.asdict(rubric), sort_keys=True, default=str)
    return Versions(
        grader=_digest(files),
        rubric=hashlib.sha256(rubric_text.encode()).hexdigest()[:16],
        cases=_digest([CASES_FILE, HOLDOUT_DATA]),
    )


def content_hash(submission: Submission) -> str:
    """The submitted notebook's bytes, hashed ("none" when there is no notebook)."""
    if submission.path is None:
        return "none"
    return hashlib.sha256(submission.path.read_bytes()).hexdigest()
