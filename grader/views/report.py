"""The class report, `DIR/report.html`: how the class did, what went wrong most, what needs a look.

A function of the store's rows: the score histogram (a figure and a table),
per-item and per-test pass rates, the catalogued mistakes by how many students
made each, the other failure messages with their counts, the submissions that
timed out, lost their kernel or could not be read, and every student who needs
a look by name (unreadable, the grader's failures, on the roster with nothing
handed in), and the slowest gradings. Totals with written points are given
once TAs have scored some.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.result import SubmissionResult, SubmissionStatus
from grader.rubric import Rubric
from grader.shared.catalogue import MISCONCEPTIONS
from grader.store import StudentRow
from grader.views.feedback import content_stamp
from grader.views.figures import STYLE, png
from grader.views.html import render
from grader.views.whole_files import write_whole

if TYPE_CHECKING:  # matplotlib is imported where the histogram is drawn: most runs draw the one they drew before
    from matplotlib.figure import Figure


def _shortened(text: str) -> str:
    return text if len(text) <= 160 else text[:157] + "..."


def _needs_a_look(result: SubmissionResult) -> str:
    """Why a person should look at how this submission ran (a timeout, a lost kernel, nothing to run), or ""."""
    if result.status != SubmissionStatus.GRADED:
        return " | ".join(p.text for p in result.problems) or str(result.status)
    why = [p.text for p in result.problems if p.trouble.needs_a_look]
    calls = sorted({t.item for t in result.tests if t.trouble.needs_a_look})
    if calls:
        why.append(f"graded calls that timed out or lost the kernel: {', '.join(calls)}")
    return " | ".join(why)


def histogram_figure(scores: list[float], maximum: float) -> Figure:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7, 3.2))
        # margins that hold the axis labels at this size (a "tight" box would draw the figure twice)
        figure.subplots_adjust(left=0.11, right=0.96, bottom=0.2, top=0.96)
        axes = figure.subplots()
        axes.hist(scores, bins=np.linspace(0, maximum, 16), color="#2f5fa8", edgecolor="white")
        axes.set_xlim(0, maximum)
        axes.set_xlabel("automatic points")
        axes.set_ylabel("students")
    return figure


def histogram_png(scores: list[float], maximum: float, cache: Path | None = None) -> str:
    """The histogram as a PNG data: URI; drawn again only when the scores (or the code drawing it) changed since
    the one kept in `cache`."""
    stamp = content_stamp("histogram", sorted(scores), maximum)
    try:
        kept = json.loads(cache.read_text()) if cache is not None else {}
    except (OSError, ValueError):
        kept = {}
    if isinstance(kept, dict) and kept.get("stamp") == stamp and isinstance(kept.get("png"), str):
        return kept["png"]
    drawn = png(histogram_figure(scores, maximum))
    if cache is not None:
        write_whole(cache, json.dumps({"stamp": stamp, "png": drawn}))
    return drawn


def report_html(rows: list[StudentRow], rubric: Rubric, histogram_cache: Path | None = None) -> str:
    """The class report; `histogram_cache`: where its histogram is kept between runs."""
    results = [row.result for row in rows if row.result is not None]
    scores = [r.score for r in results]
    bins = np.linspace(0, rubric.automatic_total, 6)
    counts = np.histogram(scores, bins=bins)[0] if scores else np.zeros(5, dtype=int)
    items = [
        {
            "name": item,
            "points": spec.points,
            "mean": float(np.mean([r.item_score(item) for r in results])) if results else 0.0,
            "full": sum(r.item_score(item) >= spec.points for r in results),
        }
        for item, spec in rubric.items.items()
    ]
    tests: dict[str, list[bool]] = {}
    named: Counter[str] = Counter()  # catalogued mistakes, once per student
    other: Counter[tuple[str, str]] = Counter()  # the other failure messages
    for result in results:
        graded = result.status == SubmissionStatus.GRADED
        named.update({t.mistake for t in result.tests if t.mistake in MISCONCEPTIONS} if graded else set())
        for test in result.tests:
            tests.setdefault(test.name, []).append(test.passed)
            if not test.passed and graded and test.mistake not in MISCONCEPTIONS:
                # without the call, so that one mistake counts once however many cases it failed
                other[(test.item, _shortened(test.problem))] += 1
    trouble = [
        {"student": r.identity.student, "name": row.identity.name, "status": str(r.status), "why": why}
        for row in rows
        if (r := row.result) is not None and (why := _needs_a_look(r))
    ]
    trouble += [
        {
            "student": row.identity.student,
            "name": row.identity.name,
            "status": str(SubmissionStatus.MISSING),
            "why": "on the roster, nothing handed in",
        }
        for row in rows
        if row.result is None
    ]
    written_scored = [r for r in results if r.written_scores]
    late = [r for r in results if r.lateness is not None and r.lateness.costs]
    return render(
        "report.html.j2",
        students=len(rows),
        graded=len(results),
        missing=sum(row.result is None for row in rows),
        unreadable=sum(r.status == SubmissionStatus.UNREADABLE for r in results),
        failed=sum(r.status == SubmissionStatus.GRADER_ERROR for r in results),
        written_scored=len(written_scored),
        total_mean=float(np.mean([r.total for r in written_scored])) if written_scored else 0.0,
        total_max=rubric.total,
        late=len(late),
        late_points=sum(r.late_penalty for r in late),
        mean=float(np.mean(scores)) if scores else 0.0,
        median=float(np.median(scores)) if scores else 0.0,
        maximum=rubric.automatic_total,
        histogram=histogram_png(scores, rubric.automatic_total, histogram_cache) if scores else None,
        bins=[
            {"low": low, "high": high, "count": int(n)}
            for low, high, n in zip(bins[:-1], bins[1:], counts, strict=True)
        ],
        items=items,
        tests=[{"name": name, "passed": sum(passed), "of": len(passed)} for name, passed in tests.items()],
        named=[
            {"name": name, "item": MISCONCEPTIONS[name].item or "any", "says": MISCONCEPTIONS[name].says, "count": n}
            for name, n in named.most_common()
        ],
        mistakes=[{"item": item, "text": text, "count": n} for (item, text), n in other.most_common(15)],
        trouble=trouble,
        slowest=sorted(results, key=lambda r: -r.execution_time)[:10],
    )
