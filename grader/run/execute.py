"""Run a submission's cells in its kernel: every cell gets its chance, whatever the one before did.

A cell that raises does not stop the run; a cell that runs too long is
interrupted; a kernel that dies or stops answering ends the run, and the log
says which cell did it (the pipeline then runs the notebook again on a fresh
kernel, skipping that cell). What a cell printed is kept only up to a cap.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.errors import SubmissionError
from grader.shared.catalogue import is_selfcheck_cell

MAX_OUTPUT_CHARS = 200_000  # per notebook: enough for any honest progress log
TIMEOUT_ENAME = "GraderCellTimeout"
# seconds a started kernel has to answer: a fresh one takes one or two on an idle machine, ten times that on a
# busy one; past this it is deemed not to start (the pipeline then tries a fresh one)
STARTUP_TIMEOUT = 120
AFTER_INTERRUPT_SECONDS = 1  # the wait for a timed-out cell's last outputs once its kernel is interrupted


class CellStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_RUN = "not_run"
    LOST = "lost"  # the kernel died or broke the protocol while running it
    SKIPPED = "skipped"  # lost the kernel on an earlier run, so left out of this one


@dataclass
class CellRun:
    number: int  # the student's code cells counted from 1, as "code cell 3" in feedback
    status: CellStatus
    error: str = ""
    index: int = -1  # the cell's place in the notebook
    first_line: str = ""  # how a student finds the cell in Jupyter
    error_is_students: bool = False  # `error` is the exception the student's code raised (their text), not ours


@dataclass
class RunLog:
    cells: list[CellRun] = field(default_factory=list)
    stopped_because: str = ""  # why cells after some point were not run
    stopped_by_time: bool = False  # they were not run because time ran out (else: the kernel was lost)
    output_truncated: bool = False
    lost_at: CellRun | None = None  # the cell during which the kernel was lost

    @property
    def failed_cells(self) -> list[CellRun]:
        return [c for c in self.cells if c.status != CellStatus.OK]


class KernelStartFailed(SubmissionError, RuntimeError):
    """A kernel could not be started, confined or made ready: the grader's machinery failed, before any of the
    submission's code ran (a busy machine, a fork server that died, a sandbox that cannot be set up)."""


class KernelLost(SubmissionError):
    """The kernel died or broke the Jupyter protocol: it can run no more cells."""


