"""A notebook autograder: the engine. It grades one assignment at a time, a folder it loads by path
(`assignment.py`: this repository's own by default); it names none.

The data flows one way, one stage a subpackage or module (tests/test_layout.py checks it):

    intake/      exports, archives, scripts and notebooks -> one submission per student, with its identity
    run/         a sandboxed kernel runs each notebook and calls its graded functions on the hidden cases
    judge/       the outcomes are scored against the reference, in the grader's own process
    result.py    one result per submission
    grading.py   one submission through intake, run and judge (local workers, Dask workers, Gradescope)
    store/       the class store: the one writer of results, its one schema and numbered migrations
    views/       every file people and systems read, rendered from the store
    cluster.py   grading on a Dask cluster; pipeline.py a class on local workers; rescore.py a new rubric

`assignment.py` (the assignment in use, loaded from its folder), `items.py` (what a graded item is: the
assignment's item table holds them), `rubric.py` (points, tolerances, limits, rules), `errors.py`,
`student_text.py` and `shared/` (the judging framework the students' self-check runs too) serve every stage;
`cli/` is a thin command line over the rest.
"""

__version__ = "0.1.0"  # pyproject.toml's version (a test keeps them equal)
