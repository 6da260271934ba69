"""Logistic regression by hand: a small assignment the same engine grades as MessMaster part 2.

This module is all the engine reads of it (docs/writing-an-assignment.md walks through it): where its files are,
its four graded items with their case builders and judges, its mistakes, its written question and its one
figure. The folder around it holds the rest: reference/ (the reference's code and the solved notebook, both
built by reference/build_notebooks.py), student_template/ (the notebook, with a planted bug), secret/ (the
hidden cases) and rubric.toml.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from grader.assignment import import_file
from grader.items import GradedItem, Item
from grader.shared.outcomes import Array, Call, CallOutcome, Case
from grader.views.figures import STYLE, PageFigure, Table, png

FOLDER = Path(__file__).resolve().parent
solutions = import_file(FOLDER / "reference" / "solutions.py")
judges = import_file(FOLDER / "judges.py")  # the judges and the mistakes (the self-check holds them too)
MISCONCEPTIONS = judges.MISCONCEPTIONS

TITLE = "Logistic regression by hand"
SLUG = "logreg"
NOTEBOOK = "student_template/logreg.ipynb"
SOLVED_NOTEBOOK = "reference/logreg_solution.ipynb"
STUDENT_FILES = ()  # the notebook makes its own data
RUBRIC = "rubric.toml"
CASES = "secret/cases.toml"
PUBLIC_CASES = "reference/public_cases.toml"
GRADING_INPUTS = ("assignment.py", "judges.py", "reference/solutions.py", "secret/cases.toml")
QUESTION_MARKERS = {"q1": "**Q1.**"}
TRAINING_ROWS = 200  # the notebook's X_train

# the students' self-check: these judges stamped in; the notebook run from a shell with few epochs; the training
# with the epochs its signature defaults to; the zip's files besides the notebook and the self-check
SELFCHECK_SOURCES = ("judges.py",)
SELFCHECK_PARAMETERS = {"EPOCHS": 50}
SELFCHECK_TRAININGS = {"train_logistic": 500}
BUNDLE_FILES = ("README.md", "Makefile", "requirements.txt")


def notebook_parameters(rubric) -> dict[str, object]:
    return {"EPOCHS": rubric.run.notebook_epochs}


def training_rows() -> int:
    return TRAINING_ROWS


# ---- the hidden cases: each [[ITEM]] definition of secret/cases.toml as inputs -------------------------------


def _data(rng: np.random.Generator, spec: dict) -> dict[str, np.ndarray]:
    """Weights and `n` labelled points in `d` dimensions (logits scaled by `scale`: large ones test overflow)."""
    n, d, scale = spec["n"], spec["d"], spec.get("scale", 1.0)
    X = rng.normal(0, 1, (n, d)).astype(np.float32)
    w = (rng.normal(0, 1, d) * scale).astype(np.float32)
    b = np.array(rng.normal(0, 0.5), dtype=np.float32)
    y = ((X @ rng.normal(0, 1, d) + rng.normal(0, spec.get("noise", 0.0), n)) > 0).astype(np.float32)
    return {"w": w, "b": b, "X": X, "y": y}


def _case(item: str, function: str, name: str, spec: dict, arrays: dict, args: tuple, seed: int, **kwargs) -> Case:
    return Case(item, name, [Call(f"{item}.{name}", function, args, kwargs, seed)], arrays, spec)


def loss_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    args = tuple(Array(k) for k in ("w", "b", "X", "y"))
    return _case("loss", "logistic_loss", name, spec, _data(rng, spec), args, seed)


def gradient_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    args = tuple(Array(k) for k in ("w", "b", "X", "y"))
    return _case("gradient", "logistic_gradient", name, spec, _data(rng, spec), args, seed)


def step_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    arrays = _data(rng, spec)
    arrays["dw"] = rng.normal(0, 1, spec["d"]).astype(np.float32)
    arrays["db"] = np.array(rng.normal(), dtype=np.float32)
    args = (*(Array(k) for k in ("w", "b", "dw", "db")), spec["learning_rate"])
    return _case("step", "descent_step", name, spec, arrays, args, seed)


def train_case(name: str, spec: dict, rng: np.random.Generator, seed: int, epochs: int) -> Case:
    arrays = _data(rng, spec)
    args = (Array("X"), Array("y"))
    return _case(
        "train", "train_logistic", name, spec, arrays, args, seed, learning_rate=spec["learning_rate"], epochs=epochs
    )


# ---- expected values: the reference, in the grader's process ---------------------------------------------------


def _tensors(case: Case, names: tuple[str, ...]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.array(case.arrays[name])) for name in names]


class ReferenceExpected:
    """What the judges compare with: the reference's results on a case."""

    def values(self, case: Case) -> dict[str, np.ndarray]:
        if case.item == "loss":
            return {"loss": solutions.logistic_loss(*_tensors(case, ("w", "b", "X", "y"))).numpy()}
        if case.item == "gradient":
            dw, db = solutions.logistic_gradient(*_tensors(case, ("w", "b", "X", "y")))
            return {"dw": dw.numpy(), "db": db.numpy()}
        if case.item == "step":
            w, b = solutions.descent_step(*_tensors(case, ("w", "b", "dw", "db")), case.spec["learning_rate"])
            return {"w": w.numpy(), "b": b.numpy()}
        X, y = _tensors(case, ("X", "y"))
        w, b, history = solutions.train_logistic(X, y, **case.calls[0].kwargs)
        return {"w": w.numpy(), "b": b.numpy(), "history": np.array(history)}


