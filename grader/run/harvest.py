"""Call the graded functions in the submission's kernel on the hidden cases and bring back plain numbers.

Inputs go to the kernel as files (`.json` + `.npz`), one item at a time; the
kernel-side code (`kernel_probe.py`) writes the returned values back the same
way. Nothing crosses but data: arrays are read with `allow_pickle=False`, and
every file is size-checked before it is read. A timeout or a dead kernel costs
the items not yet harvested, never the grader.
"""

from __future__ import annotations

import ast
import json
import math
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np

from grader.assignment import current_assignment
from grader.run.execute import CellStatus, NotebookRunner
from grader.run.sandbox import hand_over
from grader.shared.outcomes import (
    LOOP_NOT_READ,
    NOT_CALLED,
    CallOutcome,
    CallStatus,
    Case,
    outcomes_from,
    probe_calls,
)


def functions_of(module: str, names: tuple[str, ...]) -> str:
    """The source of the top-level functions `names` of this folder's `module`: a cell carries only the code it
    runs (IPython hashes and tokenizes a cell's whole text, 2 ms a cell for every 10 KB, and a kernel runs eight)."""
    text = Path(__file__).with_name(module).read_text()
    tree = ast.parse(text)
    found = {node.name: ast.get_source_segment(text, node) for node in tree.body if isinstance(node, ast.FunctionDef)}
    return "\n\n\n".join(found[name] for name in names)


# what a kernel installs when it starts: the watch over its threads and processes (run/recording.py)
WATCH_INSTALL_SOURCE = functions_of(
    "recording.py", ("_grader_watch", "_grader_install_watch", "_grader_collect_less_often")
)
# what each probe cell runs: the recording (the probe builds its Recording class from it), then the probe
PROBE_SOURCE = (
    functions_of("recording.py", ("_grader_recording",))
    + "\n\n\n"
    + functions_of("kernel_probe.py", ("_grader_probe", "_grader_call_all"))
)


def compiled_by_python(source: str, name: str) -> str:
    """A cell that runs `source` as plain Python: IPython's own reading of a cell (its input transformers, a
    compile per statement) takes 35 ms on the probe's 27 KB, plain `compile` 4 ms; a kernel runs 7 such cells."""
    return f"exec(compile({source!r}, {name!r}, 'exec'))"


# run when a kernel starts, before the notebook: the watch over the threads and processes it will start, and its
# collector set to collect less often
WATCH_SOURCE = (
    f"{compiled_by_python(WATCH_INSTALL_SOURCE, '<grader-watch>')}\n"
    "_grader_install_watch()\n_grader_collect_less_often()\n"
    "del _grader_watch, _grader_install_watch, _grader_collect_less_often\n"
)
MAX_ELEMENTS_PER_VALUE = 1_000_000
MAX_RESULT_BYTES = 64 * 1024 * 1024
MAX_META_BYTES = 2 * 1024 * 1024
WATCH_INTERVAL = 0.1  # seconds between two looks at the probe's progress


