"""The TAs' view of the written answers: one page per question with every answer, and the scores sheet.

`DIR/written/QUESTION.html`, `DIR/written/index.html` and
`DIR/written/written_scores.csv` (student, name, question, score, comment,
points), the scores and comments already imported filled in, and a TA's edits
not yet imported (`kept`) kept as they are. Anonymised, each student is shown
and listed under a stable pseudonym that `written import` maps back, without
their name.
"""

from __future__ import annotations

from pathlib import Path

from grader.points import points_text
from grader.rubric import Rubric
from grader.store import StudentRow
from grader.views.csv_cells import write_csv
from grader.views.html import render
from grader.views.whole_files import write_whole

SHEET_FILE = "written_scores.csv"


SHEET_COLUMNS = ["student", "name", "question", "score", "comment", "points", "version"]


def _who(rows: list[StudentRow], pseudonyms: dict[str, str] | None) -> dict[str, str]:
    return {row.identity.student: (pseudonyms or {}).get(row.identity.student, row.identity.student) for row in rows}


def written_sheet(rows: list[StudentRow], rubric: Rubric, pseudonyms: dict[str, str] | None) -> list[dict[str, str]]:
    """The scores sheet as the store has it: a row per graded student and question, in the pages' order."""
    graded = [row for row in rows if row.result is not None]
    who = _who(graded, pseudonyms)
    sheet = []
    for question, points in rubric.written.items():
        for row in sorted(graded, key=lambda row: who[row.identity.student]):
            scored = row.result.written_scores.get(question)
            sheet.append(
                {
                    "student": who[row.identity.student],
                    "name": "" if pseudonyms is not None else row.identity.name,
                    "question": question,
                    "score": "" if scored is None else points_text(scored.score),
                    "comment": "" if scored is None else scored.comment,
                    "points": points_text(points),
                    "version": str(0 if scored is None else scored.version),
                }
            )
    return sheet


def write_written_pages(
    rows: list[StudentRow],
    rubric: Rubric,
    questions: dict[str, str],
    out: Path,
    pseudonyms: dict[str, str] | None,
    kept: dict[tuple[str, str], tuple[str, str]] | None = None,
    models: dict[str, str] | None = None,
) -> Path:
    """Write the pages and the sheet for the graded students of `rows`; returns the folder.

    `questions`: each question's text from the handout; `pseudonyms`: student -> pseudonym when anonymised;
    `kept`: (student as the sheet shows them, question) -> (score, comment) a TA wrote and has not imported;
    `models`: each question's model answer.
    """
    folder = out / "written"
    folder.mkdir(parents=True, exist_ok=True)
    graded = [row for row in rows if row.result is not None]
    who = _who(graded, pseudonyms)
    order = sorted(graded, key=lambda row: who[row.identity.student])
    index = []
    for question, points in rubric.written.items():
        answers = []
        for row in order:
            scored = row.result.written_scores.get(question)
            answers.append(
                {
                    "who": who[row.identity.student],
                    "name": "" if pseudonyms is not None else row.identity.name,
                    "answer": row.result.written.get(question, "").strip(),
                    "score": None if scored is None else scored.score,
                    "comment": "" if scored is None else scored.comment,
                }
            )
        page = render(
            "written_question.html.j2",
            question=question,
            points=points,
            question_text=questions.get(question, ""),
            model_answer=(models or {}).get(question, ""),
            answers=answers,
            anonymised=pseudonyms is not None,
        )
        write_whole(folder / f"{question}.html", page)
        index.append(
            {
                "question": question,
                "points": points,
                "answered": sum(bool(a["answer"]) for a in answers),
                "scored": sum(a["score"] is not None for a in answers),
            }
        )
    write_whole(folder / "index.html", render("written_index.html.j2", questions=index))
    sheet = written_sheet(rows, rubric, pseudonyms)
    for line in sheet:
        line["score"], line["comment"] = (kept or {}).get(
            (line["student"], line["question"]), (line["score"], line["comment"])
        )
    write_csv(folder / SHEET_FILE, SHEET_COLUMNS, [[line[c] for c in SHEET_COLUMNS] for line in sheet])
    return folder
