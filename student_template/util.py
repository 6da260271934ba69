"""Plotting helpers for MessMaster part 2, called as the handout calls them."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

SPLIT_NAMES = ["Train", "Val", "Test"]


def plot_decision_boundary(
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
    X: np.ndarray,
    y: np.ndarray,
    title: str | None = None,
) -> None:
    """Shade the MLP's predicted class over the plane and scatter the points (X: (N, 2), y: (N,)).

    Called three times in a row (train, val, test) as in the handout, the plots are
    titled "Train Split", "Val Split" and "Test Split" unless `title` is given.
    """
    if title is None:
        title = f"{SPLIT_NAMES[plot_decision_boundary.calls % 3]} Split: Decision Boundary of MLP"
        plot_decision_boundary.calls += 1
    pad = 0.5
    xx, yy = np.meshgrid(
        np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 300),
        np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 300),
    )
    grid = torch.tensor(np.c_[xx.ravel(), yy.ravel()], dtype=torch.float32)
    with torch.no_grad():
        hidden = torch.relu(grid @ torch.as_tensor(W1, dtype=torch.float32) + torch.as_tensor(b1, dtype=torch.float32))
        logits = hidden @ torch.as_tensor(W2, dtype=torch.float32) + torch.as_tensor(b2, dtype=torch.float32)
    predicted = logits.argmax(dim=1).numpy().reshape(xx.shape)

    _, axes = plt.subplots(figsize=(5, 5))
    axes.contourf(xx, yy, predicted, levels=[-0.5, 0.5, 1.5], colors=["#f4d6a0", "#b9c8ee"], alpha=0.8)
    for label, name, colour in [(0, "Chihuahua (0)", "#a0522d"), (1, "blueberry muffin (1)", "#3b4cc0")]:
        mask = y == label
        axes.scatter(X[mask, 0], X[mask, 1], s=12, c=colour, label=name, edgecolors="white", linewidths=0.3)
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    axes.set_title(title)
    axes.legend(loc="upper right", fontsize=8)
    plt.show()


plot_decision_boundary.calls = 0


def plot_loss(loss_history_sgd: Sequence[float], loss_history_adam: Sequence[float]) -> None:
    """Training loss per epoch of the SGD and Adam runs, on one log-scaled plot."""
    _, axes = plt.subplots(figsize=(7, 4))
    axes.plot(loss_history_sgd, label="SGD")
    axes.plot(loss_history_adam, label="Adam")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("training loss (cross-entropy)")
    axes.set_title("SGD vs. Adam: Training Loss")
    axes.legend()
    plt.show()
