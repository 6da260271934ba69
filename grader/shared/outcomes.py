"""Cases, the calls they make, and what the calls gave back: the data both judges read.

A case (say `f.at_zero`) holds one or more calls of a graded
function and the input arrays they use. The kernel probe (`run/kernel_probe.py`)
reads the calls as plain JSON (`probe_calls`) and answers, per call, a record
(status, facts about each returned value) and arrays; `outcomes_from` reads
those defensively (the grader's probe ran beside student code), for the
grader and for the students' self-check alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Array:
    """An argument that is one of the case's input arrays, passed as a fresh tensor."""

    name: str


@dataclass(frozen=True)
class Call:
    """One call of a graded function: `function(*args, **kwargs)` after seeding with `seed`.

    `capture`: functions of the submission whose first result during the call comes back too (a training's
    first weights, from the function that draws them). `handout_loop`: instead of `function`, the probe runs
    the assignment's training loop over the notebook's own functions (`_grader_handout_loop`: what a training
    composed of them gives), to tell a training's own mistakes from those of the functions it composes.
    """

    key: str
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    seed: int
    capture: tuple[str, ...] = ()
    handout_loop: bool = False


@dataclass
class Case:
    item: str
    name: str
    calls: list[Call]
    arrays: dict[str, np.ndarray]
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def graded_calls(self) -> list[Call]:
        """The calls of the student's function itself (not the handout's loop run beside them)."""
        return [call for call in self.calls if not call.handout_loop]


def _encoded(arg: object, scope: str) -> dict:
    if isinstance(arg, Array):
        return {"array": f"{scope}/{arg.name}"}
    if isinstance(arg, (list, tuple)):
        return {"list": [_encoded(a, scope) for a in arg]}
    return {"value": arg}


def probe_calls(cases: list[Case], watch: tuple[str, ...] | list[str] = ()) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The calls as the probe reads them, and their input arrays, named `CASE/ARRAY`.

    `watch`: the machinery the probe records while each call runs (the item's rule)."""
    calls, arrays = [], {}
    for case in cases:
        for call in case.calls:
            calls.append(
                {
                    "key": call.key,
                    "function": call.function,
                    "args": [_encoded(a, case.name) for a in call.args],
                    "kwargs": {k: _encoded(v, case.name) for k, v in call.kwargs.items()},
                    "seed": call.seed,
                    "watch": [] if call.handout_loop else list(watch),
                    "capture": list(call.capture),
                    "handout_loop": call.handout_loop,
                }
            )
        arrays |= {f"{case.name}/{name}": value for name, value in case.arrays.items()}
    return calls, arrays


def _decoded(arg: dict) -> object:
    if "array" in arg:
        return Array(arg["array"].split("/", 1)[1])
    if "list" in arg:
        return [_decoded(a) for a in arg["list"]]
    return arg["value"]


def cases_from_calls(item: str, described: list[dict], calls: list[dict], arrays: dict[str, np.ndarray]) -> list[Case]:
    """The cases `probe_calls` encoded, back (`described`: each case's name and spec, in order)."""
    found = []
    for entry in described:
        name = entry["name"]
        own = [call for call in calls if call["key"].split(".")[1] == name]
        found.append(
            Case(
                item,
                name,
                [
                    Call(
                        call["key"],
                        call["function"],
                        tuple(_decoded(a) for a in call["args"]),
                        {k: _decoded(v) for k, v in call["kwargs"].items()},
                        call["seed"],
                        tuple(call["capture"]),
                        call["handout_loop"],
                    )
                    for call in own
                ],
                {key.split("/", 1)[1]: value for key, value in arrays.items() if key.split("/", 1)[0] == name},
                dict(entry["spec"]),
            )
        )
    return found


@dataclass
class Leaf:
    """One value the function returned (a tensor, an array, a number, a list of numbers)."""

    path: str  # "0", "1.2" ... position inside the returned tuple/list; "" for a bare value
    facts: dict
    value: np.ndarray | None


class CallStatus(StrEnum):
    """How one call of a graded function ended; the probe in the kernel writes these values."""

    OK = "ok"
    MISSING = "missing"
    NOT_CALLABLE = "not_callable"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_RUN = "not_run"
    LOST = "lost"  # the kernel was lost during the call (the grader's finding; the probe never writes it)


@dataclass
class CallOutcome:
    status: CallStatus
    reason: str = ""
    leaves: list[Leaf] = field(default_factory=list)
    inputs_after: dict[int, np.ndarray] = field(default_factory=dict)  # tensor arguments after the call
    # for a call whose rule watches machinery at run time: what of it ran (category -> what was seen),
    # and whether the recording stayed on ("intact") or how it was switched off
    watched: dict[str, str] = field(default_factory=dict)
    recording: str = ""

    def leaf(self, path: str) -> Leaf | None:
        return next((leaf for leaf in self.leaves if leaf.path == path), None)


NOT_CALLED = "the graded function was not called (no result came back)"
# a handout's-loop call left out because its judge does not read it (judging.handout_loop_read)
LOOP_NOT_READ = "not run: every function the training composes passed its own tests, so the handout's loop is not read"


def loop_left_out(outcome: CallOutcome) -> bool:
    return outcome.status == CallStatus.NOT_RUN and outcome.reason == LOOP_NOT_READ


def outcomes_from(meta: object, arrays: dict[str, np.ndarray], keys: list[str]) -> dict[str, CallOutcome]:
    """Each call's outcome from the probe's records and arrays, read as untrusted data."""
    outcomes = {}
    for key in keys:
        record = meta.get(key) if isinstance(meta, dict) else None
        if not isinstance(record, dict):
            outcomes[key] = CallOutcome(CallStatus.NOT_RUN, NOT_CALLED)
            continue
        status = record.get("status")
        if status not in set(CallStatus):
            outcomes[key] = CallOutcome(CallStatus.ERROR, "the values returned could not be read back")
            continue
        outcome = CallOutcome(CallStatus(status), str(record.get("error", "")))
        watched = record.get("watched", {})
        if isinstance(watched, dict):
            outcome.watched = {str(k)[:100]: str(v)[:200] for k, v in watched.items()}
        outcome.recording = str(record.get("recording", ""))[:200]
        for index, facts in enumerate(record.get("leaves", []) if outcome.status == CallStatus.OK else []):
            if isinstance(facts, dict):
                outcome.leaves.append(Leaf(str(facts.get("path", "")), facts, arrays.get(f"{key}/out/{index}")))
        prefix = f"{key}/after/"
        outcome.inputs_after = {int(n[len(prefix) :]): a for n, a in arrays.items() if n.startswith(prefix)}
        outcomes[key] = outcome
    return outcomes
