"""The grader's expected values: the reference computes them, in the grader's own process, on the hidden cases.

The judges (`judges.py`) ask for them through the `Expected` interface; the
students' self-check answers the same questions from numbers shipped with its
public cases (`make student-bundle` writes those numbers with this very class).

Every number is kept in the reference cache (grader/reference_cache.py) by its inputs: a class rescored from
its stored outcomes reads them back, and neither the reference nor torch is imported at all.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np

from grader.assignment import import_file
from grader.reference_cache import remembered
from grader.shared.outcomes import Case

from .cases import ROOT, holdout, notebook_held_back, training_split
from .judges import FORWARD_OUTPUTS, GRADIENTS

if TYPE_CHECKING:
    import torch

REFERENCE = ROOT / "reference" / "solutions.py"


def _solutions():
    """The reference's code (it imports torch): imported when a number is first computed, not read back."""
    return import_file(REFERENCE)


def __getattr__(name: str):
    if name == "solutions":  # `reference_values.solutions`, for those who call the reference directly
        return _solutions()
    raise AttributeError(name)


@cache
def training_defaults() -> dict[str, object]:
    """The contract's defaults for the trainings (the reference's signature holds them)."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(_solutions().train_manual).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def _tensors(case: Case, names: tuple[str, ...]) -> list[torch.Tensor]:
    import torch

    return [torch.from_numpy(np.array(case.arrays[name])) for name in names]


def _arrays_key(arrays: dict[str, np.ndarray]) -> tuple:
    """A case's arrays as the reference cache's inputs: each one's name, type, shape and bytes."""
    return tuple(
        (name, str(value.dtype), value.shape, np.ascontiguousarray(value).tobytes())
        for name, value in sorted((k, np.asarray(v)) for k, v in arrays.items())
    )


def _data(case: Case, on_split: bool) -> tuple[np.ndarray, np.ndarray]:
    return training_split() if on_split else (case.arrays["X"], case.arrays["y"])


def reference_training_from(
    start: list[np.ndarray], epochs: int, data: tuple[np.ndarray, np.ndarray] | None = None, **options: float
) -> np.ndarray:
    """The handout's full-batch loop with the reference's functions, from the weights `start`, on `data` (the
    training split by default): its losses. `options`: learning_rate, where the call passed one."""
    X, y = data or training_split()
    X, y = np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)
    weights = tuple(np.ascontiguousarray(p, dtype=np.float32) for p in start)
    # None: the contract's default, read from the reference only where it is computed (not on a cache hit)
    learning_rate = None if options.get("learning_rate") is None else float(options["learning_rate"])
    return _training_losses(
        tuple(w.tobytes() for w in weights),
        tuple(w.shape for w in weights),
        epochs,
        X.tobytes(),
        y.tobytes(),
        X.shape,
        learning_rate,
    )


# Most students' first weights are the same (init_params seeded alike draws alike): each start is trained once
# a process (and kept in the reference cache), and a class is rescored without training again for every student.
@lru_cache(maxsize=1024)
def _training_losses(
    start: tuple[bytes, ...],
    shapes: tuple[tuple[int, ...], ...],
    epochs: int,
    X: bytes,
    y: bytes,
    rows: tuple[int, ...],
    learning_rate: float | None,
) -> np.ndarray:
    inputs = (start, shapes, epochs, X, y, rows, learning_rate)
    losses = remembered("training", inputs, lambda: {"losses": _train(inputs)})["losses"]
    losses.flags.writeable = False  # shared by every caller
    return losses


def _train(inputs: tuple) -> np.ndarray:
    """The handout's loop from a start (`_training_losses`'s arguments, as a tuple): its losses."""
    import torch

    start, shapes, epochs, X, y, rows, learning_rate = inputs
    solutions = _solutions()
    learning_rate = training_defaults()["learning_rate"] if learning_rate is None else learning_rate
    features = torch.from_numpy(np.frombuffer(X, dtype=np.float32).reshape(rows).copy())
    labels = torch.from_numpy(np.frombuffer(y, dtype=np.int64).copy())
    params = [
        torch.from_numpy(np.frombuffer(data, dtype=np.float32).reshape(shape).copy())
        for data, shape in zip(start, shapes, strict=True)
    ]
    history = []
    for _ in range(epochs):
        z1, a1, _, p_hat = solutions.forward(features, *params)
        history.append(solutions.loss_fn(p_hat, labels).item())
        solutions.sgd_update(params, solutions.backward(features, labels, z1, a1, p_hat, params[2]), learning_rate)
    return np.array(history)


@cache
def _optimizer_history(optimizer: str, epochs: int, seed: int, X: bytes, y: bytes, rows: int) -> np.ndarray:
    """The reference's loss history for one optimizer: the same for every submission, so computed once (kept in
    the reference cache: making a torch optimizer first imports torch._dynamo, seconds)."""
    inputs = (optimizer, epochs, seed, X, y, rows)
    return remembered("optimizer", inputs, lambda: {"losses": _optimize(*inputs)})["losses"]


