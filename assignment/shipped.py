"""MessMaster part 2's expected values as the students' self-check reads them: what the judges ask beyond
`values(case)` (the trainings, the holdout), from the numbers `make student-bundle` ships (reference_values.py's
`shipped_values` computes them). Stamped into the self-check after the judges; never imported by the grader.
"""

from __future__ import annotations

import numpy as np

from grader.shared.outcomes import CallOutcome, Case
from grader.shared.shipped import ShippedValues


class ShippedExpected(ShippedValues):
    """The judges' `Expected` (judges.py), answered from the shipped numbers."""

    def training(self, case: Case, start: list[np.ndarray], on_split: bool = False) -> np.ndarray | None:
        """Known from the first weights the reference's init_params drew for this case only."""
        shipped = [self._of(case, f"start/{index}") for index in range(4)]
        same = all(
            mine.shape == theirs.shape and np.allclose(mine, theirs, rtol=1e-6, atol=1e-9)
            for mine, theirs in zip(start, shipped, strict=True)
        )
        return self._of(case, "history_on_split" if on_split else "history") if same else None

    def optimizer(self, case: Case, optimizer: str, on_split: bool = False) -> np.ndarray | None:
        return self._of(case, f"{optimizer}_on_split" if on_split else optimizer)

    def holdout_correct(self, params: list[np.ndarray]) -> tuple[int, int]:
        """On what the notebook's training split leaves of the data (the grader's holdout is its own)."""
        X, y = self.arrays["holdout/X"], self.arrays["holdout/y"]
        W1, b1, W2, b2 = (p.astype(np.float32) for p in params)
        logits = np.maximum(X @ W1 + b1, 0) @ W2 + b2  # the MLP of Q1: the largest logit is the class
        return int((logits.argmax(axis=1) == y).sum()), len(y)

    def loop_needed(self, case: Case, outcome: CallOutcome) -> bool:
        """Where train_manual's first weights are not those the shipped losses start from, its judge compares it
        with the handout's loop from those weights instead."""
        if case.item != "train_manual":
            return False
        start = [outcome.leaf(f"captured.init_params.{index}") for index in range(4)]
        if any(leaf is None or leaf.value is None for leaf in start):
            return False
        return self.training(case, [leaf.value for leaf in start]) is None
