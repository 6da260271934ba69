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
from grader.shared.catalogue import GENERAL_MISTAKES, Misconception
from grader.shared.judging import Standards
from grader.shared.outcomes import Array, Call, CallOutcome, Case
from grader.shared.verdicts import Check, compare
from grader.views.figures import STYLE, PageFigure, Table, png

FOLDER = Path(__file__).resolve().parent
solutions = import_file(FOLDER / "reference" / "solutions.py")

TITLE = "Logistic regression by hand"
SLUG = "logreg"
NOTEBOOK = "student_template/logreg.ipynb"
SOLVED_NOTEBOOK = "reference/logreg_solution.ipynb"
STUDENT_FILES = ()  # the notebook makes its own data
RUBRIC = "rubric.toml"
CASES = "secret/cases.toml"
PUBLIC_CASES = "reference/public_cases.toml"
GRADING_INPUTS = ("assignment.py", "reference/solutions.py", "secret/cases.toml")
QUESTION_MARKERS = {"q1": "**Q1.**"}
TRAINING_ROWS = 200  # the notebook's X_train


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


# ---- the judges: what each item's values must be (the engine has checked every call returned, rules kept) --------


def _nearly(a: object, b: object) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-3, atol=1e-6))


def judge_loss(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    leaf, want = outcomes[0].leaf(""), standards.expected.values(case)["loss"]
    problem = compare(leaf, want, "the loss", standards.rtol, standards.atol)
    if not problem:
        return [Check("")]
    summed = leaf is not None and leaf.value is not None and _nearly(leaf.value, want * len(case.arrays["y"]))
    return [Check("", f"{problem}.", "loss_summed" if summed and len(case.arrays["y"]) > 1 else "")]


def judge_gradient(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want, n, checks = standards.expected.values(case), len(case.arrays["y"]), []
    for index, part in enumerate(("dw", "db")):
        leaf = outcomes[0].leaf(str(index))
        problem = compare(leaf, want[part], f"returned {part}", standards.rtol, standards.atol)
        unscaled = problem and leaf is not None and leaf.value is not None and n > 1
        mistake = "gradient_not_divided_by_n" if unscaled and _nearly(leaf.value, want[part] * n) else ""
        checks.append(Check(part, f"{problem}." if problem else "", mistake))
    return checks


def judge_step(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want, rate = standards.expected.values(case), case.spec["learning_rate"]
    problems, climbed = [], True
    for index, name in enumerate(("w", "b")):
        leaf = outcomes[0].leaf(str(index))
        if problem := compare(leaf, want[name], f"returned {name}", standards.rtol, standards.atol):
            problems.append(problem)
        up = case.arrays[name] + rate * case.arrays[f"d{name}"]
        climbed = climbed and leaf is not None and leaf.value is not None and _nearly(leaf.value, up)
    if not problems:
        return [Check("")]
    return [Check("", "; ".join(problems) + ".", "step_sign" if climbed else "")]


def judge_train(case: Case, outcomes: list[CallOutcome], standards: Standards) -> list[Check]:
    want = standards.expected.values(case)
    history = compare(outcomes[0].leaf("2"), want["history"], "the loss history", standards.rtol, standards.atol)
    weights = [
        compare(outcomes[0].leaf(str(index)), want[name], f"the trained {name}", standards.rtol, standards.atol)
        for index, name in enumerate(("w", "b"))
    ]
    weights_problem = "; ".join(p for p in weights if p)
    return [
        Check("loss_history", f"{history}." if history else ""),
        Check("weights", f"{weights_problem}." if weights_problem else ""),
    ]


# ---- the item table: the one registry the rubric, the cases and the scores are looked up in -----------------

ITEMS = {
    "loss": GradedItem(function="logistic_loss", options=Item, build_case=loss_case, judge=judge_loss),
    "gradient": GradedItem(
        function="logistic_gradient", options=Item, build_case=gradient_case, judge=judge_gradient, parts=("dw", "db")
    ),
    "step": GradedItem(function="descent_step", options=Item, build_case=step_case, judge=judge_step),
    "train": GradedItem(
        function="train_logistic",
        options=Item,
        build_case=train_case,
        judge=judge_train,
        parts=("loss_history", "weights"),
    ),
}

# ---- the mistake catalogue: what to say, and where to look (never the fix) ------------------------------------

PART_OF = {"loss": "Part 1", "gradient": "Part 2", "step": "Part 3", "train": "Part 4"}
MISCONCEPTIONS = {
    "loss_summed": Misconception(
        "loss", "the loss grows with the number of examples: look at how their losses are combined", "the loss"
    ),
    "gradient_not_divided_by_n": Misconception(
        "gradient", "the gradient is N times too large: the loss is a mean over the examples", "the gradient"
    ),
    "step_sign": Misconception(
        "step", "the weights moved up the gradient, so the loss grows instead of falling", "the step"
    ),
}
MISCONCEPTIONS = {
    name: Misconception(m.item, m.says, m.step, PART_OF[m.item]) for name, m in MISCONCEPTIONS.items()
} | GENERAL_MISTAKES

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
