"""The late policy: how late by the export's evidence, extensions, the penalty in every view, kept on regrades."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import datetime

import pytest

from grader import cli, pipeline
from grader.intake.extensions import Extension, ExtensionsError, read_extensions
from grader.judge.late import lateness
from grader.rubric import load_rubric

from ..helpers import RUBRIC_FILE
from .test_store import StandIn, rows, write

DUE = "2026-11-02T23:59:00-05:00"


def policy(**changes):
    late = dataclasses.replace(load_rubric().late, due=DUE)
    return dataclasses.replace(late, **changes)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "handed_in,marked,extension,days,percent",
    [
        ("2026-11-03T00:10:00-05:00", False, None, None, None),  # inside the 15 minutes' grace
        ("2026-11-03T05:14:00+00:00", False, None, None, None),  # the same instant in UTC, still in grace
        ("2026-11-03T00:15:01-05:00", False, None, 1, 10),  # a second past the grace: a day started
        ("2026-11-05T01:00:00-05:00", False, None, 3, 30),
        ("2026-11-20T00:00:00-05:00", False, None, 17, 50),  # capped
        ("2026-11-05T01:00:00-05:00", False, Extension("s", days=3), None, None),
        ("2026-11-05T01:00:00-05:00", False, Extension("s", due=at("2026-11-04T12:00:00-05:00")), 1, 10),
        (None, True, None, 1, 10),  # only the LMS's mark: late_mark_days
        (None, True, Extension("s", days=2), 0, 0),  # marked, but with an extension the mark cannot be checked
        (None, False, None, None, None),
        ("2026-11-02T20:00:00-05:00", True, None, None, None),  # the time decides over the mark
    ],
)
def test_lateness_by_the_exports_evidence(handed_in, marked, extension, days, percent):
    found = lateness(policy(), at(handed_in) if handed_in else None, marked, extension)
    if days is None:
        assert found is None
    else:
        assert (found.days, found.percent) == (days, percent)


def test_without_a_due_time_a_late_mark_is_shown_and_costs_nothing():
    found = lateness(policy(due=""), None, True, None)
    assert found.percent == 0 and "no late policy" in found.says


@pytest.mark.parametrize(
    "text,says",
    [
        ("student,days\nana,two\n", "'two' is not a number of days"),
        ("student,due\nana,2026-11-05T12:00\n", "must say its time zone"),
        ("student,days,due\nana,1,2026-11-05T12:00Z\n", "either days or due"),
        ("student,days\nana,1\nana,2\n", "listed twice"),
        ("name,days\nana,1\n", "the header must be"),
    ],
)
def test_a_bad_extensions_file_is_refused_whole(tmp_path, text, says):
    path = tmp_path / "extensions.csv"
    path.write_text(text)
    with pytest.raises(ExtensionsError, match=says):
        read_extensions(path)


def gradescope_export(folder, times: dict[str, str]):
    for number in range(len(times)):
        write(folder / f"submission_{number}" / "messmaster_part2.ipynb", "right")
    (folder / "submission_metadata.yml").write_text(
        "".join(
            f"submission_{number}:\n  :submitters:\n  - :name: Student {sid}\n    :sid: '{sid}'\n"
            f"  :created_at: {time}\n"
            for number, (sid, time) in enumerate(times.items())
        )
    )
    return folder


def test_the_penalty_is_in_every_view_and_kept_on_a_regrade(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "_grade_in_workers", StandIn())
    export = gradescope_export(
        tmp_path / "export",
        {
            "1": "2026-11-02 23:00:00.000000000 -05:00",
            "2": "2026-11-04 09:00:00 -05:00",
            "3": "2026-11-04 09:00:00 -05:00",
        },
    )
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(RUBRIC_FILE.read_text().replace('due = ""', f'due = "{DUE}"'))
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,days,reason\n3,3,illness\n")
    out = tmp_path / "grades"
    command = ["grade", str(export), "--out", str(out), "--rubric", str(rubric), "--extensions", str(extensions)]
    for force in ([], ["--force"]):  # graded, then graded again: the penalty stays
        assert cli.main([*command, *force]) == 0
        book = rows(out)
        earned = 2.5  # the stand-in's first test
        assert (float(book["1"]["total"]), book["1"]["late"]) == (earned, "")
        assert float(book["2"]["total"]) == earned * 0.8 and float(book["2"]["late_penalty"]) == earned * 0.2
        assert "2 day(s) after the due time" in book["2"]["late"]
        assert float(book["3"]["total"]) == earned and book["3"]["late_penalty"] == ""  # their extension
        results = json.loads((out / "2" / "results.json").read_text())
        assert results["score"] == earned * 0.8 and "late: handed in 2026-11-04 09:00:00-05:00" in results["output"]
        assert "-20% of the points earned (-0.5 points so far)" in (out / "2" / "feedback.md").read_text()
    assert cli.main(["export", "canvas", str(out), "--out", str(tmp_path / "canvas.csv")]) == 0
    with open(tmp_path / "canvas.csv", newline="") as f:
        canvas = {row["ID"]: row for row in csv.DictReader(f)}
    assert float(canvas["2"]["MessMaster part 2"]) == earned * 0.8
