"""Pull the written answers out of a submission, wherever in the notebook the student put them.

The template tags each answer cell `answer-<question>`. Markdown cells a
student added after it (a split or an extra cell) count for the same question
until the next question; a question cell the student wrote into counts with the
lines that are not the handout's.
"""

from __future__ import annotations

import re

import nbformat

from grader.assignment import current_assignment

ANSWER_TAG = re.compile(r"^answer-(\w+)$")
ANSWER_HEADER = re.compile(r"^\*\*Answer[^*]*:\*\*\s*", re.MULTILINE)


def _question_of(cell: nbformat.NotebookNode) -> str | None:
    for tag in cell.get("metadata", {}).get("tags", []):
        if match := ANSWER_TAG.match(tag):
            return match.group(1)
    return None


def extract_written_answers(notebook: nbformat.NotebookNode, template: nbformat.NotebookNode) -> dict[str, str]:
    """Question -> the student's answer text ("" when none was written)."""
    handout_text = {c.source.strip() for c in template.cells}
    handout_lines = {line.strip() for c in template.cells for line in c.source.splitlines()}
    markers = current_assignment().QUESTION_MARKERS  # what marks each question in the handout's text
    answers: dict[str, list[str]] = {q: [] for q in markers}
    current: str | None = None
    for cell in notebook.cells:
        text = cell.source.strip()
        tagged = _question_of(cell)
        if cell.cell_type != "markdown":
            continue
        if tagged in answers:
            current = tagged
            answers[tagged].append(ANSWER_HEADER.sub("", text, count=1).strip())
            continue
        asked = [q for q, marker in markers.items() if marker in text]
        if asked:
            current = asked[-1]
            if text not in handout_text:  # the student wrote inside the question's cell
                added = [line for line in text.splitlines() if line.strip() not in handout_lines]
                answers[current].append("\n".join(added).strip())
        elif current and text and text not in handout_text:
            answers[current].append(text)
    return {q: "\n\n".join(part for part in parts if part) for q, parts in answers.items()}


def question_texts(template: nbformat.NotebookNode) -> dict[str, str]:
    """Each written question's text as the handout asks it (the template's cell that holds its marker)."""
    texts = {}
    for question, marker in current_assignment().QUESTION_MARKERS.items():
        cell = next((c for c in template.cells if c.cell_type == "markdown" and marker in c.source), None)
        texts[question] = cell.source.strip() if cell is not None else ""
    return texts
