"""The pages' figures, drawn by matplotlib (no pyplot: no global state) into PNGs inlined as data: URIs.

The reference's side of each figure is computed once per process from
`reference/solutions.py`. The decision boundary is drawn over the students'
own training points (the holdout is the grader's secret and is never drawn);
the holdout's accuracy is given as a number in the tests.
"""

from __future__ import annotations

import base64
import contextlib
import io
from functools import cache

import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from grader.cases import RANDOM_SEED, training_split
from grader.judge.items import reference_optimizer_history
from reference import solutions

CLASSES = ListedColormap(["#f4c9a8", "#b9cbe8"])  # Chihuahua, muffin
WEIGHTS = ("W1", "b1", "W2", "b2")
MAX_HIDDEN = 1000


# legible at the size the pages show them: larger type than matplotlib's 10 pt
STYLE = {"font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "legend.fontsize": 12}


def png(figure: Figure) -> str:
    """The figure as a PNG data: URI (margins set by each figure: a "tight" box would draw it twice)."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@cache
def reference_weights(epochs: int) -> tuple[np.ndarray, ...]:
    X, y = (torch.from_numpy(a) for a in training_split())
    torch.manual_seed(RANDOM_SEED)
    with contextlib.redirect_stdout(io.StringIO()):  # it reports its progress
        params, _ = solutions.train_manual(X, y, epochs=epochs)
    return tuple(p.numpy() for p in params)


def _weights(data: object) -> tuple[np.ndarray, ...] | None:
    """The student's trained weights from the stored plot data, or None when they cannot be drawn."""
    if not isinstance(data, dict):
        return None
    try:
        weights = tuple(np.asarray(data[name], dtype=np.float32) for name in WEIGHTS)
    except (KeyError, TypeError, ValueError):
        return None
    W1, b1, W2, b2 = weights
    # two inputs, two classes, and a hidden layer small enough to draw on a grid quickly
    fits = W1.ndim == 2 and W1.shape[0] == 2 and 0 < W1.shape[1] <= MAX_HIDDEN
    fits = fits and b1.shape == (W1.shape[1],) and W2.shape == (W1.shape[1], 2)
    return weights if fits and b2.shape == (2,) else None


def _history(data: object) -> np.ndarray | None:
    try:
        points = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return points if points.ndim == 2 and points.shape[1] == 2 and len(points) > 0 else None


def _setting(plots: dict, name: str) -> int | None:
    value = plots.get(name)
    return value if isinstance(value, int) and 0 < value <= 100_000 else None


def decision_boundaries(plots: dict) -> str | None:
    """The student's trained MLP's decision regions beside the reference's, or None without trained weights."""
    student, epochs = _weights(plots.get("trained_weights")), _setting(plots, "epochs")
    if student is None or epochs is None:
        return None
    X, y = training_split()
    with matplotlib.rc_context(STYLE):
        return _draw_boundaries(student, epochs, X, y)


def _draw_boundaries(student: tuple[np.ndarray, ...], epochs: int, X: np.ndarray, y: np.ndarray) -> str:
    low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], 120), np.linspace(low[1], high[1], 120))
    grid = torch.from_numpy(np.c_[xs.ravel(), ys.ravel()].astype(np.float32))
    figure = Figure(figsize=(8, 3.8))
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.9, wspace=0.04)
    for axes, (title, weights) in zip(
        figure.subplots(1, 2),
        (("your trained MLP", student), ("the reference", reference_weights(epochs))),
        strict=True,
    ):
        with torch.no_grad():
            p_hat = solutions.forward(grid, *(torch.from_numpy(w) for w in weights))[3]
        axes.contourf(xs, ys, p_hat.argmax(dim=1).reshape(xs.shape).numpy(), levels=[-0.5, 0.5, 1.5], cmap=CLASSES)
        axes.scatter(X[:, 0], X[:, 1], c=y, cmap=ListedColormap(["#c2571a", "#2f5fa8"]), s=6)
        axes.set_title(title)
        axes.set_xticks([])
        axes.set_yticks([])
    return png(figure)


def loss_curves(plots: dict) -> str | None:
    """The student's SGD and Adam losses beside the reference's, or None when neither came back."""
    mine = {name: _history(plots.get(name)) for name in ("sgd", "adam")}
    epochs, seed = _setting(plots, "epochs"), plots.get("optimizer_seed")
    if all(history is None for history in mine.values()) or epochs is None or not isinstance(seed, int):
        return None
    with matplotlib.rc_context(STYLE):
        return _draw_losses(mine, epochs, seed)


def _draw_losses(mine: dict, epochs: int, seed: int) -> str:
    figure = Figure(figsize=(8, 3.8))
    figure.subplots_adjust(left=0.11, right=0.98, bottom=0.17, top=0.97)
    axes = figure.subplots()
    for (name, label), colour in zip((("sgd", "SGD"), ("adam", "Adam")), ("#c2571a", "#2f5fa8"), strict=True):
        reference = reference_optimizer_history(label, epochs, seed)
        axes.plot(reference, color=colour, linestyle="--", alpha=0.6, label=f"{label}, reference")
        if mine[name] is not None:
            axes.plot(mine[name][:, 0], mine[name][:, 1], color=colour, label=f"{label}, yours")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_yscale("log")
    axes.legend()
    return png(figure)


def training_accuracy(plots: dict) -> dict[str, float] | None:
    """The decision figure's numbers: the share of the training points each MLP classifies right."""
    student, epochs = _weights(plots.get("trained_weights")), _setting(plots, "epochs")
    if student is None or epochs is None:
        return None
    X, y = training_split()
    accuracy = {}
    for who, weights in (("yours", student), ("the reference", reference_weights(epochs))):
        with torch.no_grad():
            p_hat = solutions.forward(torch.from_numpy(X), *(torch.from_numpy(w) for w in weights))[3]
        accuracy[who] = float((p_hat.argmax(dim=1).numpy() == y).mean())
    return accuracy


def loss_table(plots: dict) -> list[dict[str, object]] | None:
    """The loss figure's numbers: each curve's loss at the first epoch, a quarter, half, three quarters, the last."""
    mine = {name: _history(plots.get(name)) for name in ("sgd", "adam")}
    epochs, seed = _setting(plots, "epochs"), plots.get("optimizer_seed")
    if all(history is None for history in mine.values()) or epochs is None or not isinstance(seed, int):
        return None
    # the student's histories are sampled (judge/artifacts.py): the epochs of the table are sampled ones
    sampled = sorted({int(e) for history in mine.values() if history is not None for e in history[:, 0]})
    targets = (0, epochs // 4, epochs // 2, 3 * epochs // 4, epochs - 1)
    rows = []
    for epoch in sorted({min(sampled, key=lambda e, t=t: abs(e - t)) for t in targets}):
        row: dict[str, object] = {"epoch": epoch}
        for name, label in (("sgd", "SGD"), ("adam", "Adam")):
            history = mine[name]
            found = history[history[:, 0] == epoch, 1] if history is not None else []
            row[f"{label}, yours"] = float(found[0]) if len(found) else None
            row[f"{label}, reference"] = float(reference_optimizer_history(label, epochs, seed)[epoch])
        rows.append(row)
    return rows
