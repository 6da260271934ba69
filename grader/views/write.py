"""Put the views on disk: DIR/NAME/results.json, DIR/NAME/feedback.md, and DIR/gradebook.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from grader.result import SubmissionResult
from grader.views.feedback import feedback_markdown
from grader.views.gradebook import gradebook_row
from grader.views.gradescope import gradescope_results


def write_submission_reports(result: SubmissionResult, out: Path) -> Path:
    folder = out / result.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(gradescope_results(result), indent=2) + "\n")
    (folder / "feedback.md").write_text(feedback_markdown(result) + "\n")
    return folder


def write_gradebook(results: list[SubmissionResult], out: Path) -> Path:
    path = out / "gradebook.csv"
    pd.DataFrame([gradebook_row(r) for r in results]).to_csv(path, index=False)
    return path
