"""results.json in the Gradescope autograder results schema."""

from __future__ import annotations

from grader.result import SubmissionResult


def gradescope_results(result: SubmissionResult, written_as_tests: bool = True, isolation: str = "") -> dict:
    """`score`, `execution_time`, `output` (Markdown) and one entry per test.

    Written answers are tests worth 0 until scored, or (on Gradescope, where they are manual questions) left out.
    """
    visibility = result.rubric.gradescope.visibility
    tests = [
        {
            "name": t.name,
            "score": round(t.score, 4),
            "max_score": round(t.max_score, 4),
            "status": "passed" if t.passed else "failed",
            "output": t.output,
            "visibility": visibility,
        }
        for t in result.tests
    ]
    for question, points in result.rubric.written.items() if written_as_tests else ():
        answer = result.written.get(question, "")
        tests.append(
            {
                "name": f"written.{question}",
                "score": 0,
                "max_score": points,
                "status": "failed",
                "output": "Scored by the course staff, not automatically. Your answer:\n\n"
                + (answer or "(no answer found)"),
                "visibility": "visible",
            }
        )
    paragraphs = [result.summary_line(), *([result.note] if result.note else []), *result.problems]
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 2),
        "output": "\n\n".join(paragraphs + ([isolation] if isolation else [])),
        "output_format": "md",
        "test_output_format": "md",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
