"""Verdicts are data: each test carries its item, mistake and kind of trouble, stored as columns, and every view
reads those fields. A hint reworded in the catalogue, or a problem that merely mentions a timeout, changes no
count of the report. All in process, in milliseconds."""

from __future__ import annotations

import json
import sqlite3

import pytest

from grader.cluster import result_from_data, result_to_data
from grader.intake import Identity, Submission
from grader.judge.score import score_item
from grader.result import Problem, SubmissionResult, SubmissionStatus
from grader.shared import verdicts as verdict
from grader.shared.outcomes import CallOutcome, CallStatus
from grader.shared.verdicts import TestResult, Trouble
from grader.store import STORE_FILE, ClassStore, StudentRow, current_versions
from grader.views.feedback import _without_repeated_hints
from grader.views.junit import junit_xml
from grader.views.report import report_html


def wrong(
    item: str, name: str, mistake: str = "", trouble: Trouble = Trouble.NONE, problem: str = "wrong."
) -> TestResult:
    return TestResult(item, name, 0.0, 2.5, "Called it.", problem, mistake, trouble)


def result_of(student: str, rubric, tests: list[TestResult], problems: list[Problem] = ()) -> SubmissionResult:
    return SubmissionResult(Identity(student), rubric, tests=list(tests), problems=list(problems))


def test_a_failing_test_is_made_of_fields_and_its_output_of_them(rubric):
    test = wrong("sgd_update", "sgd_update.random", mistake="update_sign", problem="W1 moved *up* the gradient.")
    assert not test.passed and test.item == "sgd_update"
    assert test.output.startswith("Called it. W1 moved *up* the gradient. Hint (update_sign): ")
    assert TestResult("loss_fn", "loss_fn.random", 2.5, 2.5).output == "passed"


def test_the_report_counts_mistakes_from_the_field_whatever_the_hint_says(rubric, monkeypatch):
    monkeypatch.setattr(verdict, "hint", lambda name: "Reworded, with no name in it.")
    rows = [
        StudentRow(Identity(s), None, result_of(s, rubric, [wrong("sgd_update", "sgd_update.random", "update_sign")]))
        for s in ("ada", "bo")
    ]
    # a message that quotes a hint's words is the student's text, not a catalogued mistake
    quoted = wrong("loss_fn", "loss_fn.random", problem="`loss_fn` raised ValueError: Hint (loss_whole_columns)")
    rows.append(StudentRow(Identity("cy"), None, result_of("cy", rubric, [quoted])))
    assert all("Hint (update_sign)" not in t.output for row in rows for t in row.result.tests)
    page = report_html(rows, rubric)
    named = page.split('id="misconceptions"')[1].split("</table>")[0]
    assert "<code>update_sign</code>" in named and '<td class="num">2</td>' in named
    assert "loss_whole_columns" not in named
    others = page.split('id="mistakes"')[1].split("</table>")[0]
    assert "Hint (loss_whole_columns)" in others  # among the other messages, as written


def test_the_report_lists_for_a_look_by_trouble_never_by_wording(rubric):
    timed_out = result_of("ada", rubric, [], [Problem("code cell 4: ran longer than 15 s", Trouble.TIMEOUT)])
    lost_call = result_of(
        "bo", rubric, [wrong("train_manual", "train_manual.loss_history.training_split", trouble=Trouble.TIMEOUT)]
    )
    # a student's own exception that happens to say "could not" or "kernel died" is no trouble of the run
    says_so = result_of("cy", rubric, [], [Problem("code cell 2: `RuntimeError: the kernel died, could not`")])
    rows = [StudentRow(r.identity, None, r) for r in (timed_out, lost_call, says_so)]
    needs = report_html(rows, rubric).split('id="trouble"')[1].split("</table>")[0]
    assert "ada" in needs and "ran longer than 15 s" in needs
    assert "bo" in needs and "train_manual" in needs
    assert "cy" not in needs


def test_feedback_gives_each_catalogued_hint_once_from_the_field(rubric, monkeypatch):
    monkeypatch.setattr(verdict, "hint", lambda name: f"(said differently: {name})")
    failing = [wrong("backward", f"backward.dW1.{case}", "relu_mask_missing") for case in ("a", "b", "c")]
    failing.append(wrong("forward", "forward.random", problem="p_hat: wrong. Hint: see Q1."))
    tests, hints = _without_repeated_hints(failing)
    assert [(h["name"], h["tests"]) for h in hints] == [("relu_mask_missing", 3)]
    assert all("said differently" not in t["output"] for t in tests)
    assert tests[-1]["output"] == "Called it. p_hat: wrong. Hint: see Q1."  # advice of no catalogued mistake stays


