"""results.json in the Gradescope autograder results schema."""

from __future__ import annotations

from grader.result import SubmissionResult


def gradescope_results(result: SubmissionResult) -> dict:
    """`score`, `execution_time`, `output` and one entry per test; written answers as tests worth 0 until scored."""
    tests = [
        {
            "name": t.name,
            "score": round(t.score, 4),
            "max_score": round(t.max_score, 4),
            "status": "passed" if t.passed else "failed",
            "output": t.output,
            "visibility": "visible",
        }
        for t in result.tests
    ]
    for question, points in result.rubric.written.items():
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
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 2),
        "output": "\n".join([result.summary_line(), *([result.note] if result.note else []), *result.problems]),
        "stdout_visibility": "hidden",
        "tests": tests,
    }
