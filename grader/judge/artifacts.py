"""What the pages draw, taken from the harvested values: the trained weights and the loss histories.

Plain lists, small enough for the class store (a history is cut to at most
MAX_POINTS evenly spaced epochs); whatever is missing or malformed is left out,
and the page then says there is nothing to draw.
"""

from __future__ import annotations

import numpy as np

from grader.cases import Case
from grader.run.harvest import CallOutcome, Leaf

MAX_POINTS = 300
WEIGHT_SHAPES = {"W1": 2, "b1": 1, "W2": 2, "b2": 1}  # the trained weights' dimensions
MAX_WEIGHT_VALUES = 10_000


def _history(leaf: Leaf | None) -> list[list[float]] | None:
    """[[epoch, loss], ...] at no more than MAX_POINTS epochs, or None."""
    if leaf is None or leaf.value is None or leaf.value.ndim != 1 or len(leaf.value) == 0:
        return None
    values = leaf.value.astype(np.float64)
    epochs = np.unique(np.linspace(0, len(values) - 1, min(len(values), MAX_POINTS)).astype(int))
    finite = [[int(e), float(values[e])] for e in epochs if np.isfinite(values[e])]
    return finite or None


def _weights(outcome: CallOutcome) -> dict[str, list] | None:
    weights = {}
    for index, (name, ndim) in enumerate(WEIGHT_SHAPES.items()):
        leaf = outcome.leaf(f"0.{index}")
        if leaf is None or leaf.value is None or leaf.value.ndim != ndim or leaf.value.size > MAX_WEIGHT_VALUES:
            return None
        if not np.all(np.isfinite(leaf.value)):
            return None
        weights[name] = leaf.value.astype(np.float64).tolist()
    return weights


def plot_data(cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome]) -> dict[str, object]:
    """`trained_weights` (train_manual's), `loss_history` (train_manual's), `sgd` and `adam` (the optimizers'),
    and the `epochs` and `optimizer_seed` they were trained with (for the reference's side)."""
    data: dict[str, object] = {}
    for case in cases.get("train_manual", [])[:1]:
        outcome = outcomes.get(case.calls[0].key)
        if outcome is not None and outcome.status == "ok":
            if (weights := _weights(outcome)) is not None:
                data["trained_weights"] = weights
            if (history := _history(outcome.leaf("1"))) is not None:
                data["loss_history"] = history
    for case in cases.get("optimizers", [])[:1]:
        data["epochs"], data["optimizer_seed"] = case.calls[0].kwargs["epochs"], case.calls[0].kwargs["seed"]
        for call in case.calls:
            outcome = outcomes.get(call.key)
            if outcome is not None and outcome.status == "ok":
                history = _history(outcome.leaf("") or outcome.leaf("0"))
                if history is not None:
                    data[str(call.args[0]).lower()] = history
    return data