def test_junit_groups_tests_by_their_item_field(rubric):
    test = wrong("backward", "odd name without the item", "relu_mask_missing")
    tree = junit_xml([StudentRow(Identity("ada"), None, result_of("ada", rubric, [test]))])
    assert tree.find(".//testcase").get("classname") == "ada.backward"


def test_the_prologue_says_what_kind_of_trouble_kept_a_case_from_being_judged(rubric, cases):
    kinds = [
        (CallOutcome(CallStatus.ERROR, "NotImplementedError: TODO"), Trouble.TODO),
        (CallOutcome(CallStatus.ERROR, "ValueError: no"), Trouble.RAISED),
        (CallOutcome(CallStatus.MISSING), Trouble.MISSING),
        (CallOutcome(CallStatus.NOT_CALLABLE), Trouble.NOT_CALLABLE),
        (CallOutcome(CallStatus.TIMEOUT, "30 s"), Trouble.TIMEOUT),
        (CallOutcome(CallStatus.LOST, "the kernel was lost during this call"), Trouble.KERNEL_LOST),
        (CallOutcome(CallStatus.NOT_RUN, "the submission used up its time"), Trouble.NOT_RUN),
    ]
    loss_cases = cases["loss_fn"]
    for outcome, trouble in kinds:
        tests = score_item("loss_fn", loss_cases, {c.calls[0].key: outcome for c in loss_cases}, rubric)
        assert {(t.item, t.trouble, t.score) for t in tests} == {("loss_fn", trouble, 0.0)}, outcome
    returned = {c.calls[0].key: CallOutcome(CallStatus.OK) for c in loss_cases}
    broke = score_item("loss_fn", loss_cases, returned, rubric, breach="it used autograd")
    assert {t.trouble for t in broke} == {Trouble.RULE}


def test_fields_survive_the_store_and_the_cluster(rubric, tmp_path):
    tests = [
        wrong("sgd_update", "sgd_update.random", "update_sign", problem="W1 moved *up*."),
        wrong("loss_fn", "loss_fn.random", trouble=Trouble.TIMEOUT, problem="`loss_fn` did not return in time."),
        TestResult("forward", "forward.random", 2.5, 2.5),
    ]
    problems = [Problem("code cell 3: ran longer than 15 s", Trouble.TIMEOUT), Problem("printed too much")]
    result = result_of("ada", rubric, tests, problems)
    submission = Submission(Identity("ada"), None)
    crossed = result_from_data(json.loads(json.dumps(result_to_data(result))), submission, rubric)
    assert (crossed.tests, crossed.problems) == (tests, problems)
    with ClassStore.open(tmp_path, rubric) as store:
        run = store.begin_run(current_versions(rubric))
        grading = store.record(run, submission, "none", current_versions(rubric), result)
        stored = store.result_of(grading)
    assert (stored.tests, stored.problems) == (tests, problems)


@pytest.mark.parametrize("malformed", [{"item": 3}, {"trouble": "on fire"}, {"mistake": None}])
def test_a_workers_malformed_verdict_is_refused(rubric, malformed):
    data = result_to_data(result_of("ada", rubric, [wrong("loss_fn", "loss_fn.random")]))
    data["tests"][0] |= malformed
    with pytest.raises(ValueError):
        result_from_data(data, Submission(Identity("ada"), None), rubric)


def test_a_store_of_older_days_gets_its_items_and_problems_once(rubric, tmp_path):
    """Its tests held the message alone and its problems were sentences: both still read, nothing lost."""
    with ClassStore.open(tmp_path, rubric) as store:
        run = store.begin_run(current_versions(rubric))
        result = result_of("ada", rubric, [wrong("backward", "backward.dW1.random", "relu_mask_missing")])
        result.status = SubmissionStatus.GRADED
        grading = store.record(run, Submission(Identity("ada"), None), "none", current_versions(rubric), result)
    old_output = result.tests[0].output
    db = sqlite3.connect(tmp_path / STORE_FILE)
    for column in ("item", "called", "problem", "mistake", "trouble"):
        db.execute(f"ALTER TABLE tests DROP COLUMN {column}")
    db.execute("UPDATE gradings SET problems = ?", (json.dumps(["code cell 1: ran longer than 15 s"]),))
    db.execute("PRAGMA user_version = 0")  # made before stores were numbered
    db.commit()
    db.close()
    with ClassStore.open(tmp_path, rubric) as store:
        old = store.result_of(grading)
    (test,) = old.tests
    assert (test.item, test.name, test.output, test.passed) == ("backward", "backward.dW1.random", old_output, False)
    assert old.problems == [Problem("code cell 1: ran longer than 15 s")]
