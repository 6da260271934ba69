"""`python -m grader similarity DIR [--against OLD_DIR ...]`: which submissions a person should compare.

Reads what the class stores hold (each graded student's functions, wrong outputs
and written answers), asks `judge/similarity.py` for the pairs and their shared
passages, and writes `DIR/similarity.csv`, `DIR/similarity.html` and a page per
pair. Earlier terms' classes (`--against`) are compared with this one, never
with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.grading import SOLVED_NOTEBOOK, TEMPLATE_NOTEBOOK
from grader.judge.similarity import FLAG, Pair, Submission, find_pairs, passages
from grader.judge.sources import graded_sources
from grader.judge.written import extract_written_answers, question_texts
from grader.store import current_work_of
from grader.views.similarity import Compared, write_similarity


@dataclass(frozen=True)
class SimilarityRun:
    compared: int  # submissions of this class
    earlier: int  # submissions of earlier terms
    flagged: list[Pair]  # pairs worth a look, highest first
    csv: Path


def _submissions(folder: Path, prefix: str, current: bool) -> list[Submission]:
    return [
        Submission(f"{prefix}{student}", code, wrong, written, current)
        for student, code, wrong, written in current_work_of(folder)
        if code or wrong or any(answer.strip() for answer in written.values())
    ]


def baselines() -> tuple[list[dict[str, str]], list[str]]:
    """What every submission shares by design: the template's and the reference's functions; the questions, the
    model answers and the template's own answer cells."""
    template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    solved = nbformat.read(SOLVED_NOTEBOOK, as_version=4)
    texts = [
        *question_texts(template).values(),
        *extract_written_answers(solved, template).values(),
        *(cell.source for cell in template.cells if cell.cell_type == "markdown"),
    ]
    return [graded_sources(template), graded_sources(solved)], texts


def similarity(folder: Path, against: list[Path]) -> SimilarityRun:
    """Find the pairs worth a look and write their pages into `folder`."""
    submissions = _submissions(folder, "", True)
    earlier = [s for old in against for s in _submissions(old, f"{old.name}/", False)]
    code, texts = baselines()
    everyone = submissions + earlier
    by_key = {s.key: s for s in everyone}
    flagged = [pair for pair in find_pairs(everyone, code, texts) if pair.score >= FLAG]
    compared = [
        Compared(pair, by_key[pair.a], by_key[pair.b], passages(by_key[pair.a], by_key[pair.b], code, texts))
        for pair in flagged
    ]
    path = write_similarity(compared, folder, [str(old) for old in against])
    return SimilarityRun(len(submissions), len(earlier), flagged, path)
