"""What a submission's graded functions say, and what they returned wrong: kept with each grading for the
integrity signals (`judge/similarity.py`).

The notebook is only parsed (Python's `ast`), never run here: the source of the
last top-level definition of each graded function, as the kernel would have
used it. A wrong answer is kept as a digest of the exact numbers returned on a
hidden case whose tests failed on their values: two students whose functions
return the same wrong numbers bit for bit are rare by chance.
"""

from __future__ import annotations

import hashlib

import nbformat
import numpy as np

from grader.assignment import current_assignment
from grader.intake.notebooks import function_sources
from grader.shared.judging import named_test
from grader.shared.outcomes import CallOutcome, CallStatus, Case
from grader.shared.verdicts import TestResult, Trouble

MAX_SOURCE = 20_000  # characters of one function kept (a copy shows long before that)


def graded_sources(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Each graded function's source as the notebook last defines it at the top level."""
    return function_sources(notebook, set(current_assignment().graded_functions.values()), MAX_SOURCE)


def _digest(outcome: CallOutcome) -> str | None:
    values = [leaf.value for leaf in outcome.leaves if leaf.value is not None and leaf.value.size]
    if outcome.status != CallStatus.OK or not values:
        return None
    digest = hashlib.sha256()
    for value in values:
        digest.update(str(value.shape).encode() + np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return digest.hexdigest()[:24]


def wrong_outputs(cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome], tests: list[TestResult]) -> dict:
    """{item.case: digest} of the numbers returned on each case some test of which failed on its values."""
    failed = {t.name for t in tests if not t.passed and t.trouble == Trouble.NONE and not t.mistake}
    found = {}
    items = current_assignment().ITEMS
    for item, item_cases in cases.items():
        entry = items[item]
        for case in item_cases:
            if not any(named_test(item, part, case) in failed for part in entry.parts):
                continue
            # the function's own calls: a handout's loop beside them is the grader's composition, run or not
            digests = [_digest(outcomes[call.key]) for call in case.graded_calls if call.key in outcomes]
            if digests and all(digests):
                found[f"{item}.{case.name}"] = hashlib.sha256("".join(digests).encode()).hexdigest()[:24]
    return found