class CappedClient(NotebookClient):
    """A NotebookClient that stops keeping outputs once a notebook has printed too much, and that waits little
    for a timed-out cell's last outputs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept_chars = 0
        self.truncated = False

    def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
        size = len(str(msg.get("content", "")))
        if self.kept_chars + size > MAX_OUTPUT_CHARS:
            self.truncated = True
            return None
        self.kept_chars += size
        return super().output(outs, msg, display_id, cell_index)

    async def _async_handle_timeout(self, timeout, cell=None):  # type: ignore[override]
        # nbclient interrupts the kernel, then waits iopub_timeout for the cell's last outputs: an interrupt that
        # works ends them at once; one that does not is the runner's to find out (its `pass`, recovery_timeout),
        # so waiting the whole iopub_timeout here only added seconds to every cell that ignores interrupts
        reply = await super()._async_handle_timeout(timeout, cell)
        self.iopub_timeout = min(self.iopub_timeout, AFTER_INTERRUPT_SECONDS)
        return reply


class NotebookRunner:
    """Owns one nbclient session on an already started kernel; runs the notebook, then extra cells."""

    def __init__(
        self,
        manager: AsyncKernelManager,
        notebook: nbformat.NotebookNode,
        cell_timeout: float,
        recovery_timeout: float = 10,
        startup_timeout: float = STARTUP_TIMEOUT,
        setup: str = "",
    ) -> None:
        """`setup`: the grader's code, run when the kernel is ready, before any of the notebook's (out of its
        history and execution counts)."""
        self.manager = manager
        self.setup = setup
        self.startup_timeout = max(1, startup_timeout)
        # a copy: the cells the runner adds (its probes, its "does the kernel answer?") and the outputs it records
        # stay in this run, and a fresh kernel runs the notebook as it was given
        self.notebook = copy.deepcopy(notebook)
        self.cell_timeout = cell_timeout
        self.recovery_timeout = recovery_timeout  # seconds an interrupted kernel has to answer again
        self.client = CappedClient(
            self.notebook,
            km=manager,
            timeout=int(cell_timeout),
            allow_errors=True,
            interrupt_on_timeout=True,
            record_timing=False,
            iopub_timeout=4,
            startup_timeout=max(1, int(startup_timeout)),
        )
        self.client.on_cell_executed = self._remember_reply
        self._last_reply: dict = {}
        self.alive = True

    def __enter__(self) -> NotebookRunner:
        self._context = self.client.setup_kernel()
        try:
            self._context.__enter__()
        except Exception as error:  # nothing of the submission has run yet: the machinery's fault
            atexit.unregister(self.client._cleanup_kernel)  # nbclient's, for a kernel it has already cleaned up
            raise KernelStartFailed(f"the kernel did not become ready ({type(error).__name__}: {error})") from error
        if self.setup:
            try:
                self._run_setup()
            except KernelStartFailed:
                self.__exit__(None, None, None)
                raise
        return self

    def _run_setup(self) -> None:
        cell = nbformat.v4.new_code_cell(self.setup)
        self.notebook.cells.append(cell)  # nbclient keeps the cell it ran at its index: there, for this moment
        self._last_reply = {}
        try:
            self._execute(cell, len(self.notebook.cells) - 1, self.startup_timeout, store_history=False)
        except KernelLost as lost:
            raise KernelStartFailed(f"the kernel was lost while the grader prepared it ({lost})") from None
        finally:
            self.notebook.cells.pop()
        if self._last_reply.get("status") != "ok":
            why = f"{self._last_reply.get('ename', 'no reply')}: {self._last_reply.get('evalue', '')}"
            raise KernelStartFailed(f"the grader could not prepare the kernel ({why})")

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)
        # nbclient stops the client's channels only for a kernel manager it made itself: without this every
        # submission left a heartbeat thread with its event loop, ZMQ context and a dozen descriptors behind
        if self.client.kc is not None:
            self.client.kc.stop_channels()

    def _remember_reply(self, cell, cell_index, execute_reply) -> None:
        # the kernel's own reply: a student who hides a traceback cannot hide the error
        self._last_reply = execute_reply.get("content", {}) if execute_reply else {}

    def run_cell(self, cell: nbformat.NotebookNode, index: int, timeout: float) -> CellRun:
        """Run one code cell; afterwards `self.alive` says whether the kernel can take another."""
        self._last_reply = {}
        try:
            self._execute(cell, index, timeout)
        except KernelLost as lost:
            self.alive = False
            return CellRun(index, CellStatus.LOST, str(lost))
        reply = self._last_reply
        if reply.get("ename") == TIMEOUT_ENAME:
            self.alive = self._answers_again()
            if not self.alive:
                why = f"ran longer than {timeout:.0f} s and did not stop when interrupted (the kernel was lost)"
                return CellRun(index, CellStatus.TIMEOUT, why)
            return CellRun(index, CellStatus.TIMEOUT, f"ran longer than {timeout:.0f} s and was interrupted")
        if reply.get("status") == "error":
            raised = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"[:500]
            return CellRun(index, CellStatus.ERROR, raised, error_is_students=True)
        return CellRun(index, CellStatus.OK)

    def kill_kernel(self) -> None:
        """Kill the kernel's process now, from any thread: the cell it runs ends as lost (nbclient sees it dead)."""
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()

    def run_extra_cell(self, cell: nbformat.NotebookNode, timeout: float) -> CellRun:
        """Run a cell of the grader's own after the notebook (nbclient needs it inside the notebook)."""
        self.notebook.cells.append(cell)
        return self.run_cell(cell, len(self.notebook.cells) - 1, timeout)

    def _execute(self, cell: nbformat.NotebookNode, index: int, timeout: float, store_history: bool = True) -> None:
        # On timeout nbclient interrupts the kernel and hands back this error as the cell's reply;
        # letting nbclient do it (rather than catching CellTimeoutError) keeps its message pollers clean.
        self.client.timeout = max(1, int(timeout))
        self.client.error_on_timeout = {"ename": TIMEOUT_ENAME, "evalue": f"{timeout:.0f} s", "traceback": []}
        waits_for_output = self.client.iopub_timeout  # a timeout shortens it for its cell only
        try:
            self.client.execute_cell(cell, index, store_history=store_history)
        except DeadKernelError:
            raise KernelLost("the kernel died while running this cell") from None
        except Exception as error:  # jupyter_client could not parse a message: student code tampered with them
            raise KernelLost(
                f"the kernel sent messages the grader cannot read ({type(error).__name__}); "
                "was the kernel's json, zmq or jupyter machinery patched?"
            ) from None
        finally:
            self.client.iopub_timeout = waits_for_output

    def _answers_again(self) -> bool:
        """After an interrupt: does the kernel run a trivial cell? If not, it is lost."""
        probe = nbformat.v4.new_code_cell("pass")
        self.notebook.cells.append(probe)
        self._last_reply = {}
        waits_for_output, self.client.iopub_timeout = self.client.iopub_timeout, 1  # `pass` prints nothing
        try:
            self._execute(probe, len(self.notebook.cells) - 1, self.recovery_timeout)
        except KernelLost:
            return False
        finally:
            self.client.iopub_timeout = waits_for_output
        return self._last_reply.get("status") == "ok"