class CallWatch:
    """While the probe's cell runs: the call the probe last said it started, and since when. A call the kernel's
    own alarm should have ended (a student can turn the alarm off) that is still running after `allowance`
    seconds has its kernel killed then, rather than when the whole cell's budget (every call's) runs out."""

    def __init__(self, progress: Path, allowance: float, kill: Callable[[], None]) -> None:
        self.progress, self.allowance, self.kill = progress, allowance, kill
        self.stalled = ""  # the key of the call the kernel was killed in
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="grader-call-watch", daemon=True)

    def __enter__(self) -> CallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._finished.set()
        self._thread.join()

    def _last_line(self) -> str:
        """The file's last line; "" for anything but a regular file (student code can reach it: a FIFO or a link
        put in its place must not block or redirect this thread)."""
        try:
            descriptor = os.open(self.progress, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            return ""
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                return ""
            tail = os.pread(descriptor, 4096, max(0, status.st_size - 4096))
        except OSError:
            return ""
        finally:
            os.close(descriptor)
        lines = tail.decode("utf-8", "replace").splitlines()
        return lines[-1] if lines else ""

    def _watch(self) -> None:
        seen, since = "", time.monotonic()
        while not self._finished.wait(WATCH_INTERVAL):
            line = self._last_line()
            if line != seen:
                seen, since = line, time.monotonic()
            elif seen and seen != "done" and time.monotonic() - since > self.allowance:
                self.stalled = seen
                self.kill()
                return


def write_case_inputs(cases: list[Case], folder: Path, watch: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """The calls as JSON and all their input arrays in one `.npz`, namespaced by case.

    `watch`: the machinery the probe records while each call runs (the item's rule).
    """
    calls, arrays = probe_calls(cases, watch)
    calls_file, arrays_file = folder / "calls.json", folder / "inputs.npz"
    calls_file.write_text(json.dumps(calls))
    np.savez(arrays_file, **arrays)
    return calls_file, arrays_file


def probe_cell(calls_file: Path, arrays_file: Path, out_stem: Path, call_timeout: float) -> nbformat.NotebookNode:
    call = (
        f"_grader_probe(globals(), {str(calls_file)!r}, {str(arrays_file)!r}, {str(out_stem)!r}, "
        f"{float(call_timeout)!r}, {MAX_ELEMENTS_PER_VALUE})"
    )
    names = tuple(
        f"_grader_{name}"
        for name in ("probe", "call_all", "handout_loop", "watch", "recording", "install_watch", "collect_less_often")
    )
    forget = f"for _grader_name in {names!r}:\n    globals().pop(_grader_name, None)\ndel _grader_name\n"
    return nbformat.v4.new_code_cell(f"{compiled_by_python(probe_source(), '<grader-probe>')}\n{call}\n{forget}")


def probe_source() -> str:
    """The probe's code with the assignment's own kernel helpers (its handout loop, if it has one)."""
    return f"{PROBE_SOURCE}\n\n{current_assignment().kernel_helpers}"


def read_outcomes(out_stem: Path, keys: list[str]) -> dict[str, CallOutcome]:
    """Parse what the probe wrote, defensively: the files were within reach of student code."""
    meta_file, arrays_file = out_stem.with_suffix(".json"), out_stem.with_suffix(".npz")
    if not meta_file.is_file() or not arrays_file.is_file():
        return {key: CallOutcome(CallStatus.NOT_RUN, NOT_CALLED) for key in keys}
    if meta_file.stat().st_size > MAX_META_BYTES or arrays_file.stat().st_size > MAX_RESULT_BYTES:
        return {key: CallOutcome(CallStatus.ERROR, "the values returned were too large to grade") for key in keys}
    try:
        meta = json.loads(meta_file.read_text())
        with np.load(arrays_file, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except Exception:  # a file the student's code damaged is unreadable, whatever the exact error
        return {key: CallOutcome(CallStatus.ERROR, "the values returned could not be read back") for key in keys}
    return outcomes_from(meta, arrays, keys)


def harvest_outputs(
    runner: NotebookRunner,
    cases: dict[str, list[Case]],
    folder: Path,
    call_timeout: float,
    watch: dict[str, tuple[str, ...]],
    deadline: float = math.inf,
    loops_read: Callable[[str, dict[str, CallOutcome]], bool] | None = None,
) -> dict[str, CallOutcome]:
    """The outcome of every call of the items harvested, by call key, item by item in order.

    Stops when the kernel is lost (the item it was lost on has its calls' outcomes), or at `deadline` (a
    time.monotonic() value); the items after it are left out, for a fresh kernel to harvest. `watch`: by
    item, the machinery to record while its function runs (the rubric's rules). An item's handout's-loop calls
    run after its own calls, and only where `loops_read(item, the outcomes so far)` says its judge reads them
    (None: always); those left out have the outcome LOOP_NOT_READ.
    """
    outcomes: dict[str, CallOutcome] = {}
    for item, item_cases in cases.items():
        if not runner.alive or deadline - time.monotonic() <= 0:
            break
        own, cut_short = _probe_calls(runner, item, _calls_of(item_cases, False), folder, call_timeout, watch, deadline)
        outcomes |= own
        loops = _calls_of(item_cases, True)
        keys = [call.key for case in loops for call in case.calls]
        if not keys:
            continue
        if cut_short is not None:  # as the calls after it in the same cell were
            outcomes |= dict.fromkeys(keys, cut_short)
        elif loops_read is not None and not loops_read(item, outcomes):
            outcomes |= dict.fromkeys(keys, CallOutcome(CallStatus.NOT_RUN, LOOP_NOT_READ))
        elif runner.alive and deadline - time.monotonic() > 0:
            outcomes |= _probe_calls(runner, item, loops, folder, call_timeout, watch, deadline)[0]
        else:  # the item's own calls are kept: only the loop beside them could not run
            outcomes |= dict.fromkeys(keys, CallOutcome(CallStatus.NOT_RUN, "no time was left to run it"))
    return outcomes


def _calls_of(cases: list[Case], handout_loop: bool) -> list[Case]:
    """The cases with only their handout's-loop calls, or only their own (a case left with none left out)."""
    kept = [replace(case, calls=[c for c in case.calls if c.handout_loop == handout_loop]) for case in cases]
    return [case for case in kept if case.calls]


def _probe_calls(
    runner: NotebookRunner,
    item: str,
    cases: list[Case],
    folder: Path,
    call_timeout: float,
    watch: dict[str, tuple[str, ...]],
    deadline: float,
) -> tuple[dict[str, CallOutcome], CallOutcome | None]:
    """The calls of `cases` in one probe cell: their outcomes, and what cut the cell short (None if nothing)."""
    keys = [call.key for case in cases for call in case.calls]
    if not keys:
        return {}, None
    # a fresh, unguessable folder per cell: nothing written earlier can pass for a result
    item_folder = folder / f"{item}-{secrets.token_hex(8)}"
    item_folder.mkdir(parents=True)
    hand_over(item_folder)  # the kernel writes its results here
    calls_file, arrays_file = write_case_inputs(cases, item_folder, watch.get(item, ()))
    out_stem = item_folder / "outputs"
    cell = probe_cell(calls_file, arrays_file, out_stem, call_timeout)
    # the calls' own time, and a little for the probe's files (it writes them even after a timeout)
    # a call past twice its budget (at least 5 s past it) did not end at the kernel's alarm: it will not end
    stalls = CallWatch(out_stem.with_suffix(".progress"), call_timeout + max(5.0, call_timeout), runner.kill_kernel)
    with stalls:
        run = runner.run_extra_cell(cell, min(call_timeout * len(keys) + 10, deadline - time.monotonic()))
    found = read_outcomes(out_stem, keys)
    # calls the probe never reported on were cut short by what happened to the cell
    if run.status == CellStatus.TIMEOUT or stalls.stalled:
        cut_short = CallOutcome(CallStatus.TIMEOUT, "the call did not finish in time")
    elif run.status == CellStatus.LOST:
        cut_short = CallOutcome(CallStatus.LOST, "the kernel was lost during this call")
    else:
        cut_short = None
    if cut_short is not None:
        found = {k: cut_short if o.status == CallStatus.NOT_RUN else o for k, o in found.items()}
    return found, cut_short
