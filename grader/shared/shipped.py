"""The judges' expected values as the students' self-check has them: numbers shipped beside it.

The grader asks the reference (the assignment's `expected()`); the self-check cannot, since the reference's code
never ships. `make student-bundle` computes, with the reference, what each public case's judge will ask for and
writes it into `selfcheck_cases.npz` under `expected/ITEM/CASE/NAME`; this class answers the judges from those.
An assignment whose judges ask more than `values(case)` (a training known only from its first weights, say)
ships a subclass of it, stamped after this one.

`make student-bundle` stamps this module into the self-check: the standard library and numpy only.
"""

from __future__ import annotations

import numpy as np

from .outcomes import CallOutcome, Case


class ShippedValues:
    """The judges' expected values, read from the shipped arrays (the reference computed them, for these cases)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def _of(self, case: Case, name: str) -> np.ndarray | None:
        return self.arrays.get(f"expected/{case.item}/{case.name}/{name}")

    def values(self, case: Case) -> dict[str, np.ndarray]:
        prefix = f"expected/{case.item}/{case.name}/"
        return {name[len(prefix) :]: value for name, value in self.arrays.items() if name.startswith(prefix)}

    def loop_needed(self, case: Case, outcome: CallOutcome) -> bool:
        """Whether this case's judge needs the handout's loop over the notebook's own functions even though every
        function the training composes passes (`judging.handout_loop_read`: the grader and the self-check skip the
        loop where its verdict cannot depend on it)."""
        return False
