"""The graded items: one table from which the rubric's option types, the hidden cases and the scorers are looked up.

Each entry says which of the notebook's functions the item calls, the type of its
`[items.NAME]` table in rubric.toml, how its `[[NAME]]` definitions in
secret/cases.toml become cases, and its judge with the tests each case yields.
Adding an item is one entry here, its two TOML tables, and the two functions the
entry names (a case builder in `cases.py`, a judge in `shared/judges.py`, which
the students' self-check runs too).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import cases
from grader.cases import CASES_FILE
from grader.errors import require
from grader.shared import judges
from grader.shared.judges import GRADIENT_TESTS, Judge
from grader.shared.outcomes import Case

# What the kernel probe can watch for while a graded function runs (recognised in kernel_probe.py)
WATCHABLE = ("autograd", "cross_entropy", "optimizer")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What a hand-written graded function may not use: identifiers in its code, machinery it runs
    (`watch`, recorded while the grader calls it), autograd history on what it returns."""

    identifiers: tuple[str, ...]
    reason: str
    watch: tuple[str, ...] = ()
    autograd_history: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.watch) - set(WATCHABLE))
        require(not unknown, f"watch may hold {', '.join(WATCHABLE)}; not {', '.join(unknown)}")


@dataclass(frozen=True, kw_only=True)
class Item:
    """An item's `[items.NAME]` table: its points and the rule its function must keep, if any."""

    points: float
    rule: Rule | None = None

    def __post_init__(self) -> None:
        require(self.points >= 0, "points must not be negative")


@dataclass(frozen=True, kw_only=True)
class InitParamsItem(Item):
    weight_std: tuple[float, float]
    weight_std_min_size: int
    weight_max_abs: float

    def __post_init__(self) -> None:
        super().__post_init__()
        low, high = self.weight_std
        require(0 <= low < high, "weight_std must be [low, high] with 0 <= low < high")


@dataclass(frozen=True, kw_only=True)
class TrainManualItem(Item):
    holdout_accuracy: float
    history_rtol: float
    history_atol: float

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.holdout_accuracy <= 1, "holdout_accuracy must be a fraction in (0, 1]")


@dataclass(frozen=True, kw_only=True)
class OptimizersItem(Item):
    same_start_rtol: float
    same_start_atol: float
    history_rtol: float
    history_atol: float


# a case from one [[NAME]] definition: its name, the definition, its random generator, its seed, the epochs
CaseBuilder = Callable[[str, dict, np.random.Generator, int, int], Case]


@dataclass(frozen=True, kw_only=True)
class GradedItem:
    """One graded item: what it calls, its options, its cases, its judge and what its tests are called."""

    function: str  # the notebook's function it calls
    options: type[Item]  # its [items.NAME] table in rubric.toml
    build_case: CaseBuilder  # a case from each of its [[NAME]] definitions in secret/cases.toml
    judge: Judge  # its judge (grader/shared/judges.py), for the grader and the self-check
    parts: tuple[str, ...] = ("",)  # the tests each case yields, e.g. one per gradient
    changes_inputs: bool = False  # the function is meant to change its arguments in place


# The contract's graded items, in the order they are graded and reported.
ITEMS: dict[str, GradedItem] = {
    "loss_fn": GradedItem(function="loss_fn", options=Item, build_case=cases.loss_fn_case, judge=judges.judge_loss_fn),
    "init_params": GradedItem(
        function="init_params",
        options=InitParamsItem,
        build_case=cases.init_params_case,
        judge=judges.judge_init_params,
    ),
    "forward": GradedItem(function="forward", options=Item, build_case=cases.forward_case, judge=judges.judge_forward),
    "backward": GradedItem(
        function="backward",
        options=Item,
        build_case=cases.backward_case,
        judge=judges.judge_backward,
        parts=GRADIENT_TESTS,  # backward's results, in the order it returns them
    ),
    "sgd_update": GradedItem(
        function="sgd_update",
        options=Item,
        build_case=cases.sgd_update_case,
        judge=judges.judge_sgd_update,
        changes_inputs=True,
    ),
    "train_manual": GradedItem(
        function="train_manual",
        options=TrainManualItem,
        build_case=cases.train_manual_case,
        judge=judges.judge_train_manual,
        parts=("loss_history", "holdout_accuracy"),
    ),
    "optimizers": GradedItem(
        function="train_with_optimizer",
        options=OptimizersItem,
        build_case=cases.optimizers_case,
        judge=judges.judge_optimizers,
        parts=("loss_history", "same_start", "adam_beats_sgd"),
    ),
}
AUTOMATIC_ITEMS = tuple(ITEMS)
GRADED_FUNCTIONS = {item: entry.function for item, entry in ITEMS.items()}  # item -> the function it calls


def generate_cases(epochs: int, path: Path = CASES_FILE) -> dict[str, list[Case]]:
    """Every hidden case, by item, in the order of the definitions file; trainings run for `epochs`."""
    definitions = tomllib.loads(path.read_text())
    base_seed = int(definitions.pop("seed"))
    found: dict[str, list[Case]] = {}
    for item_index, (item, entries) in enumerate(definitions.items()):
        if item not in ITEMS:
            raise ValueError(f"{path}: unknown item [[{item}]]")
        for index, entry in enumerate(entries):
            spec = dict(entry)
            name = spec.pop("name")
            seed = base_seed + 1000 * item_index + index
            found.setdefault(item, []).append(
                ITEMS[item].build_case(name, spec, np.random.default_rng(seed), seed, epochs)
            )
    return found
