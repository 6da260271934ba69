"""The rubric: one typed, validated view of `rubric.toml` (points, tolerances, limits, rules).

Every table of the file maps onto a frozen dataclass below, and `load_rubric`
checks the whole file against them before anything is graded: a key missing,
unknown or of the wrong type, or a value out of range, is refused at start with
the place in the file, never discovered halfway through a batch.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import tomllib
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.assignment import current_assignment
from grader.errors import GraderError, require
from grader.items import Item


class RubricError(GraderError, ValueError):
    """The rubric file cannot be used; the message names the file and the key."""

    says = "cannot use the rubric: "


@dataclass(frozen=True, kw_only=True)
class Run:
    grading_epochs: int
    notebook_epochs: int
    cell_timeout: float
    notebook_timeout: float
    call_timeout: float
    recovery_timeout: float
    kernel_restarts: int
    submission_timeout: float

    def __post_init__(self) -> None:
        require(
            min(self.grading_epochs, self.notebook_epochs) >= 1, "grading_epochs and notebook_epochs must be at least 1"
        )
        require(self.kernel_restarts >= 0, "kernel_restarts must not be negative")
        timeouts = (
            self.cell_timeout,
            self.notebook_timeout,
            self.call_timeout,
            self.recovery_timeout,
            self.submission_timeout,
        )
        require(min(timeouts) > 0, "timeouts must be positive")
        require(
            self.notebook_timeout < self.submission_timeout,
            "notebook_timeout must be less than submission_timeout (the graded calls need time after the notebook)",
        )


@dataclass(frozen=True, kw_only=True)
class Limits:
    memory_gib: float
    cpu_seconds: int
    processes: int
    file_mib: float
    disk_mib: float

    def __post_init__(self) -> None:
        values = (self.memory_gib, self.cpu_seconds, self.processes, self.file_mib, self.disk_mib)
        require(min(values) > 0, "limits must be positive")


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    rtol: float
    atol: float

    def __post_init__(self) -> None:
        require(self.rtol >= 0 and self.atol >= 0, "rtol and atol must not be negative")


VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


# Gradescope's own timeout may be set up to this many minutes (its documentation); what a run of ours does besides
# the submission's own time (Python's start, scoring, writing the results) fits in the margin, at half a CPU
GRADESCOPE_MAX_MINUTES = 40
GRADESCOPE_MARGIN_SECONDS = 60


@dataclass(frozen=True, kw_only=True)
class Gradescope:
    visibility: str  # of the automatic tests' results
    timeout_minutes: float  # the autograder timeout set on Gradescope for this assignment

    def __post_init__(self) -> None:
        require(self.visibility in VISIBILITIES, f"visibility must be one of {', '.join(VISIBILITIES)}")
        require(
            0 < self.timeout_minutes <= GRADESCOPE_MAX_MINUTES,
            f"timeout_minutes must be positive and at most Gradescope's {GRADESCOPE_MAX_MINUTES}",
        )


@dataclass(frozen=True, kw_only=True)
class Late:
    """The course's late policy: a share of the points earned per day (or part of one) past the due time."""

    due: str  # ISO 8601 with its time zone, "2026-11-02T23:59:00-05:00"; "" for no late policy
    grace_minutes: float  # past the due time and still on time
    penalty_percent_per_day: float
    max_penalty_percent: float
    late_mark_days: float  # days charged when the LMS marks a submission late without saying when it came

    def __post_init__(self) -> None:
        if self.due:
            try:
                due = datetime.fromisoformat(self.due)
            except ValueError:
                raise ValueError(
                    f"due must be an ISO 8601 time, like 2026-11-02T23:59:00-05:00; not {self.due!r}"
                ) from None
            require(due.tzinfo is not None, "due must say its time zone (Z, -05:00): a class spans several")
        require(self.grace_minutes >= 0 and self.late_mark_days >= 0, "grace_minutes and late_mark_days: >= 0")
        require(0 <= self.penalty_percent_per_day <= 100, "penalty_percent_per_day must be in [0, 100]")
        require(0 <= self.max_penalty_percent <= 100, "max_penalty_percent must be in [0, 100]")

    @property
    def due_time(self) -> datetime | None:
        return datetime.fromisoformat(self.due) if self.due else None


@dataclass(frozen=True, kw_only=True)
class Rubric:
    total: float
    run: Run
    limits: Limits
    tolerance: Tolerance
    gradescope: Gradescope
    late: Late
    items: dict[str, Item]
    written: dict[str, float]

    def __post_init__(self) -> None:
        added = self.automatic_total + sum(self.written.values())
        require(abs(added - self.total) < 1e-9, f"points add up to {added:g}, not total = {self.total:g}")
        bound = self.run.submission_timeout + GRADESCOPE_MARGIN_SECONDS
        require(
            bound <= self.gradescope.timeout_minutes * 60,
            f"run.submission_timeout ({self.run.submission_timeout:g} s) and {GRADESCOPE_MARGIN_SECONDS} s for the "
            f"rest of a run must fit in gradescope.timeout_minutes ({self.gradescope.timeout_minutes:g} min): "
            "Gradescope kills a longer run, with no results at all",
        )

    @property
    def automatic_total(self) -> float:
        return sum(item.points for item in self.items.values())

    @property
    def written_total(self) -> float:
        return sum(self.written.values())

    @property
    def watched(self) -> dict[str, tuple[str, ...]]:
        """By item, the machinery its rule has the probe record while the function runs."""
        return {name: item.rule.watch for name, item in self.items.items() if item.rule is not None}

    @property
    def points(self) -> dict[str, float]:
        return {name: item.points for name, item in self.items.items()}


