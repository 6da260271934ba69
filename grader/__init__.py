"""MessMaster part 2 autograder.

The data flows one way: submission (`submission.py`) -> a fresh kernel
(`kernel.py`) running the notebook (`execute.py`) -> the graded functions
called on hidden cases (`cases.py`, `harvest.py`) -> scores judged in this
process (`scoring.py`, `static_checks.py`, `written.py`) -> one result
(`results.py`) written out as results.json, feedback and a gradebook
(`reports.py`). `pipeline.py` strings the steps together; `cli.py` is a thin
command line over it.
"""
