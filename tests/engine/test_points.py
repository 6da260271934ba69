"""Points add up: an item's tests to its points, a student's tests to their score, in every output.

Property-based (Hypothesis): any points an instructor gives the items and the written questions, any
pattern of passed and failed tests, any TA scores and late penalty; each output is read back as decimals
(as a person or a spreadsheet adds them) and its parts must sum to its whole exactly.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.intake import Identity, Submission
from grader.judge.score import score_all
from grader.points import apportion, points_text
from grader.result import SubmissionResult
from grader.shared.outcomes import CallOutcome, CallStatus
from grader.store import ClassStore, current_versions
from grader.views.canvas import write_canvas_csv
from grader.views.junit import write_junit
from grader.views.write import write_class_views, write_submission_views

POINTS = st.decimals(min_value=0, max_value=60, places=2).map(float)


def decimal(value: object) -> Decimal:
    return Decimal(str(value))


@given(points=st.decimals(min_value=0, max_value=1000, places=2).map(float), parts=st.integers(1, 40))
def test_an_items_points_are_shared_to_the_last_digit(points, parts):
    shares = apportion(points, parts)
    assert sum(map(decimal, shares)) == decimal(points_text(points))
    assert max(shares) - min(shares) <= 0.01 + 1e-12
    assert all(decimal(share) == decimal(points_text(share)) for share in shares)  # on the grain, as shown


def test_the_rubrics_items_are_shared_exactly(rubric, cases):
    tests = score_all(cases, failed_calls(cases), rubric, {})
    for item, spec in rubric.items.items():  # 5 over three tests, 10 over three or four
        assert sum(decimal(t.max_score) for t in tests if t.item == item) == decimal(spec.points), item


def failed_calls(cases: dict) -> dict[str, CallOutcome]:
    return {
        call.key: CallOutcome(CallStatus.ERROR, "ValueError: no")
        for item_cases in cases.values()
        for case in item_cases
        for call in case.calls
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_output_adds_up_to_the_whole(data, rubric, cases, tmp_path_factory):
    items = {item: dataclasses.replace(spec, points=data.draw(POINTS)) for item, spec in rubric.items.items()}
    written = {question: data.draw(POINTS.filter(bool)) for question in rubric.written}
    total = float(sum(decimal(spec.points) for spec in items.values()) + sum(map(decimal, written.values())))
    rubric = dataclasses.replace(rubric, items=items, written=written, total=total)
    out = tmp_path_factory.mktemp("class")
    versions = current_versions(rubric)
    tests = score_all(cases, failed_calls(cases), rubric, {})
    passed = data.draw(st.lists(st.booleans(), min_size=len(tests), max_size=len(tests)))
    result = SubmissionResult(Identity("ana"), rubric)
    result.tests = [
        dataclasses.replace(t, score=t.max_score, problem="") if ok else t for t, ok in zip(tests, passed, strict=True)
    ]
    with ClassStore.open(out, rubric) as store:
        store.record(store.begin_run(versions), Submission(Identity("ana"), None), "content", versions, result)
        scores = [("ana", q, data.draw(st.floats(0, p)), "") for q, p in written.items() if data.draw(st.booleans())]
        store.set_written_scores(scores)
        folder = write_submission_views(store.current("ana"), out)
        rows = store.students()
        write_class_views(store, rubric, out)
        write_junit(rows, out)
        write_canvas_csv(rows, "MessMaster part 2", out / "canvas.csv", rubric.total)
    results = json.loads((folder / "results.json").read_text())
    for item, spec in items.items():  # each item's tests share its points exactly
        assert sum(decimal(t["max_score"]) for t in results["tests"] if t["name"].startswith(f"{item}.")) == decimal(
            spec.points
        )
    whole = decimal(results["score"])
    assert sum(decimal(t["score"]) for t in results["tests"]) == whole
    assert sum(decimal(t["max_score"]) for t in results["tests"]) == decimal(points_text(total))
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert decimal(row["total"]) == whole
    assert sum(decimal(row[item]) for item in items) + decimal(row["written"] or 0) == whole
    with open(out / "canvas.csv", newline="", encoding="utf-8") as f:
        assert decimal(list(csv.reader(f))[-1][-1]) == whole
    feedback = (folder / "feedback.md").read_text(encoding="utf-8")
    shown_items = re.findall(r"^\| `(\w+)` \| ([\d.]+) / ([\d.]+) \|$", feedback, re.MULTILINE)
    assert [item for item, _, _ in shown_items] == list(items)
    assert sum(decimal(score) for _, score, _ in shown_items) == decimal(store_score(results))
    junit = ET.parse(out / "junit.xml").getroot()
    shown = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert decimal(shown["score"]) == decimal(points_text(store_score(results)))


def store_score(results: dict) -> float:
    """The automatic points of a results.json: its tests but the written ones."""
    return float(sum(decimal(t["score"]) for t in results["tests"] if not t["name"].startswith("written.")))
