"""Grade one submission: read it, run and harvest it in a sandboxed kernel, judge the outcomes.

Whatever the submission does, it ends with a result: a failure to read, run or harvest becomes zero for what
it cost, with the reason. Used by the class's pipeline (local workers), by a Dask worker (`cluster.py`) and
by Gradescope (one folder); it writes nothing of a class.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment import current_assignment, use_assignment
from grader.intake import Identity, Submission, one_folders_submission
from grader.intake.notebooks import UnreadableSubmission, read_notebook, upgrade_note
from grader.items import generate_cases
from grader.judge.evidence import Evidence
from grader.judge.rules import forbidden_uses, ignored_arguments_of
from grader.judge.score import handout_loop_needed, score_all
from grader.judge.sources import graded_sources, wrong_outputs
from grader.judge.written import extract_written_answers
from grader.result import Problem, SubmissionResult, SubmissionStatus
from grader.rubric import Rubric
from grader.run.execute import STARTUP_TIMEOUT, CellStatus, KernelStartFailed, NotebookRunner, RunLog, run_notebook
from grader.run.harvest import WATCH_SOURCE, harvest_outputs
from grader.run.kernel import kernel_environment, start_kernel, stop_kernel
from grader.run.sandbox import (
    Isolation,
    SandboxMode,
    SandboxPolicy,
    bounded_scratch,
    describe_isolation,
    forks_kernels,
)
from grader.run.zygote_client import ZygotesAhead, offer_ahead, warm_modules, zygote_environment
from grader.shared.catalogue import inject_parameters
from grader.shared.outcomes import CallOutcome, CallStatus
from grader.shared.verdicts import Trouble, code_span

# a kernel that fails to start is tried again after a pause (longer each time): a busy machine, not the student
START_ATTEMPTS = 3
START_PAUSE_SECONDS = 5


def make_workspace(parent: Path, notebook: nbformat.NotebookNode) -> Path:
    workspace = parent / "work"
    (workspace / "data").mkdir(parents=True)
    assignment = current_assignment()
    for relative in assignment.STUDENT_FILES:
        (workspace / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(assignment.template_dir / relative, workspace / relative)
    nbformat.write(notebook, workspace / "submission.ipynb")
    return workspace


# a cell's kind of trouble, as the class report counts it
CELL_TROUBLE = {
    CellStatus.ERROR: Trouble.RAISED,
    CellStatus.TIMEOUT: Trouble.TIMEOUT,
    CellStatus.LOST: Trouble.KERNEL_LOST,
    CellStatus.SKIPPED: Trouble.KERNEL_LOST,
}


def _describe_problems(log: RunLog) -> list[Problem]:
    problems = []
    for cell in log.failed_cells:
        if cell.status == CellStatus.NOT_RUN:
            continue
        where = f"code cell {cell.number}" + (f" ({code_span(cell.first_line)})" if cell.first_line else "")
        # a cell's error is the student's exception (their text), or our sentence about a timeout or a lost kernel
        error = code_span(cell.error) if cell.status == CellStatus.ERROR and cell.error_is_students else cell.error
        if cell.status == CellStatus.SKIPPED:
            text = f"{where} was skipped on a fresh kernel; on the first run: {error}"
        else:
            text = f"{where}: {error}"
        problems.append(Problem(text, CELL_TROUBLE[cell.status]))
    if log.stopped_because:
        stopped = Trouble.TIMEOUT if log.stopped_by_time else Trouble.KERNEL_LOST
        problems.append(Problem(f"cells after that were not run: {log.stopped_because}", stopped))
    if log.output_truncated:
        problems.append(
            Problem("the notebook printed too much; output past the limit was dropped (this costs no points)")
        )
    return problems


@dataclass
class Harvest:
    """What the kernels gave: the last run's log, every call's outcome, how many fresh kernels it took."""

    log: RunLog
    outcomes: dict[str, CallOutcome]
    kernels: int
    isolations: list[Isolation]  # how its kernels were confined, each kind once


def run_and_harvest(
    notebook: nbformat.NotebookNode,
    cases: dict,
    rubric: Rubric,
    policy: SandboxPolicy,
    deadline: float,
    loops_read: Callable[[str, dict[str, CallOutcome]], bool] | None = None,
) -> Harvest:
    """Run the notebook and harvest every item before `deadline`; a lost kernel costs only what it was running.

    When a cell loses the kernel, a fresh kernel runs the notebook again without it; when a graded call
    loses it, that item keeps its outcome and a fresh kernel (the notebook again) harvests the items
    after it. At most 1 + kernel_restarts kernels, and nothing started past `deadline` (a time.monotonic()
    value: the end of the rubric's submission_timeout). `loops_read(item, outcomes)`: whether an item's
    handout's-loop calls are read by its judge, so run (None: always).
    """
    skip: dict[int, str] = {}
    outcomes: dict[str, CallOutcome] = {}
    isolations: list[Isolation] = []
    pending = dict(cases)
    for attempt in range(1 + rubric.run.kernel_restarts):
        last_chance = attempt == rubric.run.kernel_restarts
        with ExitStack() as kernel:
            try:
                workspace, runner = start_with_retries(kernel, notebook, rubric, policy, deadline)
            except KernelStartFailed:
                if attempt == 0 or time.monotonic() < deadline:
                    raise
                break  # a fresh kernel for what a lost one left, but the submission's time ran out meanwhile
            if runner.manager.isolation not in isolations:
                isolations.append(runner.manager.isolation)
            log = run_notebook(runner, rubric.run.notebook_timeout, skip, deadline)
            if log.lost_at is not None and not last_chance and time.monotonic() < deadline:
                skip[log.lost_at.index] = log.lost_at.error
                continue
            folder = workspace / ".grader"
            read = None if loops_read is None else lambda item, now, before=outcomes: loops_read(item, before | now)
            found = harvest_outputs(runner, pending, folder, rubric.run.call_timeout, rubric.watched, deadline, read)
        outcomes |= found
        pending = {item: item_cases for item, item_cases in pending.items() if not _harvested(item_cases, found)}
        if not pending or time.monotonic() >= deadline:
            break
    lost = (
        CallOutcome(
            CallStatus.NOT_RUN,
            f"the submission used up its {rubric.run.submission_timeout:g} s in all before this could be graded",
        )
        if time.monotonic() >= deadline
        else CallOutcome(CallStatus.LOST, "the kernel was lost before this could be graded")
    )
    outcomes |= {call.key: lost for item_cases in pending.values() for case in item_cases for call in case.calls}
    return Harvest(log, outcomes, attempt + 1, isolations)


def start_with_retries(
    stack: ExitStack, notebook: nbformat.NotebookNode, rubric: Rubric, policy: SandboxPolicy, deadline: float
) -> tuple[Path, NotebookRunner]:
    """A ready kernel in a fresh scratch holding the submission's workspace, and its runner, both closed by `stack`.

    Starting a kernel is the grader's machinery, not the submission's (none of its code has run yet), so a
    start that fails is tried again after a pause, up to START_ATTEMPTS times and while `deadline` allows,
    before it costs anyone a point (KernelStartFailed: the grader's error, never a score).
    """
    for attempt in itertools.count(1):
        try:
            with ExitStack() as trial:
                scratch = trial.enter_context(bounded_scratch(policy))
                workspace = make_workspace(scratch, notebook)
                manager = start_kernel(workspace, policy)
                trial.callback(stop_kernel, manager)
                startup = min(STARTUP_TIMEOUT, deadline - time.monotonic())
                runner = trial.enter_context(
                    NotebookRunner(
                        manager, notebook, rubric.run.cell_timeout, rubric.run.recovery_timeout, startup, WATCH_SOURCE
                    )
                )
                stack.push(trial.pop_all())
                return workspace, runner
        except (KernelStartFailed, OSError) as failure:
            if attempt == START_ATTEMPTS or time.monotonic() + START_PAUSE_SECONDS * attempt >= deadline:
                raise KernelStartFailed(f"{failure} (tried {attempt} times)") from failure
            print(f"warning: {failure}; trying a fresh kernel in {START_PAUSE_SECONDS * attempt} s", file=sys.stderr)
            time.sleep(START_PAUSE_SECONDS * attempt)


def _harvested(item_cases: list, found: dict[str, CallOutcome]) -> bool:
    return all(call.key in found for case in item_cases for call in case.calls)


def grade_submission(submission: Submission, rubric: Rubric, sandbox: SandboxMode) -> SubmissionResult:
    """Read, run, harvest and score one notebook; never raises for anything the submission does."""
    started = time.monotonic()
    result = SubmissionResult(submission.identity, rubric)
    assignment = current_assignment()
    template = nbformat.read(assignment.notebook, as_version=4)
    notebook = read_submission(submission, rubric)
    if isinstance(notebook, SubmissionResult):
        notebook.execution_time = time.monotonic() - started
        return notebook

    cases = generate_cases(rubric.run.grading_epochs)
    prepared = inject_parameters(notebook, assignment.notebook_parameters(rubric))
    policy = SandboxPolicy.from_limits(rubric.limits, sandbox)
    breaches, ignored = forbidden_uses(notebook, rubric), ignored_arguments_of(notebook, rubric)

    def loops_read(item: str, outcomes: dict[str, CallOutcome]) -> bool:
        # the handout's loop over the notebook's functions costs as much as the training it stands beside: run
        # only where the training's judge reads it (a function it composes fails), as the self-check does
        return handout_loop_needed(item, cases, outcomes, rubric, breaches, ignored)

    deadline = started + rubric.run.submission_timeout
    harvest = run_and_harvest(prepared, cases, rubric, policy, deadline, loops_read)
    result.isolation = " ".join(describe_isolation(isolation, policy) for isolation in harvest.isolations)
    result.problems = ([Problem(note)] if (note := upgrade_note(notebook)) else []) + _describe_problems(harvest.log)
    if harvest.kernels > 1:
        result.problems.append(
            Problem(
                f"the kernel was lost, so the notebook was run on {harvest.kernels} kernels in all to grade what it "
                "could",
                Trouble.KERNEL_LOST,
            )
        )
    result.tests = score_all(cases, harvest.outcomes, rubric, breaches, ignored)
    result.evidence = Evidence(harvest.outcomes, breaches, ignored)
    result.plots = assignment.plot_data(cases, harvest.outcomes)
    result.written = extract_written_answers(notebook, template)
    result.code = graded_sources(notebook)
    result.wrong_outputs = wrong_outputs(cases, harvest.outcomes, result.tests)
    result.execution_time = time.monotonic() - started
    return result


def read_submission(submission: Submission, rubric: Rubric) -> nbformat.NotebookNode | SubmissionResult:
    """The submission's notebook, or its zero result with the reason when it holds none that can run."""
    try:
        if submission.path is None:
            raise UnreadableSubmission(submission.note)
        return read_notebook(submission.path)
    except UnreadableSubmission as error:
        return zero_result(submission, rubric, SubmissionStatus.UNREADABLE, f"Could not grade: {error}.")


def zero_result(submission: Submission, rubric: Rubric, status: SubmissionStatus, reason: str) -> SubmissionResult:
    """Every automatic test at zero with `reason`: for a submission that could not be run at all."""
    cases = generate_cases(rubric.run.grading_epochs)
    outcomes = {
        call.key: CallOutcome(CallStatus.NOT_RUN, reason.rstrip("."))
        for item_cases in cases.values()
        for case in item_cases
        for call in case.calls
    }
    trouble = Trouble.UNREADABLE if status == SubmissionStatus.UNREADABLE else Trouble.GRADER_ERROR
    result = SubmissionResult(submission.identity, rubric, status=status, problems=[Problem(reason, trouble)])
    result.tests = score_all(cases, outcomes, rubric, {})
    result.evidence = Evidence(outcomes, {})
    return result


def zygotes_ahead(count: int, rubric: Rubric, sandbox: SandboxMode) -> contextlib.AbstractContextManager:
    """`count` zygotes started now for the workers about to start (their folder, for `start_worker`), where kernels
    are forked; else nothing (None). Their seconds of imports overlap the workers' own start, not follow it."""
    if count == 0 or not forks_kernels(SandboxPolicy.from_limits(rubric.limits, sandbox)):
        return contextlib.nullcontext()
    return ZygotesAhead(count, zygote_environment(kernel_environment(Path("/"), "/tmp")), warm_modules())


def start_worker(assignment_root: Path, zygotes: Path | None) -> None:
    """A grading worker's start: the assignment is the command's, and the zygotes started ahead are on offer."""
    use_assignment(assignment_root)
    offer_ahead(zygotes)


def grade_in_this_process(submission: Submission, rubric: Rubric, sandbox: SandboxMode) -> SubmissionResult:
    """Grade one submission here (a local worker, a Dask worker, Gradescope); a grader bug becomes its result."""
    try:
        return grade_submission(submission, rubric, sandbox).cleaned()
    except Exception as error:
        traceback.print_exc()  # for the instructor's terminal; the student sees only the line below
        reason = f"The grader failed on this submission ({type(error).__name__}: {error}); ask the staff."
        return zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)


def grade_one_folder(folder: Path, rubric: Rubric, sandbox: SandboxMode) -> SubmissionResult:
    """Grade the one submission in `folder` (Gradescope's `submission/`), whatever its notebook is called.

    In this process, without a class store: one submission, one kernel. A script or an archive is read
    as in a class's export.
    """
    identity = Identity("submission", source=str(folder))
    with tempfile.TemporaryDirectory(prefix="grader-intake-") as scratch:
        assignment = current_assignment()
        functions = tuple(assignment.graded_functions.values())
        submission = one_folders_submission(folder, identity, Path(scratch), assignment.notebook.stem, functions)
        result = grade_in_this_process(submission, rubric, sandbox)
    result.note = submission.note
    return result
