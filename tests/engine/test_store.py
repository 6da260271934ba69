"""The class store and its views: regrades that lose nothing, a cache, a lock, a run killed halfway, safe CSVs.

The grading workers are replaced by an in-process stand-in that scores a
notebook by its bytes, so that these tests are about the store, not kernels;
one test kills a real `python -m grader` run with SIGKILL.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import cli, pipeline
from grader.intake.roster import Roster, RosterEntry
from grader.pipeline import grade_class, zero_result
from grader.result import SubmissionStatus
from grader.store import STORE_FILE, ClassStore

from ..helpers import ROOT, minimal_notebook


class StandIn:
    """Grades in process: every test zero, but the first, passed when the notebook's text holds "right"."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.graded: list[str] = []
        self.fail_after = fail_after

    def __call__(self, submissions, rubric, jobs, sandbox):
        for submission in submissions:
            if self.fail_after is not None and len(self.graded) >= self.fail_after:
                raise KeyboardInterrupt
            self.graded.append(submission.identity.student)
            result = zero_result(submission, rubric, SubmissionStatus.GRADED, "graded by the stand-in")
            first = result.tests[0]
            right = b"right" in submission.path.read_bytes()
            result.tests[0] = dataclasses.replace(
                first, score=first.max_score if right else 0.0, problem="" if right else "stand-in"
            )
            yield submission, result


@pytest.fixture
def stand_in(monkeypatch):
    worker = StandIn()
    monkeypatch.setattr(pipeline, "_grade_in_workers", worker)
    return worker


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text, id="text")])))
    return path


