"""The grader's promises where a kernel is what is tested, proved on one batch graded once, three at a time.

The batch (the `engine_class` fixture, tests/engine/conftest.py) is the small assignment's
(examples/assignments/logreg): files that are not notebooks, notebooks that break their kernel (a syntax error, an
endless loop, a kernel that exits), exports as they come, and a corpus of hostile submissions, each trying one kind
of thing, all minimal notebooks: the reference's or the template's graded functions and the cells under test.
MessMaster's whole examples are graded in tests/messmaster/test_examples_graded.py; scoring itself is tested in
process.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.pipeline import grade_class
from grader.result import SubmissionStatus
from grader.run.sandbox import SandboxMode, SandboxPolicy, forks_kernels
from grader.shared.verdicts import Trouble
from grader.views.feedback import feedback_markdown
from grader.views.gradescope import gradescope_results

from ..helpers import (
    BAD_FILES,
    LOGREG_TEMPLATE_SCORE,
    SANDBOXED,
    attacks,
    kernel_users_left,
    texts,
    with_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("as_logreg")]
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap cannot run here (CI installs it)")
ITEMS = ("loss", "gradient", "step", "train")
FUNCTIONS = {
    "loss": "logistic_loss",
    "gradient": "logistic_gradient",
    "step": "descent_step",
    "train": "train_logistic",
}


def item_scores(result):
    return {item: result.item_score(item) for item in ITEMS}


def test_a_lone_surrogate_in_a_markdown_cell_is_graded_like_any_other_text(engine_class, logreg_rubric):
    result = engine_class[0]["surrogate_markdown"]
    assert result.status == SubmissionStatus.GRADED and item_scores(result) == logreg_rubric.points, feedback_markdown(
        result
    )


def test_each_grading_keeps_what_the_integrity_signals_read(engine_class):
    """The graded functions' sources as the notebook defines them (parsed, never run), and no wrong output for
    a submission whose every test passed."""
    alice, syntax_error = engine_class[0]["alice"], engine_class[0]["syntax_error"]
    assert set(alice.code) == set(FUNCTIONS.values()) and alice.wrong_outputs == {}
    assert alice.code["logistic_loss"].startswith("def logistic_loss(") and "softplus" in alice.code["logistic_loss"]
    assert "logistic_loss" not in syntax_error.code  # its cell does not parse: nothing of it is kept


# ---- what breaks a kernel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_unreadable_files_get_results_with_a_reason(engine_class, name):
    results, out, _ = engine_class
    report = json.loads((out / name / "results.json").read_text())
    assert report["score"] == 0 and "Could not grade" in report["output"]
    assert {t["name"].split(".")[0] for t in report["tests"]} >= set(ITEMS)
    assert results[name].status == SubmissionStatus.UNREADABLE


def test_a_notebook_in_format_3_is_upgraded_graded_and_told_so(engine_class, logreg_rubric):
    result = engine_class[0]["format3"]
    assert result.status == SubmissionStatus.GRADED and result.score == logreg_rubric.automatic_total
    assert any("saved in format 3" in p and "costs no points" in p for p in texts(result.problems))


def test_a_script_and_a_zip_in_a_zip_are_graded_as_the_notebooks_they_hold(engine_class, logreg_rubric):
    results = engine_class[0]
    for name in ("scripted", "zipped"):
        assert results[name].status == SubmissionStatus.GRADED and results[name].score == logreg_rubric.automatic_total
    assert "percent format" in results["scripted"].note and "Graded the Python script" in (results["scripted"].note)


def test_a_syntax_error_costs_only_what_depends_on_the_cell(engine_class, logreg_rubric):
    result = engine_class[0]["syntax_error"]
    scores = item_scores(result)
    assert scores["loss"] == 0 and "`logistic_loss` is not defined" in feedback_markdown(result)
    assert scores["gradient"] == logreg_rubric.points["gradient"]
    assert any("SyntaxError" in p for p in texts(result.problems))


def test_an_endless_cell_is_interrupted_and_the_rest_is_graded(engine_class):
    result = engine_class[0]["attack_infinite_loop"]
    assert result.score == LOGREG_TEMPLATE_SCORE, (
        "the template's functions, defined before the endless cell, are graded"
    )
    assert any("interrupted" in p.text and p.trouble == Trouble.TIMEOUT for p in result.problems)


def test_a_cell_no_interrupt_stops_costs_no_item(engine_class, logreg_rubric):
    result = engine_class[0]["lost_in_a_cell"]
    assert result.score == logreg_rubric.automatic_total, feedback_markdown(result)
    skipped = [p for p in texts(result.problems) if "was skipped on a fresh kernel" in p]
    assert (
        len(skipped) == 1
        and "(` import signal, time `)" in skipped[0]
        and "did not stop when interrupted" in skipped[0]
    )
    assert any("run on 2 kernels in all" in p for p in texts(result.problems))


def test_a_graded_call_that_hangs_past_every_signal_costs_its_item_only(engine_class, logreg_rubric):
    result = engine_class[0]["lost_in_a_call"]
    scores = {item: sum(t.score for t in result.tests if t.name.startswith(f"{item}.")) for item in ITEMS}
    # the training, graded after the step, is harvested by a fresh kernel
    assert scores == logreg_rubric.points | {"step": 0}, feedback_markdown(result)
    lost = [t for t in result.tests if t.item == "step"]
    assert lost and all("did not finish in time" in t.output and t.trouble == Trouble.TIMEOUT for t in lost)
    # what the first kernel ran of the grader's own (its probes) is not run again, nor told, on the fresh one
    assert texts(result.problems) == [
        "the kernel was lost, so the notebook was run on 2 kernels in all to grade what it could"
    ], texts(result.problems)


def test_when_every_kernel_is_lost_the_items_left_score_zero_with_the_reason(engine_class, logreg_rubric):
    result = engine_class[0]["attack_os_exit"]
    assert logreg_rubric.run.kernel_restarts == 2  # three kernels, each lost on the next exit
    assert result.score == 0
    skipped = [p for p in texts(result.problems) if "(` import os `) was skipped on a fresh kernel" in p]
    assert len(skipped) == 2 and all("kernel died" in p for p in skipped)
    assert "kernel was lost before this could be graded" in gradescope_results(result)["tests"][0]["output"]
    assert result.tests[0].trouble == Trouble.KERNEL_LOST
    assert {p.trouble for p in result.problems if "was skipped" in p.text} == {Trouble.KERNEL_LOST}


def test_grading_the_same_notebook_twice_gives_the_same_results(engine_class):
    _, out, _ = engine_class
    a = json.loads((out / "repeat_a" / "results.json").read_text())
    b = json.loads((out / "repeat_b" / "results.json").read_text())
    assert a["tests"] == b["tests"] and a["score"] == b["score"] < 90


def test_every_submission_has_its_files_and_a_gradebook_row(engine_class):
    results, out, _ = engine_class
    for name in results:
        report = json.loads((out / name / "results.json").read_text())
        assert set(report) >= {"score", "execution_time", "output", "tests"}
        for test in report["tests"]:
            assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
            # written answers nobody has scored yet are pending, never failed
            written = test["name"].startswith("written.")
            assert test["status"] in ({"pending"} if written else {"passed", "failed"})
            assert test["name"].split(".")[0] in set(ITEMS) | {"written"}
        assert (out / name / "feedback.md").read_text().startswith("# Logistic regression by hand")
        assert (out / name / "feedback.html").read_text().startswith("<!doctype html>")
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert gradebook[0].startswith("student,name,email,source,total,max,status," + ",".join(ITEMS))
    assert len(gradebook) == 1 + len(results)


def test_a_canvas_zip_of_the_same_notebooks_is_graded_under_canvas_ids_from_the_store(
    engine_class, logreg_rubric, tmp_path
):
    """Two notebooks of the batch handed in through Canvas: same bytes, so the store's results, under each student's
    user id."""
    import zipfile

    results, shared, _ = engine_class
    out = tmp_path / "grades"  # a copy: the shared batch's class stays as the other tests read it
    shutil.copytree(shared, out, ignore=shutil.ignore_patterns("grades.lock"))
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(results["alice"].identity.source, "alicecorrect_2001_9001_logreg.ipynb")
        z.write(results["bob"].identity.source, "bobtemplate_LATE_2002_9002_logreg.ipynb")
    run = grade_class(
        [archive], out, logreg_rubric, jobs=2, sandbox=SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    )
    assert (run.reused, run.identical) == (0, 2) and [r.identity.student for r in run.results] == ["2001", "2002"]
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["2001"]["total"]) == logreg_rubric.automatic_total and "marked late" in rows["2002"]["late"]
    assert rows["2001"]["name"] == "alicecorrect" and "submissions.zip" in rows["2001"]["source"]
    assert float(rows["2002"]["total"]) == LOGREG_TEMPLATE_SCORE and "alice" in rows


def test_grading_the_class_again_reuses_every_result_without_a_kernel(engine_class, logreg_rubric):
    """Run last in this module's batch tests: the whole class again, nothing changed, in seconds."""
    results, out, _ = engine_class
    before = (out / "gradebook.csv").read_bytes()
    folder = Path(results["alice"].identity.source).parent
    run = grade_class(
        [folder],
        out,
        logreg_rubric,
        jobs=2,
        sandbox=SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO,
    )
    assert run.reused == len(results)  # every result from the store: no kernel was started
    assert (out / "gradebook.csv").read_bytes() == before