def first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def run_notebook(
    runner: NotebookRunner, notebook_timeout: float, skip: dict[int, str] | None = None, deadline: float = math.inf
) -> RunLog:
    """Run every code cell in order, within the per-cell and whole-notebook limits, and before `deadline` (a
    time.monotonic() value: the end of the whole submission's time).

    `skip`: cells (by index) left out, with the reason: they lost the kernel on an earlier run.
    """
    skip = skip or {}
    log = RunLog()
    started = time.monotonic()
    ends = min(started + notebook_timeout, deadline)
    out_of_time = (
        f"the notebook ran out of its {notebook_timeout:.0f} s"
        if started + notebook_timeout <= deadline
        else "the submission ran out of its time in all"
    )
    number = 0
    # the notebook's own cells: what the runner appends as it goes (its checks after an interrupt) is not one
    for index, cell in enumerate(list(runner.notebook.cells)):
        if cell.cell_type != "code":
            continue
        injected = "injected-parameters" in cell.get("metadata", {}).get("tags", [])
        number += 0 if injected else 1
        if not cell.source.strip() or is_selfcheck_cell(cell.source):
            continue
        if index in skip:
            log.cells.append(CellRun(number, CellStatus.SKIPPED, skip[index], index, first_line(cell.source)))
            continue
        remaining = ends - time.monotonic()
        if not runner.alive or remaining <= 0:
            if not log.stopped_because:
                log.stopped_because = "the kernel died or stopped answering" if not runner.alive else out_of_time
                log.stopped_by_time = runner.alive
            log.cells.append(CellRun(number, CellStatus.NOT_RUN, log.stopped_because, index))
            continue
        run = runner.run_cell(cell, index, min(runner.cell_timeout, remaining))
        run.number, run.index, run.first_line = number, index, first_line(cell.source)
        if not runner.alive and log.lost_at is None:
            log.lost_at = run
        if not injected:
            log.cells.append(run)
    log.output_truncated = runner.client.truncated
    return log
