"""Judging, in the grader's own process: call outcomes on the hidden cases in, tests with points out.

`score.py` scores every item of the rubric: a shared prologue (what was
called, whether it returned, whether the function broke its rule: `rules.py`)
and then the item's judge, registered in `items.py`. `compare.py` holds the
value comparison; `written.py` finds the written answers.
"""
