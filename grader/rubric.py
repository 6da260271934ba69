"""The rubric: one typed view of `rubric.toml` (points, tolerances, time limits, rules)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import SandboxPolicy

RUBRIC_FILE = Path(__file__).with_name("rubric.toml")

# The order in which items are graded and reported; the contract fixes the names.
AUTOMATIC_ITEMS = ("loss_fn", "init_params", "forward", "backward", "sgd_update", "train_manual", "optimizers")


@dataclass(frozen=True)
class ForbiddenRule:
    identifiers: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Rubric:
    total: float
    grading_epochs: int
    cell_timeout: float
    notebook_timeout: float
    call_timeout: float
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    rtol: float
    atol: float
    points: dict[str, float]
    written: dict[str, float]
    item_options: dict[str, dict] = field(default_factory=dict)
    forbidden: dict[str, ForbiddenRule] = field(default_factory=dict)

    @property
    def automatic_total(self) -> float:
        return sum(self.points.values())

    def sandbox_policy(self, mode: str = "auto") -> SandboxPolicy:
        return SandboxPolicy(
            mode=mode,
            memory_bytes=self.memory_bytes,
            cpu_seconds=int(self.notebook_timeout + 600),
            max_processes=self.max_processes,
            max_file_bytes=self.max_file_bytes,
        )

    def option(self, item: str, name: str):
        return self.item_options[item][name]


def load_rubric(path: Path = RUBRIC_FILE) -> Rubric:
    """Read and check a rubric file; a mistake in it is the instructor's to fix, so say where."""
    data = tomllib.loads(path.read_text())
    items = data["items"]
    missing = [name for name in AUTOMATIC_ITEMS if name not in items]
    if missing:
        raise ValueError(f"{path}: [items] lacks {', '.join(missing)}")
    points = {name: float(items[name]["points"]) for name in AUTOMATIC_ITEMS}
    written = {name: float(value) for name, value in data.get("written", {}).items()}
    total = float(data["total"])
    if abs(sum(points.values()) + sum(written.values()) - total) > 1e-9:
        raise ValueError(
            f"{path}: points add up to {sum(points.values()) + sum(written.values())}, not total = {total}"
        )
    run = data["run"]
    return Rubric(
        total=total,
        grading_epochs=int(run["grading_epochs"]),
        cell_timeout=float(run["cell_timeout"]),
        notebook_timeout=float(run["notebook_timeout"]),
        call_timeout=float(run["call_timeout"]),
        memory_bytes=int(data["limits"]["memory_gib"] * 1024**3),
        max_processes=int(data["limits"]["processes"]),
        max_file_bytes=int(data["limits"]["file_mib"] * 1024**2),
        rtol=float(data["tolerance"]["rtol"]),
        atol=float(data["tolerance"]["atol"]),
        points=points,
        written=written,
        item_options={name: {k: v for k, v in items[name].items() if k != "points"} for name in AUTOMATIC_ITEMS},
        forbidden={
            name: ForbiddenRule(tuple(rule["identifiers"]), rule["reason"])
            for name, rule in data.get("forbidden", {}).items()
        },
    )
