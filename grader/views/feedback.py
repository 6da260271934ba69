"""The student's feedback: a Markdown file and a self-contained HTML page with the grader's drawings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path

from grader.assignment import current_assignment
from grader.points import points_text
from grader.result import SubmissionResult
from grader.shared.catalogue import MISCONCEPTIONS, hint
from grader.shared.judging import charged_once
from grader.shared.verdicts import TestResult, code_span
from grader.student_text import code_block
from grader.views.html import render


def feedback_markdown(result: SubmissionResult) -> str:
    """Points per item, what to fix, and the written answers found."""
    who = result.identity.student + (f" ({result.identity.name})" if result.identity.name else "")
    lines = [f"# {current_assignment().TITLE}: feedback for {code_span(who)}", "", f"**{result.summary_line()}.**", ""]
    if result.note:
        lines += [result.note, ""]
    if result.problems:
        lines += ["## What went wrong running your notebook", ""] + [f"- {p.text}" for p in result.problems] + [""]
    lines += ["## Graded functions", "", "| item | points |", "|---|---|"]
    for item, spec in result.rubric.items.items():
        lines.append(f"| `{item}` | {points_text(result.item_score(item))} / {points_text(spec.points)} |")
    if result.adjustments:
        lines += ["", "## Adjusted by the course staff", ""]
        lines += [f"- {adjustment.says(item)}" for item, adjustment in result.adjustments.items()]
    failing = [t for t in result.tests if not t.passed]
    if failing:
        lines += ["", "## What to fix", ""]
        lines += [f"- **{t.name}** ({t.score:.3g}/{t.max_score:.3g}): {t.output}" for t in failing]
    if policy := _training_policy(result):
        lines += ["", policy]
    lines += [
        "",
        hidden_cases_note(),
        "",
        f"## Written answers: {result.written_status()}",
        "",
    ]
    for question, points in result.rubric.written.items():
        answer = result.written.get(question, "").strip()
        answer = code_block(answer) if answer else "_(no answer found)_"
        scored = result.written_scores.get(question)
        verdict = "awaiting grading" if scored is None else f"{points_text(scored.score)} / {points_text(points)}"
        lines += [
            f"### {question}: {verdict} ({points_text(points)} point{'' if points == 1 else 's'})",
            "",
            answer,
            "",
        ]
        if scored is not None and scored.comment:
            lines += [f"> **Comment:** {scored.comment}", ""]
    return "\n".join(lines)


# Figures drawn lately in this process, by what they were drawn from (their stamp): students whose trainings came
# out the same (the handout's seeded start and the same arithmetic) share them, and drawing them is most of a
# page's cost, paid by the grading command's own process while its workers grade on the other cores.
DRAWN_KEPT = 16
_drawn_lately: OrderedDict[str, dict] = OrderedDict()


def _figures_drawn(stamp: str, plots: dict) -> dict:
    """The figures of `plots` (stamped `stamp`) with their stamp: drawn now, or as drawn lately for another page."""
    if stamp in _drawn_lately:
        _drawn_lately.move_to_end(stamp)
        return _drawn_lately[stamp]
    drawn = {"stamp": stamp, "figures": [dataclasses.asdict(figure) for figure in current_assignment().figures(plots)]}
    _drawn_lately[stamp] = drawn
    if len(_drawn_lately) > DRAWN_KEPT:
        _drawn_lately.popitem(last=False)
    return drawn


def feedback_html(
    result: SubmissionResult, previous: str = "", figures: Callable[[], dict | None] = lambda: None
) -> tuple[str, dict[str, str | None] | None]:
    """The same feedback as a page: points per item, each failing test, the student's training drawn beside the
    reference's, the written answers with their scores. Everything from the submission is escaped. Returned with
    the figures it holds, stamped with what they were drawn from (kept beside the page: `figures` next time), or
    None where the page is `previous` as it was.

    `previous` is the page as last written: it is returned as it is when nothing it shows has changed (its
    stamp says so; the figures beside it are not even read), and `figures()`, the figures kept beside it, are
    used again when they were drawn from the same training, since drawing them is most of a page's cost and a
    class graded again is mostly unchanged."""
    who = f"{result.identity.name} ({result.identity.student})" if result.identity.name else result.identity.student
    items = [
        {
            "name": item,
            "score": result.item_score(item),
            "points": spec.points,
            "passed": sum(t.passed for t in result.tests if t.item == item),
            "tests": sum(t.item == item for t in result.tests),
        }
        for item, spec in result.rubric.items.items()
    ]
    written = [
        {
            "question": question,
            "points": points,
            "text": result.written.get(question, "").strip(),
            "score": None if question not in result.written_scores else result.written_scores[question].score,
            "comment": result.written_scores[question].comment if question in result.written_scores else "",
        }
        for question, points in result.rubric.written.items()
    ]
    shown = {
        "who": who,
        "summary": result.summary_line(),
        "note": result.note,
        "problems": [problem.text for problem in result.problems],
        "items": items,
        "adjustments": [adjustment.says(item) for item, adjustment in result.adjustments.items()],
        "failing": [dataclasses.astuple(t) for t in result.tests if not t.passed],
        "written_status": result.written_status(),
        "written": written,
        "training_policy": _training_policy(result),
        "hidden_cases": hidden_cases_note(),
    }
    figures_stamp = content_stamp(result.plots)  # the plots (most of a grading's bytes) encoded once
    stamp = content_stamp(shown, figures_stamp)
    if f'<meta name="grader-content" content="{stamp}">' in previous[:4096]:
        return previous, None
    kept = figures()
    kept = kept if kept is not None and kept.get("stamp") == figures_stamp else None
    shown["failing"], shown["hints"] = _without_repeated_hints([t for t in result.tests if not t.passed])
    # other scores (a rescore, a TA's import), the same training: the figures drawn for it before
    drawn = kept or _figures_drawn(figures_stamp, result.plots)
    heading = getattr(current_assignment(), "FIGURES_HEADING", "Your work, drawn by the grader")
    page = render("feedback.html.j2", stamp=stamp, figures=drawn["figures"], figures_heading=heading, **shown)
    return page, drawn


def hidden_cases_note() -> str:
    """What the page says of the hidden cases: the assignment's sentence, or the engine's."""
    return getattr(
        current_assignment(),
        "HIDDEN_CASES",
        "Hidden cases (other sizes and values than your own) are part of the score: passing your own checks does "
        "not mean passing these.",
    )


def _training_policy(result: SubmissionResult) -> str:
    """How an item that composes others was judged, where one of those fails (a mistake is charged once)."""
    items = {item: entry for item, entry in current_assignment().ITEMS.items() if item in result.rubric.items}
    return charged_once(items, {test.item for test in result.tests if not test.passed})


def _without_repeated_hints(failing: list[TestResult]) -> tuple[list[dict], list[dict]]:
    """The failing tests, each without its catalogued mistake's hint, and those hints once each, with how many
    tests gave them (a mistake made once can fail eight tests)."""
    tests = [
        {
            "name": test.name,
            "score": test.score,
            "max_score": test.max_score,
            "output": test.output if test.mistake not in MISCONCEPTIONS else f"{test.called} {test.problem}".strip(),
        }
        for test in failing
    ]
    counts = Counter(test.mistake for test in failing if test.mistake in MISCONCEPTIONS)
    hints = [{"name": name, "text": hint(name), "tests": counts[name]} for name in MISCONCEPTIONS if name in counts]
    return tests, hints


def content_stamp(*shown: object) -> str:
    """A digest of what a page shows and of the code that draws it."""
    text = json.dumps([VIEWS_DIGEST, current_assignment().code_digest, *shown], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# the pages' code and templates: a page drawn by other code is drawn again (and by another assignment's figures)
VIEWS_DIGEST = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(__file__).parent.rglob("*")) if path.suffix in (".py", ".j2"))
).hexdigest()
