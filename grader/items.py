"""What a graded item is: the engine's side of an assignment's item table.

An assignment's describing module gives `ITEMS`, one `GradedItem` per item: which
of the notebook's functions it calls, the type of its `[items.NAME]` table in the
rubric, how its `[[NAME]]` definitions in secret/cases.toml become cases, and its
judge with the tests each case yields. Rubric options, hidden cases and scores
are all looked up in that one table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.assignment import current_assignment
from grader.errors import require
from grader.shared.judging import Judge
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


# a case from one [[NAME]] definition: its name, the definition, its random generator, its seed, the epochs
CaseBuilder = Callable[[str, dict, np.random.Generator, int, int], Case]


@dataclass(frozen=True, kw_only=True)
class GradedItem:
    """One graded item: what it calls, its options, its cases, its judge and what its tests are called."""

    function: str  # the notebook's function it calls
    options: type[Item]  # its [items.NAME] table in rubric.toml
    build_case: CaseBuilder  # a case from each of its [[NAME]] definitions in secret/cases.toml
    judge: Judge  # its judge, for the grader and the self-check
    parts: tuple[str, ...] = ("",)  # the tests each case yields, e.g. one per gradient
    changes_inputs: bool = False  # the function is meant to change its arguments in place
    # the items whose functions this one's calls in a loop (a training): what they get wrong is charged to them once
    composes: tuple[str, ...] = ()


def generate_cases(epochs: int, path: Path | None = None) -> dict[str, list[Case]]:
    """Every hidden case of the assignment (or those defined in `path`), by item, in the order of the definitions
    file; trainings run for `epochs`."""
    assignment = current_assignment()
    items = assignment.ITEMS
    path = path or assignment.cases_file
    definitions = tomllib.loads(path.read_text())
    base_seed = int(definitions.pop("seed"))
    found: dict[str, list[Case]] = {}
    for item_index, (item, entries) in enumerate(definitions.items()):
        if item not in items:
            raise ValueError(f"{path}: unknown item [[{item}]]")
        for index, entry in enumerate(entries):
            spec = dict(entry)
            name = spec.pop("name")
            seed = base_seed + 1000 * item_index + index
            found.setdefault(item, []).append(
                items[item].build_case(name, spec, np.random.default_rng(seed), seed, epochs)
            )
    return found