def _optimize(optimizer: str, epochs: int, seed: int, X: bytes, y: bytes, rows: int) -> np.ndarray:
    import torch

    solutions = _solutions()
    inputs = torch.from_numpy(np.frombuffer(X, dtype=np.float32).reshape(rows, -1).copy())
    labels = torch.from_numpy(np.frombuffer(y, dtype=np.int64).copy())
    with contextlib.redirect_stdout(io.StringIO()):  # it reports its progress
        history = solutions.train_with_optimizer(optimizer, inputs, labels, epochs=epochs, seed=seed)
    return np.array(history)


def reference_optimizer_history(
    optimizer: str, epochs: int, seed: int, data: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """The reference's loss history for one optimizer on `data` (the training split by default)."""
    X, y = data or training_split()
    X, y = np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)
    return _optimizer_history(optimizer, epochs, seed, X.tobytes(), y.tobytes(), len(y))


class ReferenceExpected:
    """The `Expected` of the judges, computed by the reference; the holdout is the secret one by default."""

    def __init__(self, holdout_data: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.holdout_data = holdout_data

    def values(self, case: Case) -> dict[str, np.ndarray]:
        inputs = (case.item, case.name, _arrays_key(case.arrays))
        return remembered("values", inputs, lambda: self._computed_values(case))

    @staticmethod
    def _computed_values(case: Case) -> dict[str, np.ndarray]:
        solutions = _solutions()
        if case.item == "loss_fn":
            return {"loss": solutions.loss_fn(*_tensors(case, ("p_y_hat", "y"))).numpy()}
        if case.item == "forward":
            found = solutions.forward(*_tensors(case, ("X", "W1", "b1", "W2", "b2")))
            return {name: value.numpy() for name, value in zip(FORWARD_OUTPUTS, found, strict=True)}
        if case.item == "backward":
            found = solutions.backward(*_tensors(case, ("X", "y", "z1", "a1", "p_hat", "W2")))
            return {name: value.numpy() for name, value in zip(GRADIENTS, found, strict=True)}
        raise ValueError(f"no expected values for a case of {case.item}")

    def training(self, case: Case, start: list[np.ndarray], on_split: bool = False) -> np.ndarray:
        call = case.graded_calls[0]
        options = {k: v for k, v in call.kwargs.items() if k == "learning_rate"}
        return reference_training_from(start, call.kwargs["epochs"], _data(case, on_split), **options)

    def optimizer(self, case: Case, optimizer: str, on_split: bool = False) -> np.ndarray:
        call = case.calls[0]
        return reference_optimizer_history(optimizer, call.kwargs["epochs"], call.kwargs["seed"], _data(case, on_split))

    def holdout_correct(self, params: list[np.ndarray]) -> tuple[int, int]:
        X, y = self.holdout_data or holdout()
        inputs = (_arrays_key({"X": X, "y": y}), _arrays_key({str(i): p for i, p in enumerate(params)}))
        counted = remembered("holdout", inputs, lambda: {"correct": np.array(_holdout_correct(X, y, params))})
        return int(counted["correct"][0]), int(counted["correct"][1])


def _holdout_correct(X: np.ndarray, y: np.ndarray, params: list[np.ndarray]) -> tuple[int, int]:
    import torch

    W1, b1, W2, b2 = (torch.from_numpy(p.astype(np.float32)) for p in params)
    p_hat = _solutions().forward(torch.from_numpy(X), W1, b1, W2, b2)[3]
    return int((p_hat.argmax(dim=1).numpy() == y).sum()), len(y)


# ---- what the students' self-check ships: these values, as numbers (`make student-bundle`) ----------------------


def shipped_values(case: Case, expected: ReferenceExpected) -> dict[str, np.ndarray]:
    """What the judges will ask of `expected` on the public case `case`, as `shipped.ShippedExpected` reads it back:
    a training's losses are known from the first weights the reference's init_params draws for it."""
    if case.item == "train_manual":
        import torch

        call = case.graded_calls[0]
        torch.manual_seed(call.seed)  # as the probe seeds before it calls train_manual
        start = [p.numpy() for p in _solutions().init_params(case.arrays["X"].shape[1], 10, 2)]
        found = {f"start/{index}": value for index, value in enumerate(start)}
        found["history"] = expected.training(case, start)
        if "n" in case.spec:
            found["history_on_split"] = expected.training(case, start, on_split=True)
        return found
    if case.item == "optimizers":
        found = {}
        for optimizer in ("SGD", "Adam"):
            found[optimizer] = expected.optimizer(case, optimizer)
            if "n" in case.spec:
                found[f"{optimizer}_on_split"] = expected.optimizer(case, optimizer, on_split=True)
        return found
    if case.item in ("loss_fn", "forward", "backward"):
        return expected.values(case)
    return {}  # init_params and sgd_update are judged by their own inputs alone


def shipped_extras() -> dict[str, np.ndarray]:
    """The self-check's holdout: what the notebook's own split leaves of the students' data (public)."""
    X, y = notebook_held_back()
    return {"holdout/X": X, "holdout/y": y}
