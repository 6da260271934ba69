"""Write a result to disk: DIR/NAME/results.json, DIR/NAME/feedback.md, and DIR/gradebook.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from grader.results import SubmissionResult


def write_submission_reports(result: SubmissionResult, out: Path) -> Path:
    folder = out / result.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result.to_gradescope(), indent=2) + "\n")
    (folder / "feedback.md").write_text(result.feedback_markdown() + "\n")
    return folder


def write_gradebook(results: list[SubmissionResult], out: Path) -> Path:
    path = out / "gradebook.csv"
    pd.DataFrame([r.gradebook_row() for r in results]).to_csv(path, index=False)
    return path
