"""The command line, the rubric file and the bundled examples, as an instructor meets them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import nbformat
import pytest

from examples.build_examples import OUT as EXAMPLES
from examples.build_examples import TEMPLATE, example_submissions
from grader.rubric import RUBRIC_FILE, load_rubric

from .conftest import ROOT, read


def run_grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_committed_examples_equal_what_the_builder_makes():
    for name, notebook in example_submissions(read(TEMPLATE)).items():
        assert (EXAMPLES / f"{name}.ipynb").read_text() == nbformat.writes(notebook) + "\n", f"{name} is stale"


def test_make_grade_grades_the_examples_and_prints_a_summary(tmp_path):
    result = run_grader("grade", str(EXAMPLES), "--out", str(tmp_path), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "graded 5 submission(s)" in result.stdout
    with open(tmp_path / "gradebook.csv") as f:
        rows = {row["name"]: row for row in csv.DictReader(f)}
    assert float(rows["alice_correct"]["total"]) == 75
    assert float(rows["bob_untouched_template"]["total"]) < float(rows["carol_forgot_sign"]["total"]) < 75
    assert float(rows["dave_summed_loss"]["loss_fn"]) < 10 and float(rows["erin_no_relu_mask"]["backward"]) < 20
    alice = json.loads((tmp_path / "alice_correct" / "results.json").read_text())
    assert "every automatic test passed" in alice["output"]


def test_missing_path_exits_2_with_a_message(tmp_path):
    result = run_grader("grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr


def test_unreadable_only_batch_exits_0_and_writes_every_file(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.ipynb").write_text("{not json")
    result = run_grader("grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "broken" / "results.json").read_text())["score"] == 0
    assert (tmp_path / "out" / "gradebook.csv").exists()


def test_rubric_whose_points_do_not_add_up_is_refused(tmp_path):
    bad = tmp_path / "rubric.toml"
    bad.write_text(RUBRIC_FILE.read_text().replace("total = 100", "total = 90"))
    with pytest.raises(ValueError, match="add up to 100"):
        load_rubric(bad)
    result = run_grader("grade", str(EXAMPLES), "--out", str(tmp_path / "out"), "--rubric", str(bad))
    assert result.returncode == 2 and "cannot read the rubric" in result.stderr


def test_default_rubric_totals_100_with_25_written():
    rubric = load_rubric()
    assert rubric.total == 100 and rubric.automatic_total == 75 and sum(rubric.written.values()) == 25