def files_of(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def gradebook_lines(files) -> dict[str, str]:
    """The gradebook's lines as bytes on disk, by student."""
    lines = files[Path("gradebook.csv")].decode().splitlines()[1:]
    return {line.split(",", 1)[0]: line for line in lines}


def rows(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture
def a_class(tmp_path):
    submissions = tmp_path / "submissions"
    for name in ("ana", "ben", "cleo"):
        write(submissions / f"{name}.ipynb", name * 3)
    return submissions, tmp_path / "grades"


def test_regrading_one_student_keeps_every_other_row_and_file_byte_identical(stand_in, a_class, test_rubric):
    submissions, out = a_class
    grade_class([submissions], out, test_rubric)
    before = files_of(out)
    write(submissions / "ana.ipynb", "ana, resubmitted: right this time")
    run = grade_class([submissions / "ana.ipynb"], out, test_rubric)
    assert [r.identity.student for r in run.results] == ["ana"]
    after = files_of(out)
    assert after[Path("ana") / "results.json"] != before[Path("ana") / "results.json"]
    for name in ("ben", "cleo"):
        assert {k: v for k, v in after.items() if k.parts[0] == name} == {
            k: v for k, v in before.items() if k.parts[0] == name
        }
    old, new = gradebook_lines(before), gradebook_lines(after)
    assert old["ben"] == new["ben"] and old["cleo"] == new["cleo"] and old["ana"] != new["ana"]
    with ClassStore.open(out, test_rubric) as store:
        assert [grading.status for grading in store.history("ana")] == ["graded", "graded"]
        assert len(store.history("ben")) == 1


def test_an_unchanged_class_is_not_graded_again_unless_forced(stand_in, a_class, test_rubric):
    submissions, out = a_class
    grade_class([submissions], out, test_rubric)
    assert sorted(stand_in.graded) == ["ana", "ben", "cleo"]
    before = files_of(out)
    run = grade_class([submissions], out, test_rubric)
    assert run.reused == 3 and len(stand_in.graded) == 3, "an unchanged submission must not reach a worker"
    views = {k: v for k, v in files_of(out).items() if k.name not in ("grades.sqlite", "grades.lock")}
    assert views == {k: v for k, v in before.items() if k.name not in ("grades.sqlite", "grades.lock")}
    run = grade_class([submissions], out, test_rubric, force=True)
    assert run.reused == 0 and len(stand_in.graded) == 6


def test_a_changed_rubric_grades_again(stand_in, a_class, test_rubric):
    from ..helpers import with_run

    submissions, out = a_class
    grade_class([submissions], out, test_rubric)
    run = grade_class([submissions], out, with_run(test_rubric, call_timeout=7))
    assert run.reused == 0 and len(stand_in.graded) == 6


def test_a_run_interrupted_halfway_keeps_what_it_finished_and_the_next_run_finishes_the_rest(
    monkeypatch, a_class, test_rubric
):
    submissions, out = a_class
    monkeypatch.setattr(pipeline, "_grade_in_workers", StandIn(fail_after=1))
    with pytest.raises(KeyboardInterrupt):
        grade_class([submissions], out, test_rubric)
    db = sqlite3.connect(out / STORE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM gradings").fetchone() == (1,)
    db.close()
    finisher = StandIn()
    monkeypatch.setattr(pipeline, "_grade_in_workers", finisher)
    run = grade_class([submissions], out, test_rubric)  # the lock was released with the interrupted run
    assert run.reused == 1 and len(finisher.graded) == 2
    assert set(rows(out)) == {"ana", "ben", "cleo"}


@pytest.mark.slow
def test_a_run_killed_with_sigkill_leaves_a_consistent_store_and_a_rerun_finishes(tmp_path, solved):
    """Killed while a notebook still runs (it sleeps for minutes): the run is really cut short, what was
    stored is whole, and the same command grades the rest."""
    submissions = tmp_path / "submissions"
    for index in range(5):
        (submissions / f"s{index}").mkdir(parents=True)
        (submissions / f"s{index}" / "nb.ipynb").write_text(f"not a notebook {index}")
    (submissions / "sleeper").mkdir()
    nbformat.write(minimal_notebook(solved, "import time\ntime.sleep(600)"), submissions / "sleeper" / "nb.ipynb")
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--sandbox", "off"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    graded = 0
    while graded == 0 and process.poll() is None:  # the files that are no notebooks are stored first
        time.sleep(0.2)
        if (out / STORE_FILE).exists():
            try:
                graded = sqlite3.connect(out / STORE_FILE).execute("SELECT COUNT(*) FROM gradings").fetchone()[0]
            except sqlite3.OperationalError:
                graded = 0
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
    db = sqlite3.connect(out / STORE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = db.execute("SELECT COUNT(*) FROM gradings").fetchone()[0]
    assert db.execute("SELECT finished FROM runs").fetchall() == [(None,)]  # cut short before its end
    assert db.execute("SELECT COUNT(*) FROM gradings WHERE student = 'sleeper'").fetchone() == (0,)
    db.close()
    shutil.rmtree(submissions / "sleeper")  # the rest of the class, without the notebook that sleeps
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # the five unreadable ones need a look
    assert f"({min(stored, 5)} unchanged, not run again)" in rerun.stdout
    assert set(rows(out)) == {f"s{index}" for index in range(5)}
    assert all((out / f"s{index}" / "results.json").exists() for index in range(5))


def test_students_files_with_the_same_name_stay_apart(stand_in, tmp_path, test_rubric):
    write(tmp_path / "in" / "ana" / "messmaster_part2.ipynb", "a")
    write(tmp_path / "in" / "ben" / "messmaster_part2.ipynb", "bb")
    grade_class([tmp_path / "in"], tmp_path / "out", test_rubric)
    assert (tmp_path / "out" / "ana" / "results.json").exists() and (tmp_path / "out" / "ben" / "results.json").exists()
    assert set(rows(tmp_path / "out")) == {"ana", "ben"}


def test_cells_a_student_controls_cannot_become_formulas(stand_in, tmp_path, test_rubric):
    write(tmp_path / "in" / "=HYPERLINK(evil).ipynb", "x")
    write(tmp_path / "in" / "@SUM(A1).ipynb", "y")
    grade_class([tmp_path / "in"], tmp_path / "out", test_rubric)
    text = (tmp_path / "out" / "gradebook.csv").read_text()
    assert "'=HYPERLINK(evil)" in text and "'@SUM(A1)" in text
    assert not any(line.startswith(("=", "@", "+", "-")) for line in text.splitlines())
    for line in text.splitlines():
        assert not any(cell.startswith(("=", "@", "+", "\t", "\r")) for cell in next(csv.reader([line])))
    cli.main(["export", "canvas", str(tmp_path / "out"), "--out", str(tmp_path / "canvas.csv")])
    cells = [cell for row in csv.reader(open(tmp_path / "canvas.csv")) for cell in row]
    assert "'=HYPERLINK(evil)" in cells and not any(c.startswith(("=", "@")) for c in cells)


def test_the_roster_names_students_and_lists_who_did_not_submit(stand_in, a_class, test_rubric, tmp_path):
    submissions, out = a_class
    entries = [
        RosterEntry("ana", "Ana Lima", "ana@uni.edu", "S-1", "alima", "Sec 1"),
        RosterEntry("dan", "Dan Wu", "dan@uni.edu", "S-4", "dwu", "Sec 2"),
    ]
    roster = Roster(entries, tmp_path / "roster.csv", "student", ["student", "name", "email"])
    grade_class([submissions], out, test_rubric, roster=roster)
    table = rows(out)
    assert list(next(csv.reader(open(out / "gradebook.csv"))))[:4] == ["student", "name", "email", "source"]
    assert (table["ana"]["name"], table["ana"]["email"]) == ("Ana Lima", "ana@uni.edu")
    assert table["dan"]["status"] == "missing" and float(table["dan"]["total"]) == 0
    assert table["ben"]["status"] == "graded" and table["ben"]["source"].endswith("ben.ipynb")
    assert (
        cli.main(["export", "canvas", str(out), "--out", str(tmp_path / "canvas.csv"), "--assignment", "MM2 (77)"]) == 0
    )
    with open(tmp_path / "canvas.csv", newline="") as f:
        canvas = list(csv.DictReader(f))
    assert list(canvas[0]) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "MM2 (77)"]
    assert canvas[0]["Student"].strip() == "Points Possible" and float(canvas[0]["MM2 (77)"]) == test_rubric.total
    by_id = {row["ID"]: row for row in canvas[1:]}
    assert by_id["ana"]["Student"] == "Ana Lima" and by_id["ana"]["SIS Login ID"] == "alima"
    # nothing handed in: blank, so that Canvas's missing-submission policy decides (a 0 would override it)
    assert float(by_id["ana"]["MM2 (77)"]) == float(table["ana"]["total"]) and by_id["dan"]["MM2 (77)"] == ""
    assert cli.main(["export", "canvas", str(out), "--out", str(tmp_path / "zeros.csv"), "--missing-as-zero"]) == 0
    with open(tmp_path / "zeros.csv", newline="") as f:
        assert {row["ID"]: row["MessMaster part 2"] for row in csv.DictReader(f)}["dan"] == "0"


def test_each_run_records_the_grader_rubric_and_cases_versions(stand_in, a_class, test_rubric):
    submissions, out = a_class
    grade_class([submissions], out, test_rubric)
    db = sqlite3.connect(out / STORE_FILE)
    (run,) = db.execute("SELECT grader_version, rubric_hash, cases_hash, finished FROM runs").fetchall()
    assert all(run) and len(run[0]) == 16
    hashes = {row[0] for row in db.execute("SELECT content_hash FROM gradings")}
    assert len(hashes) == 3


def test_export_needs_a_graded_folder(tmp_path, capsys):
    assert cli.main(["export", "canvas", str(tmp_path), "--out", str(tmp_path / "c.csv")]) == 2
    assert "grade into it first" in capsys.readouterr().err


def test_a_result_shared_by_identical_notebooks_keeps_each_students_own_note(stand_in, tmp_path, test_rubric):
    write(tmp_path / "in" / "ana" / "messmaster_part2.ipynb", "same right notebook")
    write(tmp_path / "in" / "ana" / "draft.ipynb", "an older draft")
    write(tmp_path / "in" / "ben" / "messmaster_part2.ipynb", "same right notebook")
    run = grade_class([tmp_path / "in"], tmp_path / "out", test_rubric)
    assert (run.reused, run.identical) == (0, 1) and len(stand_in.graded) == 1, "the second takes the first's result"
    ana = json.loads((tmp_path / "out" / "ana" / "results.json").read_text())["output"]
    ben = json.loads((tmp_path / "out" / "ben" / "results.json").read_text())["output"]
    assert "also handed in: ` draft.ipynb `" in ana and "draft" not in ben
    assert "also handed in: ` draft.ipynb `" in (tmp_path / "out" / "ana" / "feedback.md").read_text()


def test_a_class_folder_inside_the_submissions_is_not_taken_for_a_student(stand_in, a_class, test_rubric):
    submissions, _ = a_class
    out = submissions / "grades"
    grade_class([submissions], out, test_rubric)
    run = grade_class([submissions], out, test_rubric)
    assert sorted(r.identity.student for r in run.results) == ["ana", "ben", "cleo"]


def test_junit_and_summary_reports_hold_every_student_and_escape_what_students_control(
    stand_in, tmp_path, test_rubric, monkeypatch, capsys
):
    import xml.etree.ElementTree as ET

    write(tmp_path / "in" / "a|b<script>.ipynb", "right")
    write(tmp_path / "in" / "carl.ipynb", "wrong")
    summary, job = tmp_path / "summary.md", tmp_path / "job.md"
    job.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    args = ["grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--sandbox", "off"]
    assert cli.main([*args, "--report", "junit", "--summary-md", str(summary)]) == 0
    suites = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert [s.get("name") for s in suites] == ["a|b<script>", "carl"]
    carl = suites[1]
    assert int(carl.get("tests")) == len(list(carl.iter("testcase"))) and int(carl.get("failures")) > 0
    assert all(f.text for f in carl.iter("failure"))
    table = summary.read_text()
    assert "| ` a\\|b<script> ` |" in table and "| ` carl ` |" in table  # code spans: no markup of theirs
    assert job.read_text() == "earlier\n" + table


def test_an_older_file_never_replaces_a_newer_grading_unless_accepted(stand_in, tmp_path, test_rubric, capsys):
    """Canvas: a resubmission graded on its own, then the class's first download (with the original) again."""
    download = tmp_path / "download"
    original = write(download / "kimmin_1004_998_grader_part2.ipynb", "first try")
    resubmission = write(tmp_path / "later" / "kimmin_1004_1000_grader_part2-1.ipynb", "right this time")
    out = tmp_path / "grades"
    grade_class([download], out, test_rubric)
    grade_class([resubmission], out, test_rubric)
    run = grade_class([download], out, test_rubric)
    assert stand_in.graded == ["1004", "1004"]  # the original was not graded again
    (kept,) = run.kept_newer
    assert kept.startswith("1004: kept the grading of the newer file (Canvas attachment 1000 (-1))")
    assert run.results[0].score > 0 and rows(out)["1004"]["total"] != "0"
    assert cli.main(["history", str(out), "1004"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("Canvas attachment") == 2 and "2 grading(s) of 1004; the last is current" in listed
    run = grade_class([original], out, test_rubric, accept_older=True)
    assert run.kept_newer == [] and run.results[0].score == 0 and stand_in.graded[-1] == "1004"


def test_everyone_who_handed_in_anything_is_named_and_nobody_is_missing(stand_in, tmp_path, capsys):
    """A Canvas download with a script, a zip, an empty file and a PDF, and a roster with non-ASCII names."""
    import jupytext

    download = tmp_path / "download"
    download.mkdir()
    text = jupytext.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# right")]), fmt="py:percent")
    (download / "doejane_1001_5001_grader_part2.py").write_text(text)
    with zipfile.ZipFile(download / "smithjohn_1002_5002_grader_part2.zip", "w") as archive:
        archive.writestr("messmaster_part2.ipynb", (write(tmp_path / "z.ipynb", "right").read_text()))
    (download / "leeann_1003_5003_grader_part2.ipynb").write_text("")
    (download / "parkjo_1005_5005_answers.pdf").write_bytes(b"%PDF-1.4")
    write(download / "ngo_1006_998_grader_part2.ipynb", "the first try")  # and its resubmission, newer
    write(download / "ngo_1006_1000_grader_part2-1.ipynb", "right this time")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        '"Doe, Zoë",1001,,,\n"Smith, Jöhn",1002,,,\n"Lee, Ann-Sofie Ångström",1003,,,\n'
        '"Kim, Min-jun 김민준",1004,,,\n"Park, Jo",1005,,,\n"Ngô, Bảo Châu",1006,,,\n',
        encoding="utf-8",
    )
    out = tmp_path / "grades"
    code = cli.main(["grade", str(download), "--out", str(out), "--roster", str(roster), "--sandbox", "off"])
    printed = capsys.readouterr().out
    assert code == 1  # two of them need a look
    gradebook = rows(out)
    assert {s: r["status"] for s, r in gradebook.items()} == {
        "1001": "graded",
        "1002": "graded",
        "1003": "unreadable",
        "1004": "missing",
        "1005": "unreadable",
        "1006": "graded",
    }
    assert gradebook["1004"]["name"] == "Kim, Min-jun 김민준" and gradebook["1001"]["name"] == "Doe, Zoë"
    assert float(gradebook["1001"]["total"]) > 0 and float(gradebook["1002"]["total"]) > 0
    assert float(gradebook["1006"]["total"]) > 0 and gradebook["1006"]["name"] == "Ngô, Bảo Châu"  # the newer file
    assert "2 student(s) handed in nothing that can be graded (their feedback says why): 1003, 1005" in printed
    assert "1 student(s) on the roster, with nothing handed in: 1004" in printed
    feedback = (out / "1005" / "feedback.md").read_text()
    assert "answers.pdf" in feedback and "holds no Jupyter notebook" in feedback
    report = (out / "report.html").read_text()
    trouble = report.split('id="trouble"')[1].split("</table>")[0]
    for student, status in (("1003", "unreadable"), ("1005", "unreadable"), ("1004", "missing")):
        assert f"<td>{student}</td>" in trouble and status in trouble
    assert "Kim, Min-jun 김민준" in trouble
    assert "<h1>MessMaster part 2: feedback for Doe, Zoë (1001)</h1>" in (out / "1001" / "feedback.html").read_text()
    assert "6 student(s) graded or on the roster: 5 with a grading (2 of them with nothing that could be graded" in (
        " ".join(report.split())
    )


def test_the_terminal_says_what_a_run_did_with_identical_files_and_students_off_the_roster(stand_in, tmp_path, capsys):
    write(tmp_path / "in" / "ana" / "messmaster_part2.ipynb", "the group's notebook")
    write(tmp_path / "in" / "ben" / "messmaster_part2.ipynb", "the group's notebook")
    write(tmp_path / "in" / "cleo" / "messmaster_part2.ipynb", "her own")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nana,Ana\ncleo,Cleo\ndan,Dan\n")
    out = tmp_path / "out"
    cli.main(["grade", str(tmp_path / "in"), "--out", str(out), "--roster", str(roster), "--sandbox", "off"])
    printed = capsys.readouterr().out
    assert "(1 identical to another student's file, graded once)" in printed and "unchanged" not in printed
    assert "1 student(s) graded, but not on the roster (a misnamed file, or a late enrolment?): ben" in printed
    cli.main(["grade", str(tmp_path / "in"), "--out", str(out), "--roster", str(roster), "--sandbox", "off"])
    assert "(3 unchanged, not run again)" in capsys.readouterr().out
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        dan = next(row for row in csv.DictReader(f) if row["student"] == "dan")
    assert (dan["total"], dan["max"]) == ("0", "75")  # one format for points: no 0 beside 75.0


def test_a_stray_student_is_removed_or_merged_and_kept_in_history(stand_in, tmp_path, capsys):
    write(tmp_path / "in" / "ana" / "messmaster_part2.ipynb", "ana's")
    write(tmp_path / "in" / "ben" / "messmaster_part2.ipynb", "ben's")
    write(tmp_path / "in" / "ana copy (2)" / "messmaster_part2.ipynb", "ana's newer")
    write(tmp_path / "in" / "stray" / "messmaster_part2.ipynb", "nobody's")
    out = tmp_path / "out"
    cli.main(["grade", str(tmp_path / "in"), "--out", str(out), "--sandbox", "off"])
    with ClassStore.open(out) as store:
        store.set_written_scores([("ana copy (2)", "q1a", 2.0, "kept"), ("ana", "q1b", 1.0, "")])
    assert cli.main(["student", "remove", str(out), "stray", "--reason", "an empty file"]) == 0
    merged = ["student", "merge", str(out), "ana copy (2)", "ana", "--reason", "renamed by the LMS"]
    assert cli.main(merged) == 0
    assert set(rows(out)) == {"ana", "ben"}
    assert not (out / "stray").exists() and not (out / "ana copy (2)").exists()
    with ClassStore.open(out) as store:
        ana = store.current("ana")
        assert {q: s.score for q, s in ana.written_scores.items()} == {"q1a": 2.0, "q1b": 1.0}
        assert stand_in.graded and ana.identity.student == "ana"
    capsys.readouterr()
    assert cli.main(["history", str(out), "stray"]) == 0
    assert "taken out of the class on " in capsys.readouterr().out
    assert cli.main(["history", str(out), "ana copy (2)"]) == 0
    said = capsys.readouterr().out
    assert "(merged into ana)" in said and "renamed by the LMS" in said
    assert cli.main(["student", "remove", str(out), "nobody", "--reason", "x"]) == 2
    # the identity handed in again is a student again
    write(tmp_path / "in" / "stray" / "messmaster_part2.ipynb", "now a real notebook")
    cli.main(["grade", str(tmp_path / "in" / "stray"), "--out", str(out), "--sandbox", "off"])
    assert "stray" in rows(out)


def test_history_explains_a_students_total_with_who_and_when(stand_in, tmp_path, capsys):
    write(tmp_path / "in" / "ana" / "messmaster_part2.ipynb", "ana's")
    out = tmp_path / "out"
    cli.main(["grade", str(tmp_path / "in"), "--out", str(out), "--sandbox", "off"])
    with ClassStore.open(out) as store:
        store.set_written_scores([("ana", "q1a", 1.5, "")], by="Grace")
        store.decisions.adjust("ana", "forward", 0, 2.5, "a regrade request upheld", "Alan")
    capsys.readouterr()
    assert cli.main(["history", str(out), "ana"]) == 0
    said = capsys.readouterr().out
    assert "total now 4 of 77: 2.5 automatic + 1.5 written - 0 late penalty" in said, said
    assert "under the class's rubric since " in said
    assert "forward: 2.5/10" in said and "adjusted: `forward` +2.5 points, by Alan on " in said
    assert "written q1a: 1.5/2, by Grace on " in said and "written q1b: awaiting grading (3 points)" in said


def test_a_stray_file_merges_into_a_roster_student_with_nothing_graded(stand_in, tmp_path):
    """The misnamed file of roster student 100123, who is otherwise "missing"."""
    write(tmp_path / "in" / "vega victor whole file name" / "messmaster_part2.ipynb", "vega's")
    write(tmp_path / "in" / "100124" / "messmaster_part2.ipynb", "ana's")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\n100123,Victor Vega\n100124,Ana Lima\n")
    out = tmp_path / "out"
    cli.main(["grade", str(tmp_path / "in"), "--out", str(out), "--sandbox", "off", "--roster", str(roster)])
    assert rows(out)["100123"]["status"] == "missing"
    stray = ["student", "merge", str(out), "vega victor whole file name", "100123", "--reason", "misnamed"]
    assert cli.main(stray) == 0
    assert set(rows(out)) == {"100123", "100124"} and rows(out)["100123"]["status"] == "graded"
    assert rows(out)["100123"]["name"] == "Victor Vega"


def test_an_unchanged_submission_is_recorded_as_a_copy_of_its_grading_under_its_new_identity(tmp_path, test_rubric):
    """Reuse copies the stored grading within the store (tests, evidence, what the pages draw, written answers),
    never decoding it, under the identity, note and hand-in time of the submission as it comes this time."""
    import numpy as np

    from grader.intake import Identity, Submission
    from grader.judge.evidence import Evidence
    from grader.result import SubmissionResult
    from grader.shared.outcomes import CallOutcome, CallStatus, Leaf
    from grader.shared.verdicts import TestResult
    from grader.store import current_versions

    versions = current_versions(test_rubric)
    result = SubmissionResult(Identity("ana", "Ana"), test_rubric, status=SubmissionStatus.GRADED)
    result.tests = [TestResult("loss_fn", "loss_fn.random", 0.0, 2.5, "Called it.", "wrong", "loss_summed")]
    result.plots, result.written = {"epochs": 3, "sgd": [[0, 1.5]]}, {"q1a": "because"}
    leaf = Leaf("", {"type": "tensor"}, np.arange(4, dtype=np.float32))
    result.evidence = Evidence({"loss_fn.random": CallOutcome(CallStatus.OK, leaves=[leaf])}, {}, {"loss_fn": ["y"]})
    with ClassStore.open(tmp_path, test_rubric) as store:
        first = store.record(store.begin_run(versions), Submission(Identity("ana", "Ana"), None), "c", versions, result)
        again = Submission(Identity("ana", "Ana Lima", "ana@example.edu"), None, "graded again")
        copied = store.reuse(store.begin_run(versions), again, "c", versions, first)
        current = store.current("ana")
        assert copied != first and current.identity.name == "Ana Lima" and current.note == "graded again"
        assert current.tests == result.tests and current.plots == result.plots and current.written == result.written
        assert store.evidence(copied).to_bytes() == store.evidence(first).to_bytes()
        assert store.evidence(copied).ignored == {"loss_fn": ["y"]}
        assert [g.reused_from for g in store.history("ana")] == [None, first]
        # the views of the whole class read no figures' numbers (most of a grading's bytes)
        assert store.current("ana", plots=False).plots == {} and store.students(plots=False)[0].result.plots == {}
        assert store.current("ana", plots=False).tests == result.tests
