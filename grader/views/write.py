"""Put the views on disk, each rendered from the store: DIR/STUDENT/results.json, feedback.md and feedback.html
(its figures cached beside it); DIR/gradebook.csv and DIR/report.html."""

from __future__ import annotations

import json
from pathlib import Path

from grader.result import SubmissionResult
from grader.rubric import Rubric
from grader.store import ClassStore
from grader.views.feedback import feedback_html, feedback_markdown
from grader.views.gradebook import write_gradebook
from grader.views.gradescope import gradescope_results
from grader.views.report import report_html
from grader.views.whole_files import write_whole

# beside a student's page: its figures and what they were drawn from, so that a page drawn again for other scores
# reuses them
FIGURES_FILE = "feedback-figures.json"
# beside the class report: its histogram and the scores it was drawn from
HISTOGRAM_FILE = "report-histogram.json"


def write_submission_views(result: SubmissionResult, out: Path) -> Path:
    folder = out / result.folder
    folder.mkdir(parents=True, exist_ok=True)
    write_whole(folder / "results.json", json.dumps(gradescope_results(result), indent=2) + "\n")
    write_whole(folder / "feedback.md", feedback_markdown(result) + "\n")
    page, cache = folder / "feedback.html", folder / FIGURES_FILE
    previous = page.read_text(errors="replace") if page.is_file() else ""
    read: list[dict | None] = []  # what the cache held, where the page asked for it

    def kept() -> dict | None:
        read.append(_cached_figures(cache))
        return read[-1]

    html, drawn = feedback_html(result, previous, kept)
    if html != previous:
        write_whole(page, html)
    if drawn is not None and (not read or drawn != read[-1]):
        write_whole(cache, json.dumps(drawn))
    return folder


def _cached_figures(cache: Path) -> dict | None:
    """The figures drawn for the page last time, with what they were drawn from; None if unreadable (drawn again)."""
    try:
        figures = json.loads(cache.read_text())
    except (OSError, ValueError):
        return None
    return figures if isinstance(figures, dict) and {"stamp", "figures"} <= figures.keys() else None


def remove_submission_views(student_folder: str, out: Path) -> None:
    """A student taken out of the class: the files the grader wrote for them go (their gradings stay stored)."""
    folder = out / student_folder
    for name in ("results.json", "feedback.md", "feedback.html", FIGURES_FILE):
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def write_class_views(store: ClassStore, rubric: Rubric, out: Path) -> None:
    """The views of the whole class: the gradebook and the report."""
    rows = store.students(plots=False)
    write_gradebook(rows, rubric, out)
    write_whole(out / "report.html", report_html(rows, rubric, out / HISTOGRAM_FILE))


def write_all_views(store: ClassStore, rubric: Rubric, out: Path) -> None:
    """Every view of the class again from the store: each student's files, then the class's (after a change
    that touches every student, such as the TAs' scores)."""
    for row in store.students():
        if row.result is not None:
            write_submission_views(row.result, out)
    write_class_views(store, rubric, out)
