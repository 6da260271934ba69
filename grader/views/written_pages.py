"""The TAs' view of the written answers: one page per question with every answer, and the scores sheet.

`DIR/written/QUESTION.html`, `DIR/written/index.html` and
`DIR/written/written_scores.csv` (student, question, score, comment, points),
the scores and comments already imported filled in. Anonymised, each student
is shown and listed under a stable pseudonym that `written import` maps back.
"""

from __future__ import annotations

from pathlib import Path

from grader.rubric import Rubric
from grader.store import StudentRow
from grader.views.csv_cells import write_csv
from grader.views.html import render
from grader.views.write import write_whole


def write_written_pages(
    rows: list[StudentRow], rubric: Rubric, questions: dict[str, str], out: Path, pseudonyms: dict[str, str] | None
) -> Path:
    """Write the pages and the sheet for the graded students of `rows`; returns the folder.

    `questions`: each question's text from the handout; `pseudonyms`: student -> pseudonym when anonymised.
    """
    folder = out / "written"
    folder.mkdir(parents=True, exist_ok=True)
    graded = [row for row in rows if row.result is not None]
    who = {row.identity.student: (pseudonyms or {}).get(row.identity.student, row.identity.student) for row in graded}
    order = sorted(graded, key=lambda row: who[row.identity.student])
    sheet, index = [], []
    for question, points in rubric.written.items():
        answers = []
        for row in order:
            scored = row.result.written_scores.get(question)
            answers.append(
                {
                    "who": who[row.identity.student],
                    "answer": row.result.written.get(question, "").strip(),
                    "score": None if scored is None else scored.score,
                    "comment": "" if scored is None else scored.comment,
                }
            )
            sheet.append(
                [
                    who[row.identity.student],
                    question,
                    "" if scored is None else scored.score,
                    "" if scored is None else scored.comment,
                    points,
                ]
            )
        page = render(
            "written_question.html.j2",
            question=question,
            points=points,
            question_text=questions.get(question, ""),
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
    write_csv(folder / "written_scores.csv", ["student", "question", "score", "comment", "points"], sheet)
    return folder
