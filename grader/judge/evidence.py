"""What a submission was scored from, kept beside its grading: a change of points or tolerances rescores it
from these without running a kernel again.

The evidence is every graded call's outcome (the values it returned, its inputs after the call, what the
probe saw) and the verdicts of the rules read from the notebook's code. It is stored as one `.npz` read
back without pickle: every array's bytes one after another in one array (`data`), and everything else, each
array's place, dtype and shape among it, as one JSON string. A class of hundreds is rescored by reading
these: one array a grading reads in a fraction of the time a hundred-odd small ones took. Evidence stored
before, one `.npz` entry an array, is still read.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from grader.shared.outcomes import CallOutcome, CallStatus, Leaf

META, DATA = "meta", "data"


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
        chunks: list[bytes] = []
        offset = 0

        def placed(value: np.ndarray) -> dict:
            nonlocal offset
            chunks.append(value.tobytes())  # in C order, whatever the array's own
            offset += value.nbytes
            return {"at": offset - value.nbytes, "dtype": value.dtype.str, "shape": list(value.shape)}

        calls = {}
        for key, outcome in self.outcomes.items():
            leaves = [
                {"path": leaf.path, "facts": leaf.facts, "value": None if leaf.value is None else placed(leaf.value)}
                for leaf in outcome.leaves
            ]
            calls[key] = {
                "status": str(outcome.status),
                "reason": outcome.reason,
                "leaves": leaves,
                "inputs_after": {str(position): placed(value) for position, value in outcome.inputs_after.items()},
                "watched": outcome.watched,
                "recording": outcome.recording,
            }
        meta = {"format": 2, "calls": calls, "breaches": self.breaches, "ignored": self.ignored}
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, **{META: np.array(json.dumps(meta)), DATA: np.frombuffer(b"".join(chunks), np.uint8)}
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(str(stored[META]))
            if meta.get("format") == 2:
                outcomes = _outcomes(meta["calls"], stored[DATA].tobytes())
            else:
                outcomes = _outcomes_one_entry_an_array(meta["calls"], stored)
        # evidence kept before the arguments were read has none
        return cls(outcomes, meta["breaches"], meta.get("ignored", {}), stored=data)


def _outcomes(calls: dict, data: bytes) -> dict[str, CallOutcome]:
    def array(place: dict) -> np.ndarray:
        dtype = np.dtype(place["dtype"])
        count = int(np.prod(place["shape"], dtype=np.int64))
        return np.frombuffer(data, dtype, count, place["at"]).reshape(tuple(place["shape"]))

    return {
        key: CallOutcome(
            CallStatus(call["status"]),
            call["reason"],
            [
                Leaf(leaf["path"], leaf["facts"], None if leaf["value"] is None else array(leaf["value"]))
                for leaf in call["leaves"]
            ],
            {int(position): array(place) for position, place in call["inputs_after"].items()},
            call["watched"],
            call["recording"],
        )
        for key, call in calls.items()
    }


def _outcomes_one_entry_an_array(calls: dict, stored: np.lib.npyio.NpzFile) -> dict[str, CallOutcome]:
    outcomes = {}
    for key, call in calls.items():
        number = call["number"]
        leaves = [
            Leaf(leaf["path"], leaf["facts"], stored[f"{number}/leaf/{index}"] if leaf["has_value"] else None)
            for index, leaf in enumerate(call["leaves"])
        ]
        outcomes[key] = CallOutcome(
            CallStatus(call["status"]),
            call["reason"],
            leaves,
            {int(position): stored[f"{number}/input/{position}"] for position in call["inputs_after"]},
            call["watched"],
            call["recording"],
        )
    return outcomes
