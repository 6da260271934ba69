"""The pages people read, rendered in headless Chromium: feedback with the grader's drawings, the class report,
the TAs' pages; everything a submission controls shown as text, never run."""

from __future__ import annotations

import json

import pytest

from grader.intake import Identity
from grader.result import Problem, SubmissionResult, WrittenScore
from grader.shared.verdicts import TestResult
from grader.views.feedback import feedback_html

from ..helpers import MM, Elements, browse

INJECTED = '<script>document.title = "owned"</script><img src=x onerror="document.title = 1"><b>bold</b>'

pytestmark = pytest.mark.slow  # a browser per page


@pytest.fixture(scope="module")
def injected_page(rubric, tmp_path_factory):
    """A feedback page where every field a submission controls carries markup and a script."""
    result = SubmissionResult(
        Identity("mallory", name=INJECTED, source=INJECTED),
        rubric,
        tests=[
            TestResult(
                "loss_fn", "loss_fn.random", 0.0, 2.5, "Called loss_fn().", f"`loss_fn` raised ValueError: {INJECTED}"
            )
        ],
        written={"q1a": INJECTED},
        written_scores={"q1a": WrittenScore(1, INJECTED)},
        problems=[Problem(f"code cell 3 (`{INJECTED}`): ValueError: {INJECTED}")],
        note=INJECTED,
        plots={"boundary": {"extent": INJECTED, "yours": INJECTED}, "sgd": [[0, INJECTED]], "epochs": INJECTED},
    )
    page = tmp_path_factory.mktemp("pages") / "feedback.html"
    page.write_text(feedback_html(result)[0])
    return page


def test_markup_from_a_submission_is_text_in_the_file(injected_page):
    source = Elements(injected_page.read_text())
    assert source.count("script") == 0 and source.count("b") == 0
    assert [attrs for tag, attrs in source.tags if tag == "img"] == []  # no plot could be drawn from that data
    assert source.all_text.count(INJECTED) >= 5


def test_an_injected_script_does_not_run_in_the_browser(injected_page, tmp_path):
    dom = Elements(browse(injected_page, tmp_path / "injected.png"))
    # the name (markup and all) shown as text before the id; had the script run, the title would be "owned"
    assert dom.title == f"MessMaster part 2: feedback for {INJECTED} (mallory)"
    assert dom.count("script") == 0 and INJECTED in dom.all_text


def test_a_students_feedback_page_shows_points_failing_tests_plots_and_answers(graded_class, tmp_path):
    results, out = graded_class
    dom = Elements(browse(out / "carol_forgot_sign" / "feedback.html", tmp_path / "carol.png"))
    assert {"items", "failing", "losses"} <= dom.ids()
    assert dom.image("losses").startswith("data:image/png;base64,")
    assert "sgd_update.handout_shapes" in dom.all_text and "moved up the gradient" in dom.all_text
    assert "*up*" not in dom.all_text and dom.count("em") >= 1  # the feedback's Markdown, rendered
    # one hint, said once with how many tests gave it, not once per test
    assert dom.all_text.count("Hint (update_sign)") == 1 and "failing tests below)" in dom.all_text
    assert {"boundary-numbers", "loss-numbers"} <= dom.ids() or "boundary" not in dom.ids()
    assert "awaiting grading" in dom.all_text and "Validation data tunes hyperparameters" in dom.all_text
    # sgd_update's sign makes the training diverge as the handout's loop over carol's functions does: charged once
    assert "training-policy" in dom.ids() and "is charged once, to them" in dom.all_text
    assert "train_manual" not in {
        name.split(".")[0] for name in dom.all_text.split() if name.startswith("train_manual.")
    }
    correct = Elements(browse(out / "alice_correct" / "feedback.html"))
    assert correct.image("boundary").startswith("data:image/png;base64,") and "failing" not in correct.ids()
    assert "training-policy" not in correct.ids()


def test_the_class_report_has_its_plot_and_tables(engine_class, tmp_path):
    """The engine's batch: the small assignment's class, with its troubles and catalogued mistakes."""
    results, out, _ = engine_class
    dom = Elements(browse(out / "report.html", tmp_path / "report.png"))
    assert {
        "histogram",
        "score-bins",
        "items",
        "misconceptions",
        "mistakes",
        "trouble",
        "slowest",
        "tests",
    } <= dom.ids()
    assert dom.image("histogram").startswith("data:image/png;base64,")
    text = dom.all_text
    students = len((out / "gradebook.csv").read_text().splitlines()) - 1  # the batch, and what tests added
    assert students >= len(results) and f"{students} student(s)" in text
    assert "attack_infinite_loop" in text and "not_json" in text  # an interrupted cell, an unreadable file
    assert "step_sign" in text and "loss_summed" in text  # the template's and the repeated notebooks' mistakes


