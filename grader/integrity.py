"""`python -m grader similarity DIR [--against OLD_DIR ...]`: which submissions a person should compare.

Reads what the class stores hold (each graded student's functions, wrong outputs
and written answers), asks `judge/similarity.py` for the pairs and their shared
passages, and writes `DIR/similarity.csv`, `DIR/similarity.html` and a page per
pair. Earlier terms' classes (`--against`) and known sources (`--source`: files a
copy may come from) are compared with this one, never with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment import current_assignment
from grader.errors import GraderError
from grader.intake.notebooks import UnreadableSubmission, read_notebook
from grader.judge.similarity import FLAG, Pair, Submission, common_code, find_pairs, passages
from grader.judge.sources import graded_sources
from grader.judge.written import extract_written_answers, question_texts
from grader.store import current_work_of
from grader.views.similarity import Compared, write_similarity


class SourceUnreadable(GraderError):
    """A known source named with --source cannot be read."""

    says = "cannot use the known source "


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
    template = nbformat.read(current_assignment().notebook, as_version=4)
    solved = nbformat.read(current_assignment().solved_notebook, as_version=4)
    texts = [
        *question_texts(template).values(),
        *extract_written_answers(solved, template).values(),
        *(cell.source for cell in template.cells if cell.cell_type == "markdown"),
    ]
    return [graded_sources(template), graded_sources(solved)], texts


def known_source(path: Path) -> Submission:
    """A file a copy may come from: a notebook (its graded functions and written answers) or a Python file (its
    graded functions)."""
    try:
        if path.suffix == ".ipynb":
            notebook = read_notebook(path)
            written = extract_written_answers(notebook, nbformat.read(current_assignment().notebook, as_version=4))
        else:
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(path.read_text(errors="replace"))])
            written = {}
    except OSError as error:
        raise SourceUnreadable(f"{path}: {error.strerror or error}") from None
    except UnreadableSubmission as error:
        raise SourceUnreadable(f"{path}: {error}") from None
    return Submission(f"known source {path.name}", graded_sources(notebook), {}, written, current=False, source=True)


def similarity(folder: Path, against: list[Path], sources: list[Path] = ()) -> SimilarityRun:
    """Find the pairs worth a look and write their pages into `folder`; `sources`: files a copy may come from."""
    submissions = _submissions(folder, "", True)
    earlier = [s for old in against for s in _submissions(old, f"{old.name}/", False)]
    code, texts = baselines()
    everyone = submissions + earlier + [known_source(path) for path in sources]
    by_key = {s.key: s for s in everyone}
    flagged = [pair for pair in find_pairs(everyone, code, texts) if pair.score >= FLAG]
    common = common_code(everyone, code)
    compared = [
        Compared(pair, by_key[pair.a], by_key[pair.b], passages(by_key[pair.a], by_key[pair.b], code, texts, common))
        for pair in flagged
    ]
    path = write_similarity(compared, folder, [str(old) for old in against])
    return SimilarityRun(len(submissions), len(earlier), flagged, path)
