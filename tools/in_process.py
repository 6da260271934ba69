"""The grader's kernel probe run in this process on functions of our own: the tests' and `make mutation`'s.

The probe is the very code a kernel runs after a submission, so the outcomes
are exactly what a kernel would send back; only our own functions (the
reference, its mutants, small hostile functions written in the tests) are ever
called this way. A submission's code never runs in the grader's process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.run.harvest import WATCH_INSTALL_SOURCE, probe_source, read_outcomes, write_case_inputs
from grader.shared.outcomes import CallOutcome, Case

WATCH_MODULE = "_grader_watch"


@contextmanager
def watched() -> Iterator[None]:
    """The watch a kernel installs when it starts, installed in this process meanwhile (once, if nested): the
    threads and processes started inside are heard as a notebook's are."""
    if WATCH_MODULE in sys.modules:
        yield
        return
    installer: dict = {}
    exec(WATCH_INSTALL_SOURCE, installer)
    installer["_grader_install_watch"]()
    try:
        yield
    finally:
        sys.modules.pop(WATCH_MODULE).watch.uninstall()


def outcomes_in_process(
    namespace: dict,
    cases: dict[str, list[Case]],
    folder: Path,
    watch: dict[str, tuple[str, ...]],
    call_timeout: float = 10,
) -> dict[str, CallOutcome]:
    """Call the functions in `namespace` on the hidden cases with the grader's own probe, as a kernel would."""
    probe: dict = {}
    exec(probe_source(), probe)
    outcomes: dict[str, CallOutcome] = {}
    with watched():
        for item, item_cases in cases.items():
            item_folder = folder / item
            item_folder.mkdir(parents=True, exist_ok=True)
            calls_file, arrays_file = write_case_inputs(item_cases, item_folder, watch.get(item, ()))
            probe["_grader_probe"](
                namespace, str(calls_file), str(arrays_file), str(item_folder / "outputs"), call_timeout, 1_000_000
            )
            keys = [call.key for case in item_cases for call in case.calls]
            outcomes |= read_outcomes(item_folder / "outputs", keys)
    return outcomes