def _convert(kind: object, value: object, where: str) -> object:
    """`value` as the annotated `kind`, or ValueError saying what was expected at `where`."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is types.UnionType:  # `Rule | None`: the TOML table, when present
        return _convert(next(a for a in args if a is not type(None)), value, where)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where)
    if origin is tuple:
        many = len(args) == 2 and args[1] is Ellipsis
        if not isinstance(value, list) or (not many and len(value) != len(args)):
            count = "" if many else f" {len(args)}"
            raise ValueError(f"{where} must be a list of{count} values, not {value!r}")
        kinds = [args[0]] * len(value) if many else list(args)
        return tuple(_convert(k, v, f"{where}[{i}]") for i, (k, v) in enumerate(zip(kinds, value, strict=True)))
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise ValueError(f"{where} must be {getattr(kind, '__name__', kind)}, not {type(value).__name__} {value!r}")


def _build(cls: type, table: object, where: str) -> object:
    """An instance of the dataclass `cls` from a TOML table: every key known, every required key present."""
    if not isinstance(table, dict):
        raise ValueError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ValueError(f"[{where}] has unknown key(s) {', '.join(unknown)}; expected {', '.join(fields)}")
    missing = [n for n, f in fields.items() if n not in table and f.default is dataclasses.MISSING]
    if missing:
        raise ValueError(f"[{where}] lacks {', '.join(missing)}")
    values = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in table.items()}
    try:
        return cls(**values)
    except ValueError as error:
        raise ValueError(f"[{where}]: {error}") from None


def parse_rubric(data: dict) -> Rubric:
    """The rubric from a parsed TOML document; ValueError says what is wrong and where."""
    expected = ("total", "run", "limits", "tolerance", "gradescope", "late", "items", "written")
    unknown, missing = sorted(set(data) - set(expected)), [key for key in expected if key not in data]
    if unknown or missing:
        raise ValueError(
            f"the top level must have exactly {', '.join(expected)}; unknown: {unknown}, missing: {missing}"
        )
    for table in ("items", "written"):
        if not isinstance(data[table], dict):
            raise ValueError(f"[{table}] must be a table")
    graded = current_assignment().ITEMS  # the assignment's item table: each item's options
    if set(data["items"]) != set(graded):
        raise ValueError(f"[items] must have exactly {', '.join(graded)}; found {', '.join(data['items'])}")
    written = {name: _convert(float, value, f"written.{name}") for name, value in data["written"].items()}
    if any(points < 0 for points in written.values()):
        raise ValueError("[written]: points must not be negative")
    return Rubric(
        total=_convert(float, data["total"], "total"),
        run=_build(Run, data["run"], "run"),
        limits=_build(Limits, data["limits"], "limits"),
        tolerance=_build(Tolerance, data["tolerance"], "tolerance"),
        gradescope=_build(Gradescope, data["gradescope"], "gradescope"),
        late=_build(Late, data["late"], "late"),
        items={name: _build(entry.options, data["items"][name], f"items.{name}") for name, entry in graded.items()},
        written=written,
    )


def load_rubric(path: Path | None = None) -> Rubric:
    """Read and check a rubric file (by default the assignment's); RubricError names the file and what to fix."""
    path = path or current_assignment().rubric_file
    try:
        return parse_rubric(tomllib.loads(path.read_text()))
    except OSError as error:
        raise RubricError(f"{path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise RubricError(f"{path}: {error}") from None


# ---- a class's rubric over time: what a change of each key asks of the grades already made ----------------------

# keys whose change needs every notebook run again (other cases, another notebook run, other rules)
GRADING_KEYS = ("run.grading_epochs", "run.notebook_epochs", "items.*.rule")
# keys that only bound a run (time, resources, Gradescope's settings): they may differ from one run to the next
RESOURCE_KEYS = ("run.", "limits.", "gradescope.")


@dataclass(frozen=True)
class RubricChange:
    key: str  # dotted: "items.NAME.points"
    old: object
    new: object

    @property
    def kind(self) -> str:
        """ "scoring" (stored outcomes are scored again), "grading" (kernels again) or "resources" (per run)."""
        if any(fnmatch.fnmatch(self.key, p) or fnmatch.fnmatch(self.key, p + ".*") for p in GRADING_KEYS):
            return "grading"
        if self.key.startswith(RESOURCE_KEYS):
            return "resources"
        return "scoring"

    def __str__(self) -> str:
        return f"{self.key}: {self.old!r} -> {self.new!r}"


def rubric_as_json(rubric: Rubric) -> str:
    """The rubric as JSON, its written questions in their order (the pages' and the sheet's)."""
    return json.dumps(dataclasses.asdict(rubric))


def rubric_from_json(text: str) -> Rubric:
    """The rubric `rubric_as_json` wrote (an item without a rule has none, as in the TOML).

    Stores of older days kept it with sorted keys: their written questions are put back in the handout's
    order (the assignment's rubric's), any other after them."""
    data = json.loads(text)
    for item in data["items"].values():
        if item.get("rule") is None:
            item.pop("rule", None)
    if list(data["written"]) == sorted(data["written"]):
        order = list(tomllib.loads(current_assignment().rubric_file.read_text())["written"])
        data["written"] = dict(
            sorted(data["written"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
        )
    return parse_rubric(data)


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        flat: dict[str, object] = {}
        for key, inner in value.items():
            flat |= _flat(inner, f"{prefix}{key}.")
        return flat
    return {prefix.rstrip("."): list(value) if isinstance(value, tuple) else value}


def rubric_changes(old: Rubric, new: Rubric) -> list[RubricChange]:
    """Every key whose value differs from `old` to `new` (a key only one has: None on the other side)."""
    before, after = _flat(dataclasses.asdict(old)), _flat(dataclasses.asdict(new))
    return [
        RubricChange(key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