def test_the_written_pages_render(graded_class, tmp_path):
    from grader import cli

    _, out = graded_class
    copy = tmp_path / "class"
    import shutil

    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("grades.lock"))
    assert cli.main(["written", "export", str(copy)]) == 0
    dom = Elements(browse(copy / "written" / "q1a.html", tmp_path / "written.png"))
    assert "alice_correct" in dom.all_text and "Validation data tunes hyperparameters" in dom.all_text
    index = Elements(browse(copy / "written" / "index.html"))
    assert index.count("a") == 9


def test_pages_are_self_contained(graded_class):
    _, out = graded_class
    for page in (out / "report.html", out / "alice_correct" / "feedback.html"):
        source = Elements(page.read_text())
        external = [a for _, a in source.tags for key in ("src", "href") if (a.get(key) or "").startswith("http")]
        assert external == [] and source.count("link") == 0


def trained_plots(cases, weights: dict) -> dict:
    """What judging stores for the pages when train_manual returned `weights` (and no loss history)."""
    import numpy as np

    plot_data = MM.artifacts.plot_data
    from grader.shared.outcomes import CallOutcome, CallStatus, Leaf

    case = cases["train_manual"][0]
    leaves = [Leaf(f"0.{i}", {}, np.asarray(weights[name], dtype=np.float32)) for i, name in enumerate(weights)]
    return plot_data({"train_manual": [case]}, {case.calls[0].key: CallOutcome(CallStatus.OK, leaves=leaves)})


NARROW = {"W1": [[0.1] * 10] * 2, "b1": [0.0] * 10, "W2": [[0.1, -0.1]] * 10, "b2": [0.0, 0.0]}


def test_students_whose_trainings_came_out_the_same_share_one_drawing(rubric, cases, monkeypatch, tmp_path):
    """Drawing a page's figures is most of its cost, paid by the command's own process while its workers grade: a
    student whose plots are another's (the seeded start, the same arithmetic) gets the figures drawn for the other;
    other plots are drawn for themselves, and only so many drawings are kept."""
    from grader.views import feedback
    from grader.views.write import write_submission_views

    monkeypatch.setattr(feedback, "_drawn_lately", type(feedback._drawn_lately)())
    monkeypatch.setattr(feedback, "DRAWN_KEPT", 1)
    drawn = []
    boundary = MM.plots.decision_boundaries
    monkeypatch.setattr(MM.plots, "decision_boundaries", lambda plots: drawn.append(1) or boundary(plots))
    other = {**NARROW, "W2": [[-0.1, 0.1]] * 10}  # class 1 where x1 + x2 > 0: other regions

    def page(student: str, weights: dict) -> str:
        result = SubmissionResult(Identity(student), rubric, plots=trained_plots(cases, weights))
        return (write_submission_views(result, tmp_path / student) / "feedback.html").read_text()

    def figure(text: str) -> str:
        return text.split('<figure id="boundary">')[1].split("</figure>")[0]

    ada = page("ada", NARROW)
    bo = page("bo", NARROW)
    assert drawn == [1] and figure(bo) == figure(ada) and "data:image/png" in figure(bo) and "bo" in bo
    cy = page("cy", other)
    assert drawn == [1, 1] and figure(cy) != figure(ada)
    page("di", NARROW)  # one drawing kept: cy's took the place of ada's
    assert drawn == [1, 1, 1]


def test_a_trained_mlp_too_wide_to_draw_is_not_computed_and_the_page_draws_only_what_is_stored(cases):
    """Plot data comes from a submission: a hidden layer of 5,000 units is left out in judging, not evaluated over
    the grid; a stored grid that is not one is not drawn."""
    decision_boundaries, training_accuracy = MM.plots.decision_boundaries, MM.plots.training_accuracy

    wide = {"W1": [[0.0] * 5000] * 2, "b1": [0.0] * 5000, "W2": [[0.0, 0.0]] * 5000, "b2": [0.0, 0.0]}
    assert trained_plots(cases, wide) == {}
    narrow = trained_plots(cases, NARROW)
    assert decision_boundaries(narrow).startswith("data:image/png;base64,")
    accuracy = training_accuracy(narrow)
    assert list(accuracy) == ["yours", "the reference"] and accuracy["the reference"] > 0.9 > accuracy["yours"]
    broken = {**narrow, "boundary": {**narrow["boundary"], "yours": "not a grid"}}
    assert decision_boundaries(broken) is None


def test_the_pages_compute_nothing(monkeypatch, cases):
    """Views only draw: with the reference and the forward pass out of reach, a page draws from what is stored."""
    plots, solutions = MM.plots, MM.reference_values.solutions  # the reference as the assignment imports it

    stored = trained_plots(cases, NARROW)

    def refuse(*args, **kwargs):
        raise AssertionError("a view computed with the reference")

    for name in ("forward", "train_manual", "train_with_optimizer", "backward", "loss_fn"):
        monkeypatch.setattr(solutions, name, refuse)
    assert plots.decision_boundaries(stored) and plots.training_accuracy(stored)


