"""What a submission was scored from, kept beside its grading: a change of points or tolerances rescores it
from these without running a kernel again.

The evidence is every graded call's outcome (the values it returned, its inputs after the call, what the
probe saw) and the verdicts of the rules read from the notebook's code. It is stored as one `.npz`:
arrays as arrays, everything else as one JSON string, read back without pickle.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from grader.shared.outcomes import CallOutcome, CallStatus, Leaf

META = "meta"


@dataclass
class Evidence:
    outcomes: dict[str, CallOutcome] = field(default_factory=dict)  # by call key
    breaches: dict[str, str] = field(default_factory=dict)  # by item: the rule its code breaks, and why
    ignored: dict[str, list[str]] = field(default_factory=dict)  # by item: the arguments its code never reads
    # the bytes it was read from: a rescore stores the same evidence again, as it was, without encoding it anew
    stored: bytes | None = field(default=None, repr=False, compare=False)

    def to_bytes(self) -> bytes:
        if self.stored is not None:
            return self.stored
        arrays: dict[str, np.ndarray] = {}
        calls = {}
        for key, outcome in self.outcomes.items():
            number = len(calls)
            leaves = []
            for index, leaf in enumerate(outcome.leaves):
                if leaf.value is not None:
                    arrays[f"{number}/leaf/{index}"] = leaf.value
                leaves.append({"path": leaf.path, "facts": leaf.facts, "has_value": leaf.value is not None})
            for position, value in outcome.inputs_after.items():
                arrays[f"{number}/input/{position}"] = value
            calls[key] = {
                "number": number,
                "status": str(outcome.status),
                "reason": outcome.reason,
                "leaves": leaves,
                "inputs_after": sorted(outcome.inputs_after),
                "watched": outcome.watched,
                "recording": outcome.recording,
            }
        arrays[META] = np.array(json.dumps({"calls": calls, "breaches": self.breaches, "ignored": self.ignored}))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(str(arrays[META]))
            outcomes = {}
            for key, call in meta["calls"].items():
                number = call["number"]
                leaves = [
                    Leaf(leaf["path"], leaf["facts"], arrays[f"{number}/leaf/{index}"] if leaf["has_value"] else None)
                    for index, leaf in enumerate(call["leaves"])
                ]
                outcomes[key] = CallOutcome(
                    CallStatus(call["status"]),
                    call["reason"],
                    leaves,
                    {int(position): arrays[f"{number}/input/{position}"] for position in call["inputs_after"]},
                    call["watched"],
                    call["recording"],
                )
        # evidence kept before the arguments were read has none
        return cls(outcomes, meta["breaches"], meta.get("ignored", {}), stored=data)
