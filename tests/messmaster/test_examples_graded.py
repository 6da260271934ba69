"""MessMaster part 2 graded on real kernels: three bundled examples as `make grade` grades them, and what only
its manual-backward rule asks of a kernel (autograd in a helper started earlier; what a notebook may leave running).

The batch is the `graded_class` fixture (tests/conftest.py). What every assignment's kernels face is the engine's
(tests/engine/test_end_to_end.py); scoring itself is tested in process (test_scoring.py).
"""

from __future__ import annotations

import csv
import json

import pytest

from grader.shared.outcomes import loop_left_out
from grader.store import ClassStore
from grader.views.feedback import feedback_markdown
from grader.views.gradescope import gradescope_results

from ..helpers import ITEMS, TEMPLATE_SCORE, texts

pytestmark = pytest.mark.slow


def item_scores(result):
    return {item: result.item_score(item) for item in ITEMS}


def test_a_correct_whole_notebook_gets_full_marks_and_runs_cleanly(graded_class, test_rubric):
    result = graded_class[0]["alice_correct"]
    assert item_scores(result) == test_rubric.points, feedback_markdown(result)
    assert result.problems == []


@pytest.mark.parametrize(
    "name,says",
    [
        ("helper_thread", "while the grader called backward, it ran ` requires_grad_ `"),
        ("helper_fork", "ran out of the grader's sight: work handed to another thread or process"),
    ],
)
def test_autograd_in_a_helper_started_in_an_earlier_cell_costs_backward(graded_class, test_rubric, name, says):
    result = graded_class[0][name]
    backward = [test for test in result.tests if test.item == "backward"]
    assert result.item_score("backward") == 0 and all(says in test.output for test in backward), feedback_markdown(
        result
    )
    others = {item: score for item, score in item_scores(result).items() if item != "backward"}
    assert others == {item: test_rubric.points[item] for item in others}, feedback_markdown(result)


def test_what_a_notebook_leaves_running_costs_nothing(graded_class, test_rubric):
    """ipykernel's threads, torch's pool, tqdm's monitor, matplotlib, an idle thread and a busy harmless one."""
    result = graded_class[0]["benign_threads"]
    assert item_scores(result) == test_rubric.points, feedback_markdown(result)


def test_whole_examples_score_as_their_mistakes_say(graded_class, test_rubric):
    _, out = graded_class
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["alice_correct"]["total"]) == test_rubric.automatic_total
    assert float(rows["bob_untouched_template"]["total"]) == TEMPLATE_SCORE
    assert float(rows["carol_forgot_sign"]["sgd_update"]) == 0
    assert TEMPLATE_SCORE < float(rows["carol_forgot_sign"]["total"]) < test_rubric.automatic_total
    assert "every automatic test passed" in json.loads((out / "alice_correct" / "results.json").read_text())["output"]


def test_written_answers_are_in_the_results_for_reviewers(graded_class, test_rubric):
    report = gradescope_results(graded_class[0]["alice_correct"])
    written = {t["name"]: t for t in report["tests"] if t["name"].startswith("written.")}
    assert set(written) == {f"written.{q}" for q in test_rubric.written}
    assert all(t["score"] == 0 for t in written.values())
    assert "Validation data tunes hyperparameters" in written["written.q1a"]["output"]
    assert "(no answer found)" in gradescope_results(graded_class[0]["bob_untouched_template"])["tests"][-1]["output"]


def test_the_untouched_template_runs_on_past_its_failing_cells(graded_class):
    result = graded_class[0]["bob_untouched_template"]
    assert any("mat1 and mat2 shapes cannot be multiplied" in p for p in texts(result.problems))
    assert result.item_score("optimizers") == 10, "the cells after the failing one must still run"


def test_a_training_s_handout_loop_runs_only_where_its_judge_reads_it(graded_class):
    """Beside each train_manual case the grader can run the handout's loop over the notebook's own functions (to
    charge a mistake once): as long as train_manual's own training, so run only where a function it composes
    fails. Left out, it is said so in the evidence (a rescoring that would read it grades with a kernel)."""
    _, out = graded_class
    with ClassStore.open(out) as store:
        outcomes = {student: store.evidence(grading).outcomes for student, grading in store.current_ids().items()}
    loops = [key for key in outcomes["alice"] if key.endswith(".handout_loop")]
    assert loops  # one beside each train_manual case
    for student in ("alice", "alice_correct", "benign_threads"):  # every function it composes passes
        assert all(loop_left_out(outcomes[student][key]) for key in loops), student
    assert all(outcomes["carol_forgot_sign"][key].status == "ok" for key in loops)  # sgd_update fails
    for student in ("bob_untouched_template", "helper_thread"):  # the planted bugs; backward's rule broken
        assert not any(loop_left_out(outcomes[student][key]) for key in loops), student
