"""What the pages draw, computed here in judging and stored with the grading: the views only draw it.

Plain JSON values, small enough for the class store: the student's trained
weights and what they decide over a grid (beside the reference's), each MLP's
accuracy on the training points, and the loss histories of the student and of
the reference (each cut to at most MAX_POINTS evenly spaced epochs). Whatever
is missing or malformed is left out, and the page then says there is nothing to
draw.
"""

from __future__ import annotations

import base64
import contextlib
import io
from functools import cache

import numpy as np

from grader.reference_cache import remembered
from grader.shared.outcomes import CallOutcome, Case, Leaf

from .cases import RANDOM_SEED, training_split
from .reference_values import reference_optimizer_history

MAX_POINTS = 300
WEIGHT_SHAPES = {"W1": 2, "b1": 1, "W2": 2, "b2": 1}  # the trained weights' dimensions
MAX_WEIGHT_VALUES = 10_000
MAX_HIDDEN = 1000  # a hidden layer this wide at most is evaluated over the grid
GRID = 120  # the decision regions' grid: GRID x GRID points over the training points and a margin


def sampled(values: np.ndarray) -> list[list[float]] | None:
    """[[epoch, loss], ...] at no more than MAX_POINTS evenly spaced epochs (finite losses only), or None."""
    if values.ndim != 1 or len(values) == 0:
        return None
    values = values.astype(np.float64)
    epochs = np.unique(np.linspace(0, len(values) - 1, min(len(values), MAX_POINTS)).astype(int))
    finite = [[int(e), float(values[e])] for e in epochs if np.isfinite(values[e])]
    return finite or None


def _history(leaf: Leaf | None) -> list[list[float]] | None:
    return None if leaf is None or leaf.value is None else sampled(leaf.value)


def _weights(outcome: CallOutcome) -> tuple[np.ndarray, ...] | None:
    """train_manual's trained weights when they make an MLP of two inputs and two classes, else None."""
    weights = []
    for index, ndim in enumerate(WEIGHT_SHAPES.values()):
        leaf = outcome.leaf(f"0.{index}")
        if leaf is None or leaf.value is None or leaf.value.ndim != ndim or leaf.value.size > MAX_WEIGHT_VALUES:
            return None
        if not np.all(np.isfinite(leaf.value)):
            return None
        weights.append(leaf.value.astype(np.float32))
    W1, b1, W2, b2 = weights
    fits = W1.shape[0] == 2 and 0 < W1.shape[1] <= MAX_HIDDEN
    fits = fits and b1.shape == (W1.shape[1],) and W2.shape == (W1.shape[1], 2) and b2.shape == (2,)
    return tuple(weights) if fits else None


@cache
def reference_weights(epochs: int) -> tuple[np.ndarray, ...]:
    """The reference's `train_manual` on the training split: the weights the pages compare with (kept in the
    reference cache: a grader that finds them there never imports torch for a page)."""
    kept = remembered("reference-weights", (epochs,), lambda: _reference_weights_afresh(epochs))
    return tuple(kept[name] for name in ("W1", "b1", "W2", "b2"))


def _reference_weights_afresh(epochs: int) -> dict[str, np.ndarray]:
    import torch

    from .reference_values import solutions  # the reference's code imports torch

    X, y = (torch.from_numpy(a) for a in training_split())
    torch.manual_seed(RANDOM_SEED)
    with contextlib.redirect_stdout(io.StringIO()):  # it reports its progress
        params, _ = solutions.train_manual(X, y, epochs=epochs)
    return {name: p.numpy() for name, p in zip(("W1", "b1", "W2", "b2"), params, strict=True)}


def _classes(weights: tuple[np.ndarray, ...], points: np.ndarray) -> np.ndarray:
    """The class the MLP gives each point: the larger logit (softmax keeps their order), in numpy."""
    W1, b1, W2, b2 = weights
    hidden = np.maximum(points @ W1 + b1, 0)
    return (hidden @ W2 + b2).argmax(axis=1)


def grid_extent() -> list[float]:
    """The decision grid's [x_low, x_high, y_low, y_high]: the training points and half a unit around them."""
    X, _ = training_split()
    low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    return [float(low[0]), float(high[0]), float(low[1]), float(high[1])]


def _grid_points(extent: list[float]) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(extent[0], extent[1], GRID), np.linspace(extent[2], extent[3], GRID))
    return np.c_[xs.ravel(), ys.ravel()].astype(np.float32)


def packed(classes: np.ndarray) -> str:
    """A grid of classes 0 and 1, row by row, as base64 of its bits."""
    return base64.b64encode(np.packbits(classes.astype(np.uint8)).tobytes()).decode()


def unpacked(text: str) -> np.ndarray | None:
    """The GRID x GRID classes `packed` wrote, or None when `text` is not that."""
    try:
        bits = np.unpackbits(np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8))
    except (ValueError, TypeError):
        return None
    return bits[: GRID * GRID].reshape(GRID, GRID) if len(bits) >= GRID * GRID else None


def _trained(weights: tuple[np.ndarray, ...], epochs: int) -> dict[str, object]:
    """The decision regions of the student's MLP and the reference's, and each one's training accuracy."""
    X, y = training_split()
    reference = reference_weights(epochs)
    extent = grid_extent()
    grid = _grid_points(extent)
    return {
        "boundary": {
            "extent": extent,
            "yours": packed(_classes(weights, grid)),
            "reference": packed(_classes(reference, grid)),
        },
        "accuracy": {
            "yours": float((_classes(weights, X) == y).mean()),
            "the reference": float((_classes(reference, X) == y).mean()),
        },
    }


def plot_data(cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome]) -> dict[str, object]:
    """`boundary` and `accuracy` (train_manual's MLP beside the reference's), `sgd` and `adam` (the optimizers'
    loss histories) with the reference's `reference_sgd` and `reference_adam`, and the `epochs` trained for."""
    data: dict[str, object] = {}
    epochs = next((case.calls[0].kwargs["epochs"] for case in cases.get("optimizers", [])[:1]), None)
    for case in cases.get("train_manual", [])[:1]:
        outcome = outcomes.get(case.calls[0].key)
        if outcome is not None and outcome.status == "ok":
            if (weights := _weights(outcome)) is not None:
                data |= _trained(weights, case.calls[0].kwargs["epochs"])
    for case in cases.get("optimizers", [])[:1]:
        data["epochs"] = epochs
        for call in case.calls:
            name = str(call.args[0])
            reference = reference_optimizer_history(name, epochs, call.kwargs["seed"])
            data[f"reference_{name.lower()}"] = sampled(reference)
            outcome = outcomes.get(call.key)
            if outcome is not None and outcome.status == "ok":
                history = _history(outcome.leaf("") or outcome.leaf("0"))
                if history is not None:
                    data[name.lower()] = history
    return data
