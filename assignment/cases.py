"""Hidden cases: turn the definitions in secret/cases.toml into concrete inputs (the engine's `generate_cases` reads
the file and calls each item's builder below); and the data they are drawn beside (the students' data as the
notebook splits it, the holdout).

A case is one situation for one graded item (say `backward.relu_at_zero`); it
holds one or more calls of the student's function and the input arrays they
use. Arrays are float32 / int64 as the contract says; the probe in the kernel
turns them into fresh tensors for every call.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from grader.reference_cache import remembered
from grader.shared.outcomes import Array, Call, Case

ROOT = Path(__file__).resolve().parent.parent  # the assignment's folder
STUDENT_DATA = ROOT / "student_template" / "data" / "xor_pattern.csv"
HOLDOUT_DATA = ROOT / "secret" / "data" / "holdout.csv"
RANDOM_SEED = 10011  # the contract's split seed
K = 2


@cache
def _notebook_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The students' data split as the notebook splits it (same seed, same sklearn call): X_train, X_rest,
    y_train, y_rest. Kept in the reference cache: pandas and scikit-learn (seconds to import) are imported only
    when it is first made."""
    split = remembered("notebook-split", (RANDOM_SEED,), _split_afresh)
    return split["X_train"], split["X_rest"], split["y_train"], split["y_rest"]


def _split_afresh() -> dict[str, np.ndarray]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(STUDENT_DATA)
    parts = train_test_split(df[["x1", "x2"]].values, df["y"].values, test_size=0.2, random_state=RANDOM_SEED)
    return dict(zip(("X_train", "X_rest", "y_train", "y_rest"), parts, strict=True))


def training_split() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's training split of the students' data."""
    X_train, _, y_train, _ = _notebook_split()
    return X_train.astype(np.float32), y_train.astype(np.int64)


def notebook_held_back() -> tuple[np.ndarray, np.ndarray]:
    """What the notebook's training split leaves of the students' data (its validation and test sets): public,
    the self-check's holdout."""
    _, X_rest, _, y_rest = _notebook_split()
    return X_rest.astype(np.float32), y_rest.astype(np.int64)


def holdout() -> tuple[np.ndarray, np.ndarray]:
    """The hidden holdout: (X, y), the caller's own copies."""
    X, y = _holdout_read()
    return X.copy(), y.copy()


@cache
def _holdout_read() -> tuple[np.ndarray, np.ndarray]:
    # read once a process (13 ms, every submission's train_manual judged it again), by its columns' names, as the
    # notebook's pandas reads its data (the same numbers, bit for bit), with numpy: pandas (tens of MiB, half a
    # second) is never imported by a grader that reuses the split above, and a Gradescope container's memory
    # limit counts the grader's process beside the kernel's
    table = np.genfromtxt(HOLDOUT_DATA, delimiter=",", names=True)
    return np.column_stack([table["x1"], table["x2"]]).astype(np.float32), table["y"].astype(np.int64)


def _labels(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    if "only_class" in spec:
        return np.full(n, spec["only_class"], dtype=np.int64)
    return rng.integers(0, K, n).astype(np.int64)


def _probabilities(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    logits = rng.normal(0, scale, (n, K))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _mlp_params(rng: np.random.Generator, d: int, h: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {
        "W1": (rng.normal(0, scale, (d, h))).astype(np.float32),
        "b1": (rng.normal(0, 0.5 * scale, h)).astype(np.float32),
        "W2": (rng.normal(0, scale, (h, K))).astype(np.float32),
        "b2": (rng.normal(0, 0.5 * scale, K)).astype(np.float32),
    }


def loss_fn_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    n = spec["n"]
    arrays = {"p_y_hat": _probabilities(rng, n, spec.get("logit_scale", 1.0)), "y": _labels(rng, spec, n)}
    call = Call(f"loss_fn.{name}", "loss_fn", (Array("p_y_hat"), Array("y")), {}, seed)
    return Case("loss_fn", name, [call], arrays, spec)


def init_params_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    call = Call(f"init_params.{name}", "init_params", (spec["d"], spec["h"], spec["k"]), {}, seed)
    return Case("init_params", name, [call], {}, spec)


def forward_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    arrays = {"X": rng.normal(0, 1, (spec["n"], spec["d"])).astype(np.float32)}
    arrays |= _mlp_params(rng, spec["d"], spec["h"], spec.get("weight_scale", 1.0))
    args = tuple(Array(k) for k in ("X", "W1", "b1", "W2", "b2"))
    return Case("forward", name, [Call(f"forward.{name}", "forward", args, {}, seed)], arrays, spec)


def backward_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    n, d, h = spec["n"], spec["d"], spec["h"]
    X = rng.normal(0, 1, (n, d)).astype(np.float32)
    params = _mlp_params(rng, d, h)
    if spec.get("zero_rows"):
        # rows of zeros with a zero bias put z1 exactly at the ReLU's kink
        X[: spec["zero_rows"]] = 0.0
        params["b1"][:] = 0.0
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(z1, 0)
    z2 = a1 @ params["W2"] + params["b2"]
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p_hat = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    arrays = {"X": X, "y": _labels(rng, spec, n), "z1": z1, "a1": a1, "p_hat": p_hat, "W2": params["W2"]}
    args = tuple(Array(k) for k in ("X", "y", "z1", "a1", "p_hat", "W2"))
    return Case("backward", name, [Call(f"backward.{name}", "backward", args, {}, seed)], arrays, spec)


def sgd_update_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    params = _mlp_params(rng, spec["d"], spec["h"])
    grads = {f"d{k}": rng.normal(0, 1, v.shape).astype(np.float32) for k, v in params.items()}
    arrays = params | grads
    args = ([Array(k) for k in params], [Array(k) for k in grads], spec["learning_rate"])
    return Case("sgd_update", name, [Call(f"sgd_update.{name}", "sgd_update", args, {}, seed)], arrays, spec)


def xor_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` points of the XOR pattern the students' data has: class 1 where x1 and x2 differ in sign."""
    X = rng.normal(0, 1, (n, 2)).astype(np.float32)
    return X, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)


# A training case trains for the rubric's grading_epochs, or for its definition's `epochs` where it has one (a
# public case on data of another size: what it is there to show shows within a hundred epochs).
def _training_data(spec: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The training split, or `n` XOR points the notebook never had (for a function that ignores its arguments)."""
    return xor_data(rng, spec["n"]) if "n" in spec else training_split()


def train_manual_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    X, y = _training_data(spec, rng)
    args, kwargs = (Array("X"), Array("y")), {"epochs": spec.get("epochs", epochs)}
    calls = [
        Call(f"train_manual.{name}", "train_manual", args, kwargs, seed, ("init_params",)),
        # beside it, from the same seed: the handout's loop over the notebook's own functions
        Call(f"train_manual.{name}.handout_loop", "train_manual", args, kwargs, seed, handout_loop=True),
    ]
    return Case("train_manual", name, calls, {"X": X, "y": y}, spec)


def optimizers_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    X, y = _training_data(spec, rng)
    # the same `seed` argument, but the global RNG in another state before each call: a function that
    # ignores its seed starts SGD and Adam from different weights, and the same_start test sees it
    calls = [
        Call(
            f"optimizers.{name}.{optimizer}",
            "train_with_optimizer",
            (optimizer, Array("X"), Array("y")),
            {"epochs": spec.get("epochs", epochs), "seed": spec["seed"]},
            seed + offset,
        )
        for offset, optimizer in enumerate(("SGD", "Adam"))
    ]
    return Case("optimizers", name, calls, {"X": X, "y": y}, spec)
