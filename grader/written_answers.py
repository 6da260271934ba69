"""The written answers' offline path: export the TAs' pages and sheet from the class store, import the sheet.

The sheet is a view of the store, but TAs edit it: an export never drops their
edits not yet imported (they are kept in the new sheet, and the sheet replaced is
saved beside it); an import records their scores in the store and renders every
view again, the TAs' pages too when they were exported.
"""

from __future__ import annotations

import itertools
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment import current_assignment
from grader.intake.written_scores import read_written_scores, unimported_edits
from grader.judge.written import extract_written_answers, question_texts
from grader.rubric import Rubric
from grader.store import ClassStore
from grader.views.write import write_all_views
from grader.views.written_pages import SHEET_FILE, write_written_pages, written_sheet

WRITTEN_ANONYMISED = "written_anonymised"  # the class setting: are the TAs' pages anonymised?


@dataclass(frozen=True)
class WrittenExport:
    folder: Path  # DIR/written: a page per question, an index and the sheet
    students: int  # graded students on the pages
    kept_edits: int  # the sheet's scores or comments not yet imported, kept in the new sheet
    saved: Path | None  # where the sheet it replaced was saved, when it held such edits (or rows overtaken)
    # the sheet's rows ("student question") unlike the store's but scored at the desk since: not carried over
    overtaken: tuple[str, ...] = ()


def export_written(store: ClassStore, rubric: Rubric, out: Path, anonymise: bool | None = None) -> WrittenExport:
    """The TAs' pages and sheet from the store; `anonymise` changes the class's setting (None: as it was)."""
    if anonymise is not None:
        store.set_setting(WRITTEN_ANONYMISED, "yes" if anonymise else "no")
    rows = store.students(plots=False)
    graded = [row.identity.student for row in rows if row.result is not None]
    pseudonyms = store.pseudonyms(graded) if store.setting(WRITTEN_ANONYMISED) == "yes" else None
    sheet = out / "written" / SHEET_FILE
    edits, overtaken = unimported_edits(sheet, written_sheet(rows, rubric, pseudonyms))
    saved = None
    if edits or overtaken:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        saved = next(  # two exports in one second must not write over the first one's saved sheet
            path
            for n in itertools.count(1)
            if not (path := sheet.with_name(f"written_scores-before-{stamp}{f'-{n}' if n > 1 else ''}.csv")).exists()
        )
        shutil.copyfile(sheet, saved)
    template = nbformat.read(current_assignment().notebook, as_version=4)
    models = extract_written_answers(nbformat.read(current_assignment().solved_notebook, as_version=4), template)
    folder = write_written_pages(rows, rubric, question_texts(template), out, pseudonyms, kept=edits, models=models)
    return WrittenExport(folder, len(graded), len(edits), saved, tuple(overtaken))


@dataclass(frozen=True)
class WrittenImport:
    imported: int  # scores recorded
    overtaken: list[str]  # "student question" rows scored at the desk since the sheet was exported: not imported
    pages: WrittenExport | None  # the TAs' pages written again, when they had been exported


def import_written(store: ClassStore, rubric: Rubric, sheet: Path, out: Path) -> WrittenImport:
    """Record the sheet's scores (by student id or pseudonym) and render every view again. A row whose score was
    saved at the desk after the sheet was exported is left as the desk has it, and named."""
    rows = store.students(plots=False)
    names = {row.identity.student: row.identity.student for row in rows}
    names |= {pseudonym: student for student, pseudonym in store.pseudonyms(list(names)).items()}
    current = {row.identity.student: row.result.written_scores for row in rows if row.result is not None}
    scores, overtaken = [], []
    for s in read_written_scores(sheet, rubric, names):
        now = current.get(s.student, {}).get(s.question)
        if s.version is not None and s.version != (now.version if now else 0):
            overtaken.append(f"{s.student} {s.question}")
        elif now is None or (now.score, now.comment) != (s.score, s.comment):
            scores.append(s)
    store.set_written_scores([(s.student, s.question, s.score, s.comment) for s in scores])
    write_all_views(store, rubric, out)
    pages = export_written(store, rubric, out) if (out / "written").is_dir() else None
    return WrittenImport(len(scores), overtaken, pages)
