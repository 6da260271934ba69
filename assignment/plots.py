"""The feedback page's figures (the engine's `PageFigure`), drawn by matplotlib (no pyplot: no global state).

They draw what judging computed and the store holds (`artifacts.py`): the
decision regions of the student's MLP and of the reference over a grid, and the
loss histories of both. The regions are drawn over the students' own training
points (the holdout is the grader's secret and is never drawn). Stored values are
checked before they are drawn: a store is a file, and a grading made by an older
grader holds less.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from grader.views.figures import STYLE, PageFigure, Table, png

from .artifacts import GRID, unpacked
from .cases import training_split

CLASSES = ListedColormap(["#f4c9a8", "#b9cbe8"])  # Chihuahua, muffin
POINTS = ListedColormap(["#c2571a", "#2f5fa8"])
CURVES = (("sgd", "SGD", "#c2571a"), ("adam", "Adam", "#2f5fa8"))


def _regions(plots: dict) -> tuple[list[float], np.ndarray, np.ndarray] | None:
    """The stored grid's extent and the two MLPs' classes over it, or None when they cannot be drawn."""
    boundary = plots.get("boundary")
    if not isinstance(boundary, dict):
        return None
    extent = boundary.get("extent")
    if not (isinstance(extent, list) and len(extent) == 4 and all(isinstance(v, float) for v in extent)):
        return None
    grids = [unpacked(g) if isinstance(g := boundary.get(who), str) else None for who in ("yours", "reference")]
    return None if any(g is None for g in grids) else (extent, grids[0], grids[1])


def _history(data: object) -> np.ndarray | None:
    try:
        points = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return points if points.ndim == 2 and points.shape[1] == 2 and len(points) > 0 else None


def _histories(plots: dict) -> dict[str, np.ndarray | None] | None:
    """Each curve's [[epoch, loss]] (the student's and the reference's), or None when the student's are absent."""
    curves = {key: _history(plots.get(key)) for name, _, _ in CURVES for key in (name, f"reference_{name}")}
    return None if all(curves[name] is None for name, _, _ in CURVES) else curves


def decision_boundaries(plots: dict) -> str | None:
    """The student's trained MLP's decision regions beside the reference's, or None without trained weights."""
    regions = _regions(plots)
    if regions is None:
        return None
    extent, yours, reference = regions
    X, y = training_split()
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(8, 3.8))
        figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.9, wspace=0.04)
        xs, ys = np.meshgrid(np.linspace(extent[0], extent[1], GRID), np.linspace(extent[2], extent[3], GRID))
        for axes, (title, classes) in zip(
            figure.subplots(1, 2), (("your trained MLP", yours), ("the reference", reference)), strict=True
        ):
            axes.contourf(xs, ys, classes, levels=[-0.5, 0.5, 1.5], cmap=CLASSES)
            axes.scatter(X[:, 0], X[:, 1], c=y, cmap=POINTS, s=6)
            axes.set_title(title)
            axes.set_xticks([])
            axes.set_yticks([])
        return png(figure)


def loss_curves(plots: dict) -> str | None:
    """The student's SGD and Adam losses beside the reference's, or None when neither came back."""
    curves = _histories(plots)
    if curves is None:
        return None
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(8, 3.8))
        figure.subplots_adjust(left=0.11, right=0.98, bottom=0.17, top=0.97)
        axes = figure.subplots()
        for name, label, colour in CURVES:
            if (reference := curves[f"reference_{name}"]) is not None:
                axes.plot(*reference.T, color=colour, linestyle="--", alpha=0.6, label=f"{label}, reference")
            if (mine := curves[name]) is not None:
                axes.plot(*mine.T, color=colour, label=f"{label}, yours")
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss")
        axes.set_yscale("log")
        axes.legend()
        return png(figure)


def training_accuracy(plots: dict) -> dict[str, float] | None:
    """The decision figure's numbers: the share of the training points each MLP classifies right."""
    accuracy = plots.get("accuracy")
    if not isinstance(accuracy, dict) or not accuracy:
        return None
    if not all(isinstance(v, float) and 0 <= v <= 1 for v in accuracy.values()):
        return None
    return {str(who): share for who, share in accuracy.items()}


def loss_table(plots: dict) -> list[dict[str, object]] | None:
    """The loss figure's numbers: each curve's loss at the first epoch, a quarter, half, three quarters, the last."""
    curves, epochs = _histories(plots), plots.get("epochs")
    if curves is None or not isinstance(epochs, int) or epochs < 1:
        return None
    # the histories are sampled (artifacts.py): the table's epochs are sampled ones
    sampled = sorted({int(e) for name, _, _ in CURVES if (h := curves[name]) is not None for e in h[:, 0]})
    targets = (0, epochs // 4, epochs // 2, 3 * epochs // 4, epochs - 1)
    rows = []
    for epoch in sorted({min(sampled, key=lambda e, t=t: abs(e - t)) for t in targets}):
        row: dict[str, object] = {"epoch": epoch}
        for name, label, _ in CURVES:
            for key, who in ((name, "yours"), (f"reference_{name}", "reference")):
                history = curves[key]
                found = history[history[:, 0] == epoch, 1] if history is not None else []
                row[f"{label}, {who}"] = float(found[0]) if len(found) else None
        rows.append(row)
    return rows


def figures(plots: dict) -> list[PageFigure]:
    """The feedback page's figures: the decision regions after train_manual, the optimizers' losses; each with its
    numbers as a table."""
    accuracy, rows = training_accuracy(plots), loss_table(plots)
    accuracy_table = (
        Table(
            "boundary-numbers",
            "Training points classified right",
            ["MLP", "share of the training points"],
            [[who, f"{share * 100:.1f}%"] for who, share in accuracy.items()],
        )
        if accuracy
        else None
    )
    loss_numbers = (
        Table(
            "loss-numbers",
            "Loss at some epochs",
            list(rows[0]),
            [
                [str(row["epoch"])] + [None if v is None else f"{v:.4g}" for k, v in row.items() if k != "epoch"]
                for row in rows
            ],
            label_columns=0,
        )
        if rows
        else None
    )
    return [
        PageFigure(
            "boundary",
            decision_boundaries(plots),
            "decision regions of your trained MLP beside the reference's: their accuracy on the training points is "
            "in the table below",
            "Decision regions after training (`train_manual`), over the training points.",
            "No trained weights came back from `train_manual`: nothing to draw.",
            accuracy_table,
        ),
        PageFigure(
            "losses",
            loss_curves(plots),
            "your SGD and Adam losses per epoch beside the reference's: the numbers are in the table below",
            "Loss per epoch with SGD and Adam (`train_with_optimizer`); dashed: the reference.",
            "No loss histories came back from `train_with_optimizer`: nothing to draw.",
            loss_numbers,
        ),
    ]
