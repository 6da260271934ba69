"""A class remembers its rubric: another one is refused, never mixed in; a change of points or tolerances
rescores the whole class from stored outcomes without a kernel (but those whose training would now read a handout's
loop their grading never ran); a change of epochs or rules needs them all."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from grader import cli, pipeline
from grader.pipeline import RubricMismatch, grade_class
from grader.rescore import needing_kernels
from grader.rubric import RubricChange, rubric_changes
from grader.store import ClassStore, class_rubric_of

from ..helpers import RUBRIC_FILE, TEMPLATE_SCORE, with_run
from .test_store import StandIn, rows, write


@pytest.fixture
def stand_in(monkeypatch):
    worker = StandIn()
    monkeypatch.setattr(pipeline, "_grade_in_workers", worker)
    return worker


def reweighted(rubric, **points):
    """The rubric with some items' points changed, the written points making up the total."""
    items = {
        name: dataclasses.replace(spec, points=points.get(name, spec.points)) for name, spec in rubric.items.items()
    }
    moved = sum(points.values()) - sum(rubric.items[name].points for name in points)
    written = dict(rubric.written)
    written["q1d"] -= moved
    return dataclasses.replace(rubric, items=items, written=written)


def test_changes_are_told_apart_by_what_they_need():
    def kind(key):
        return RubricChange(key, 1, 2).kind

    assert kind("items.backward.points") == kind("tolerance.rtol") == kind("written.q1a") == "scoring"
    assert kind("items.train_manual.holdout_accuracy") == "scoring"
    assert (
        kind("run.grading_epochs")
        == kind("items.backward.rule.identifiers")
        == kind("items.forward.rule")
        == ("grading")
    )
    assert kind("run.cell_timeout") == kind("limits.memory_gib") == kind("gradescope.visibility") == "resources"


@pytest.fixture
def class_copy(graded_class, tmp_path):
    """A copy of the shared batch's class folder, to change its rubric without touching the batch."""
    results, out = graded_class
    copy = tmp_path / "grades"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("grades.lock"))
    return results, copy


@pytest.mark.slow
def test_a_points_change_rescores_the_whole_class_without_a_kernel(class_copy, test_rubric, monkeypatch):
    results, out = class_copy
    folder = [Path(results["alice"].identity.source).parent]
    new = reweighted(test_rubric, backward=15, loss_fn=12)
    with pytest.raises(RubricMismatch, match=r"items\.backward\.points: 20\.0 -> 15"):
        grade_class(folder, out, new)

    def no_kernels(*args, **kwargs):
        raise AssertionError("a kernel was asked for")

    monkeypatch.setattr(pipeline, "_grade_in_workers", no_kernels)
    run = grade_class(folder, out, new, change_rubric=True)
    assert set(run.rescored) == set(results) and run.reused == len(results)
    by_student = {r.identity.student: r for r in run.results}
    assert by_student["alice"].score == new.automatic_total == test_rubric.automatic_total - 3
    assert by_student["bob"].score == TEMPLATE_SCORE - 5  # the template's backward is right: 15 of 15 now
    assert float(rows(out)["alice"]["total"]) == new.automatic_total
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == TEMPLATE_SCORE - 5
    assert class_rubric_of(out) == new


@pytest.mark.slow
def test_an_epochs_change_needs_every_student_in_the_run(class_copy, test_rubric):
    results, out = class_copy
    alice = Path(results["alice"].identity.source)
    with pytest.raises(RubricMismatch, match="these students are not in this run: .*bob"):
        grade_class([alice], out, with_run(test_rubric, grading_epochs=350), change_rubric=True)
    with ClassStore.open(out) as store:
        assert store.rubric == test_rubric  # refused before anything was recorded


def test_a_regrade_without_rubric_uses_the_classs_own_and_another_is_refused(stand_in, tmp_path, test_rubric, capsys):
    """Graded with --rubric v2.toml; a regrade of one student without --rubric stays on v2."""

    submissions = tmp_path / "submissions"
    for name in ("ana", "ben"):
        write(submissions / f"{name}.ipynb", f"{name}: right")
    v2 = tmp_path / "v2.toml"
    text = RUBRIC_FILE.read_text()
    v2.write_text(
        text.replace("[items.forward]\npoints = 10", "[items.forward]\npoints = 12").replace("q1d = 6", "q1d = 4")
    )
    out = tmp_path / "grades"
    argv = ["grade", "--out", str(out), "--sandbox", "off"]
    assert cli.main([*argv[:1], str(submissions), *argv[1:], "--rubric", str(v2)]) == 0
    assert cli.main([*argv[:1], str(submissions / "ana.ipynb"), *argv[1:], "--force"]) == 0
    assert {float(row["max"]) for row in rows(out).values()} == {77}  # automatic points under v2, for both
    capsys.readouterr()
    assert cli.main([*argv[:1], str(submissions / "ana.ipynb"), *argv[1:], "--rubric", str(RUBRIC_FILE)]) == 2
    said = capsys.readouterr().err
    assert "items.forward.points: 12.0 -> 10.0" in said and "--change-rubric" in said
    assert cli.main(["export", "canvas", str(out), "--out", str(tmp_path / "canvas.csv")]) == 0
    assert "Points Possible,,,,,100" in (tmp_path / "canvas.csv").read_text()


