"""MessMaster part 2's graded items: the one table the rubric's option types, the hidden cases and the scorers are
looked up in (the engine's `GradedItem`), and the options of the items that have more than points and a rule.

Adding an item is one entry here, its two TOML tables (rubric.toml, secret/cases.toml), and the two functions the
entry names (a case builder in `cases.py`, a judge in `judges.py`, which the students' self-check runs too).
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import require
from grader.items import GradedItem, Item

from . import cases, judges
from .judges import COMPOSED, GRADIENT_TESTS


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
        composes=COMPOSED,
    ),
    "optimizers": GradedItem(
        function="train_with_optimizer",
        options=OptimizersItem,
        build_case=cases.optimizers_case,
        judge=judges.judge_optimizers,
        parts=("loss_history", "same_start", "adam_beats_sgd"),
    ),
}
