"""MessMaster part 2 autograder.

The data flows one way, one stage a subpackage:

    intake.py   find and read the submitted notebooks
    run/        a sandboxed kernel runs each notebook and calls its graded functions on the hidden cases
    judge/      the outcomes are scored against the reference, in this process
    result.py   one result per submission
    views/      results.json, feedback and the gradebook, written from the result

`rubric.py` (points, tolerances, limits, rules), `cases.py` (the hidden inputs)
and `shared_with_selfcheck.py` (what the students' self-check shares) serve
every stage; `pipeline.py` strings the stages together, `cli.py` is a thin
command line over it.
"""

__version__ = "0.1.0"  # pyproject.toml's version (a test keeps them equal)