# ---- hostile submissions, in the sandbox ------------------------------------------------------------------


@needs_sandbox
def test_honest_submissions_beside_attacks_score_as_they_do_alone(engine_class, logreg_rubric):
    results, out, _ = engine_class
    assert results["alice"].score == logreg_rubric.automatic_total
    assert results["bob"].score == LOGREG_TEMPLATE_SCORE
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == LOGREG_TEMPLATE_SCORE
    assert "bob,100" not in (out / "gradebook.csv").read_text()


def test_where_kernels_are_forked_every_one_of_the_batch_was(engine_class, logreg_rubric):
    """The workers' zygotes are started by the command, ahead of the workers: one that could not reach a worker's
    scratch mounts made every kernel fall back to a fresh start (a second more each), with the same scores."""
    policy = SandboxPolicy.from_limits(logreg_rubric.limits, SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO)
    if not forks_kernels(policy):
        pytest.skip("kernels are forked only where the grader is root with namespaces")
    graded = [r for r in engine_class[0].values() if r.status == SubmissionStatus.GRADED]
    assert graded and all("namespaces of its own" in r.isolation and "bubblewrap" not in r.isolation for r in graded), {
        r.identity.student: r.isolation for r in graded
    }


@needs_sandbox
@pytest.mark.parametrize("attack", list(attacks("", 0)))
def test_no_attack_earns_a_point(engine_class, attack):
    result = engine_class[0][f"attack_{attack}"]
    assert result.status == SubmissionStatus.GRADED
    assert result.score <= LOGREG_TEMPLATE_SCORE, feedback_markdown(result)