def expected() -> ReferenceExpected:
    return ReferenceExpected()


# ---- the item table: the one registry the rubric, the cases and the scores are looked up in -----------------

ITEMS = {
    "loss": GradedItem(function="logistic_loss", options=Item, build_case=loss_case, judge=judges.judge_loss),
    "gradient": GradedItem(
        function="logistic_gradient",
        options=Item,
        build_case=gradient_case,
        judge=judges.judge_gradient,
        parts=("dw", "db"),
    ),
    "step": GradedItem(function="descent_step", options=Item, build_case=step_case, judge=judges.judge_step),
    "train": GradedItem(
        function="train_logistic",
        options=Item,
        build_case=train_case,
        judge=judges.judge_train,
        parts=("loss_history", "weights"),
    ),
}

# ---- what the feedback page draws: the training's losses beside the reference's --------------------------------

SAMPLED = 100  # epochs of a history kept for the page


def _sampled(history: np.ndarray) -> list[list[float]]:
    epochs = np.unique(np.linspace(0, len(history) - 1, min(SAMPLED, len(history))).astype(int))
    return [[int(e), float(history[e])] for e in epochs if np.isfinite(history[e])]


def plot_data(cases: dict[str, list[Case]], outcomes: dict[str, CallOutcome]) -> dict[str, object]:
    """The first training case's loss history, the student's and the reference's, sampled (JSON values)."""
    if not cases.get("train"):
        return {}
    case = cases["train"][0]
    leaf = outcomes[case.calls[0].key].leaf("2") if case.calls[0].key in outcomes else None
    found = {"reference": _sampled(ReferenceExpected().values(case)["history"])}
    if leaf is not None and leaf.value is not None and leaf.value.ndim == 1 and len(leaf.value):
        found["yours"] = _sampled(leaf.value.astype(np.float64))
    return found


def _curve(data: object) -> np.ndarray | None:
    try:
        points = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return points if points.ndim == 2 and points.shape[1] == 2 and len(points) else None


def figures(plots: dict) -> list[PageFigure]:
    curves = {who: _curve(plots.get(who)) for who in ("yours", "reference")}
    image, table = None, None
    if curves["yours"] is not None:
        with matplotlib.rc_context(STYLE):
            figure = Figure(figsize=(8, 3.6))
            figure.subplots_adjust(left=0.11, right=0.98, bottom=0.17, top=0.97)
            axes = figure.subplots()
            for who, style in (("reference", "--"), ("yours", "-")):
                if curves[who] is not None:
                    axes.plot(*curves[who].T, linestyle=style, label=who)
            axes.set_xlabel("epoch")
            axes.set_ylabel("loss")
            axes.legend()
            image = png(figure)
        rows = [[str(int(e)), f"{loss:.4g}"] for e, loss in curves["yours"][:: max(1, len(curves["yours"]) // 5)]]
        table = Table("loss-numbers", "Your loss at some epochs", ["epoch", "loss"], rows, label_columns=0)
    return [
        PageFigure(
            "losses",
            image,
            "your training's loss per epoch beside the reference's: some of its numbers are in the table below",
            "Loss per epoch of `train_logistic` on the first hidden case; dashed: the reference.",
            "No loss history came back from `train_logistic`: nothing to draw.",
            table,
        )
    ]
