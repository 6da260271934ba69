"""results.json in the Gradescope autograder results schema."""

from __future__ import annotations

from grader.points import exact, points_text
from grader.result import LATE, SubmissionResult
from grader.student_text import code_block


def gradescope_results(result: SubmissionResult, written_as_tests: bool = True) -> dict:
    """`score`, `execution_time`, `output` (Markdown) and one entry per test.

    Written answers are tests with status "pending" (never "failed": nobody has read them yet) until a TA's
    score is imported, then that score;
    on Gradescope, where they are manual questions, they are left out.
    """
    visibility = result.rubric.gradescope.visibility
    tests = [
        {
            "name": t.name,
            "score": exact(t.score),
            "max_score": exact(t.max_score),
            "status": "passed" if t.passed else "failed",
            "output": t.output,
            "visibility": visibility,
        }
        for t in result.tests
    ]
    # the staff's adjustment of an item, a test of that item's own (the contract: a test's name starts with its
    # item); the late penalty's is in the output, since the penalty is taken from the total, not from a test
    for item, adjustment in result.adjustments.items():
        if item == LATE:
            continue
        tests.append(
            {
                "name": f"{item}.adjustment",
                "score": result.adjusted_by(item),
                "max_score": 0,
                "status": "passed",
                "output": f"Adjusted by the course staff: {adjustment.says(item)}",
                "visibility": "visible",
            }
        )
    for question, points in result.rubric.written.items() if written_as_tests else ():
        answer = code_block(result.written[question]) if result.written.get(question) else "(no answer found)"
        scored = result.written_scores.get(question)
        if scored is None:  # not a failure: nobody has read it yet
            tests.append(
                {
                    "name": f"written.{question}",
                    "score": 0,
                    "max_score": exact(points),
                    "status": "pending",
                    "output": f"Awaiting grading by the course staff. Your answer:\n\n{answer}",
                    "visibility": "visible",
                }
            )
            continue
        comment = f" Comment: {scored.comment}" if scored.comment else ""
        tests.append(
            {
                "name": f"written.{question}",
                "score": exact(scored.score),
                "max_score": exact(points),
                "status": "passed" if scored.score >= points else "failed",
                "output": f"Scored by the course staff: {points_text(scored.score)}/{points_text(points)}.{comment}\n\n"
                f"Your answer:\n\n{answer}",
                "visibility": "visible",
            }
        )
    paragraphs = [result.summary_line(), *([result.note] if result.note else []), *(p.text for p in result.problems)]
    if LATE in result.adjustments:
        paragraphs.append(f"Adjusted by the course staff: {result.adjustments[LATE].says(LATE)}")
    return {
        "score": result.total if written_as_tests else result.score,
        "execution_time": round(result.execution_time, 2),
        "output": "\n\n".join(paragraphs + ([result.isolation] if result.isolation else [])),
        "output_format": "md",
        "test_output_format": "md",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