@needs_sandbox
def test_attacks_fail_for_the_reasons_expected(engine_class):
    results, _, contacted = engine_class
    problems = {name: " ".join(texts(r.problems)) for name, r in results.items()}
    secrets = problems["attack_read_secrets"]
    assert secrets.count("FileNotFoundError") == 2, secrets  # the absolute and the relative path
    assert problems["attack_import_ours"].count("ModuleNotFoundError") == 2
    assert "MemoryError" in problems["attack_allocate_30gb"]
    # the relative path is refused; the absolute one is not the real output folder in the sandbox (when that
    # lies under /tmp, the kernel writes its own /tmp): test_nothing_outside_is_written checks the real one
    assert "PermissionError" in problems["attack_write_outside"]
    assert "interrupted" in problems["attack_infinite_loop"]
    assert "too much" in problems["attack_huge_output"]
    assert "kernel died" in problems["attack_os_exit"]
    assert "PermissionError" in problems["attack_kill_parent"]  # its parent is outside its reach
    assert "messages the grader cannot read" in problems["attack_patch_comparisons"]
    assert not contacted, "a kernel reached a server on the grader's loopback"


@needs_sandbox
def test_fork_bomb_is_contained(logreg_rubric, tmp_path):
    """Graded alone (two kernels at once share two cores: a bomb would starve its neighbour)."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(bomb)])
    nbformat.write(notebook, tmp_path / "bomb.ipynb")
    # the bomb's cell runs until the cell's timeout, and its copies until the kernel, lost, is stopped: both short
    rubric = with_run(logreg_rubric, cell_timeout=1, recovery_timeout=1)
    # fewer processes, fewer of them spinning until the kernel is stopped (every limit holds: test_sandbox.py)
    rubric = dataclasses.replace(rubric, limits=dataclasses.replace(rubric.limits, processes=48))
    (result,) = grade_class([tmp_path], tmp_path / "out", rubric, jobs=1, sandbox=SandboxMode.REQUIRED).results
    assert result.score == 0 and any("interrupted" in p or "kernel" in p for p in texts(result.problems))
    if os.geteuid() == 0:  # kernels run as their slot's user: after grading not one of the bomb's processes is left
        assert kernel_users_left() == []