def test_a_page_with_nothing_new_to_show_is_not_drawn_again(rubric, cases, monkeypatch, tmp_path):
    """Grading a class again mostly changes nothing: a page's figures are drawn only when what it shows changed."""
    from grader.views import feedback
    from grader.views.write import write_submission_views

    monkeypatch.setattr(feedback, "_drawn_lately", type(feedback._drawn_lately)())  # none drawn in this process yet

    result = SubmissionResult(
        Identity("ada"),
        rubric,
        tests=[TestResult("loss_fn", "loss_fn.random", 0.0, 2.5, problem="wrong")],
        plots=trained_plots(cases, NARROW),
    )
    drawn = []
    boundary = MM.plots.decision_boundaries
    monkeypatch.setattr(MM.plots, "decision_boundaries", lambda plots: drawn.append(1) or boundary(plots))
    page = write_submission_views(result, tmp_path) / "feedback.html"
    first = page.read_text()
    write_submission_views(result, tmp_path)
    assert drawn == [1] and page.read_text() == first and "data:image/png" in first
    figure = first.split('<figure id="boundary">')[1].split("</figure>")[0]
    result.tests = [TestResult("loss_fn", "loss_fn.random", 2.5, 2.5)]  # other scores (a rescore, a TA's import)
    write_submission_views(result, tmp_path)
    changed = page.read_text()
    assert changed != first and "2.5" in changed
    assert drawn == [1] and figure in changed  # the same training: its figures taken from the cache beside it
    cache = page.with_name("feedback-figures.json")
    assert figure.split('src="')[1].split('"')[0] == json.loads(cache.read_text())["figures"][0]["image"]
    write_submission_views(result, tmp_path)  # nothing changed: the figures beside it are not even read
    assert drawn == [1] and page.read_text() == changed
    monkeypatch.setattr(feedback, "_drawn_lately", type(feedback._drawn_lately)())  # as in a command of its own
    cache.write_text("{not json")  # a damaged cache: the figures are drawn again where the page changes
    result.tests = [TestResult("loss_fn", "loss_fn.random", 1.5, 2.5, problem="wrong")]
    write_submission_views(result, tmp_path)
    assert drawn == [1, 1] and figure in page.read_text() and json.loads(cache.read_text())["stamp"]
    result.plots = trained_plots(cases, {**NARROW, "W2": [[-0.1, 0.1]] * 10})  # another training
    write_submission_views(result, tmp_path)
    assert drawn == [1, 1, 1]


def test_every_figures_labels_lie_inside_it():
    """The report's histogram once had its axis label cut off: each label's box must lie within its figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from grader.views.report import histogram_figure

    figure = histogram_figure([10, 40, 40, 75], 75)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # the labels take their places as the figure is drawn
    renderer = canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    (axes,) = figure.axes
    low, high = axes.get_xlim()
    shown = [t.label1 for t in axes.xaxis.get_major_ticks() if low <= t.get_loc() <= high]  # drawn tick labels
    for label in (axes.xaxis.label, axes.yaxis.label, *shown):
        box = label.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, label.get_text()


def test_points_read_as_people_read_them_and_pass_or_fail_is_said_in_words(rubric):
    """A test worth 5/3 points once showed "0 / 1.66667", wrapped; an item's result was told by colour alone."""
    result = SubmissionResult(
        Identity("ada"),
        rubric,
        tests=[
            TestResult("loss_fn", "loss_fn.random", 0.0, 5 / 3, problem="wrong"),
            TestResult("forward", "forward.random", 2.5, 2.5),
        ],
    )
    page, _ = feedback_html(result)
    assert "1.67" in page and "1.6667" not in page
    assert (
        "&#10007; points lost" in page and "&#10003; full marks" not in page.split('id="items"')[1].split("loss_fn")[0]
    )


def test_the_reports_histogram_is_drawn_again_only_when_the_scores_change(tmp_path, monkeypatch):
    from grader.views import report

    drawn = []
    histogram = report.histogram_figure
    monkeypatch.setattr(report, "histogram_figure", lambda *a: drawn.append(1) or histogram(*a))
    cache = tmp_path / "report-histogram.json"
    first = report.histogram_png([10.0, 40.0, 75.0], 75, cache)
    assert report.histogram_png([75.0, 10.0, 40.0], 75, cache) == first and drawn == [1]  # the same scores
    assert report.histogram_png([10.0, 40.0, 20.0], 75, cache) != first and drawn == [1, 1]
    cache.write_text("{damaged")
    assert report.histogram_png([10.0, 40.0, 20.0], 75, cache).startswith("data:image/png") and drawn == [1, 1, 1]