def test_a_resource_change_is_not_a_rubric_change(stand_in, tmp_path, test_rubric):
    submissions = tmp_path / "submissions"
    write(submissions / "ana.ipynb", "right")
    grade_class([submissions], tmp_path / "grades", test_rubric)
    slower = with_run(test_rubric, cell_timeout=99)
    assert [c.kind for c in rubric_changes(test_rubric, slower)] == ["resources"]
    grade_class([submissions], tmp_path / "grades", slower, force=True)  # not refused


def test_the_class_rubric_keeps_its_written_questions_in_order(rubric):
    """A store once kept its rubric with sorted keys: the desk and the pages then listed `linear` first."""
    import dataclasses
    import json

    from grader.rubric import rubric_as_json, rubric_from_json

    assert list(rubric_from_json(rubric_as_json(rubric)).written) == list(rubric.written)
    older = json.dumps(dataclasses.asdict(rubric), sort_keys=True)
    assert list(rubric_from_json(older).written) == list(rubric.written)


@pytest.mark.slow
def test_a_points_change_with_no_submissions_named_moves_the_class(class_copy, test_rubric, monkeypatch):
    """`grade --out DIR --rubric NEW --change-rubric` alone: every student rescored from the store, written scores
    above a question's new points held to them."""
    results, out = class_copy
    with ClassStore.open(out) as store:
        store.set_written_scores([("alice", "q1d", 6.0, "full marks")])
    monkeypatch.setattr(pipeline, "_grade_in_workers", lambda *a, **k: (_ for _ in ()).throw(AssertionError("kernel")))
    new = dataclasses.replace(
        reweighted(test_rubric, backward=15, loss_fn=15), written={**test_rubric.written, "q1d": 5.0, "q1a": 3.0}
    )
    graded = set(rows(out))  # the batch's class (and whoever other tests graded into it before the copy)
    run = grade_class([], out, new, change_rubric=True)
    assert set(run.rescored) == graded and run.results == []
    assert run.held == [("alice", "q1d", 6.0, 5.0)]
    assert float(rows(out)["alice"]["written"]) == 5 and float(rows(out)["alice"]["total"]) == 75 + 5
    assert class_rubric_of(out) == new


@pytest.mark.slow
def test_a_verdict_change_grades_again_those_whose_training_would_read_a_loop_never_run(class_copy, test_rubric):
    """The handout's loop beside a training runs only where its judge reads it (a function it composes fails): a
    tolerance that now fails init_params for correct notebooks would have their trainings read a loop their
    grading never ran. Those are graded again by kernels, the rest rescored; none is left under the old rubric."""
    results, out = class_copy
    items = dict(test_rubric.items)
    items["init_params"] = dataclasses.replace(items["init_params"], weight_std=(0.0, 0.001))
    new = dataclasses.replace(test_rubric, items=items)
    # every composed function passed for these three: their loops were left out (the others' ran)
    left_out = {"alice", "alice_correct", "benign_threads"}
    with ClassStore.open(out) as store:
        assert needing_kernels(store, new, verdicts_may_change=True) == sorted(left_out)
        assert needing_kernels(store, new, verdicts_may_change=False) == []
    folders = {student: Path(result.identity.source) for student, result in results.items()}
    others = [path for student, path in folders.items() if student not in left_out]
    with pytest.raises(RubricMismatch, match="these students are not in this run: alice, alice_correct, benign"):
        grade_class(others, out, new, change_rubric=True)
    worker = StandIn()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_grade_in_workers", worker)
        run = grade_class(list(folders.values()), out, new, change_rubric=True)
    assert sorted(worker.graded) == sorted(left_out) and set(run.rescored) == set(results) - left_out
    with ClassStore.open(out) as store:
        assert store.rubric == new
