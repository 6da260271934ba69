"""The student's feedback page, in Markdown."""

from __future__ import annotations

from grader.result import SubmissionResult


def feedback_markdown(result: SubmissionResult) -> str:
    """Points per item, what to fix, and the written answers found."""
    who = result.identity.student + (f" ({result.identity.name})" if result.identity.name else "")
    lines = [f"# MessMaster part 2: feedback for `{who}`", "", f"**{result.summary_line()}.**", ""]
    if result.note:
        lines += [result.note, ""]
    if result.problems:
        lines += ["## What went wrong running your notebook", ""] + [f"- {p}" for p in result.problems] + [""]
    lines += ["## Graded functions", "", "| item | points |", "|---|---|"]
    for item, spec in result.rubric.items.items():
        lines.append(f"| `{item}` | {result.item_score(item):g} / {spec.points:g} |")
    failing = [t for t in result.tests if not t.passed]
    if failing:
        lines += ["", "## What to fix", ""]
        lines += [f"- **{t.name}** ({t.score:.3g}/{t.max_score:.3g}): {t.output}" for t in failing]
    lines += [
        "",
        "Hidden cases (other shapes, a single example, one class only, large logits) are part of the score:",
        "passing your own checks does not mean passing these.",
        "",
        f"## Written answers: {result.written_status()}",
        "",
    ]
    for question, points in result.rubric.written.items():
        answer = result.written.get(question, "").strip() or "_(no answer found)_"
        scored = result.written_scores.get(question)
        verdict = "awaiting grading" if scored is None else f"{scored.score:g} / {points:g}"
        lines += [f"### {question}: {verdict} ({points:g} points)", "", answer, ""]
        if scored is not None and scored.comment:
            lines += [f"> **Comment:** {scored.comment}", ""]
    return "\n".join(lines)
