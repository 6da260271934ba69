"""Grade one submission, or a batch with independent workers: read -> run -> harvest -> score -> report.

Every submission ends with a result and its files, whatever it did: a failure
to read, run or harvest becomes zero for what it cost, with the reason.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from tqdm import tqdm

from grader.cases import ROOT, generate_cases
from grader.intake import Submission, UnreadableSubmission, find_submissions, read_notebook
from grader.judge.rules import forbidden_uses
from grader.judge.score import score_all
from grader.judge.written import extract_written_answers
from grader.result import SubmissionResult, SubmissionStatus
from grader.rubric import Rubric
from grader.run.execute import CellStatus, NotebookRunner, RunLog, run_notebook
from grader.run.harvest import CallOutcome, CallStatus, harvest_outputs
from grader.run.kernel import start_kernel, stop_kernel
from grader.run.sandbox import SandboxMode, SandboxPolicy
from grader.shared_with_selfcheck import inject_parameters
from grader.views.write import write_gradebook, write_submission_reports

TEMPLATE_DIR = ROOT / "student_template"
TEMPLATE_NOTEBOOK = TEMPLATE_DIR / "messmaster_part2.ipynb"
# what a submission's folder holds besides the notebook: only what students have too
STUDENT_FILES = ("util.py", "data/xor_pattern.csv")


def make_workspace(parent: Path, notebook: nbformat.NotebookNode) -> Path:
    workspace = parent / "work"
    (workspace / "data").mkdir(parents=True)
    for relative in STUDENT_FILES:
        shutil.copy(TEMPLATE_DIR / relative, workspace / relative)
    nbformat.write(notebook, workspace / "submission.ipynb")
    return workspace


def _describe_problems(log: RunLog) -> list[str]:
    problems = []
    for cell in log.failed_cells:
        if cell.status == CellStatus.NOT_RUN:
            continue
        problems.append(f"code cell {cell.number}: {cell.error}")
    if log.stopped_because:
        problems.append(f"cells after that were not run: {log.stopped_because}")
    if log.output_truncated:
        problems.append("the notebook printed too much; output past the limit was dropped (this costs no points)")
    return problems


def grade_submission(submission: Submission, rubric: Rubric, sandbox: SandboxMode) -> SubmissionResult:
    """Read, run, harvest and score one notebook; never raises for anything the submission does."""
    started = time.monotonic()
    result = SubmissionResult(submission.name, rubric)
    template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    try:
        notebook = read_notebook(submission.path)
    except UnreadableSubmission as error:
        result = zero_result(submission, rubric, SubmissionStatus.UNREADABLE, f"Could not grade: {error}.")
        result.execution_time = time.monotonic() - started
        return result

    cases = generate_cases(rubric.run.grading_epochs)
    prepared = inject_parameters(notebook, {"EPOCHS": rubric.run.grading_epochs})
    with tempfile.TemporaryDirectory(prefix="messmaster-") as scratch:
        workspace = make_workspace(Path(scratch), notebook)
        manager = start_kernel(workspace, SandboxPolicy.from_limits(rubric.limits, sandbox))
        try:
            with NotebookRunner(manager, prepared, rubric.run.cell_timeout) as runner:
                log = run_notebook(runner, rubric.run.notebook_timeout)
                outcomes = harvest_outputs(runner, cases, workspace / ".grader", rubric.run.call_timeout)
        finally:
            stop_kernel(manager)
    result.problems = _describe_problems(log)
    result.tests = score_all(cases, outcomes, rubric, forbidden_uses(notebook, rubric))
    result.written = extract_written_answers(notebook, template)
    result.execution_time = time.monotonic() - started
    return result


def zero_result(submission: Submission, rubric: Rubric, status: SubmissionStatus, reason: str) -> SubmissionResult:
    """Every automatic test at zero with `reason`: for a submission that could not be run at all."""
    cases = generate_cases(rubric.run.grading_epochs)
    outcomes = {
        call.key: CallOutcome(CallStatus.NOT_RUN, reason.rstrip("."))
        for item_cases in cases.values()
        for case in item_cases
        for call in case.calls
    }
    result = SubmissionResult(submission.name, rubric, status=status, problems=[reason])
    result.tests = score_all(cases, outcomes, rubric, {})
    return result


def _grade_safely(submission: Submission, rubric: Rubric, sandbox: SandboxMode) -> SubmissionResult:
    """A grader bug on one submission is reported on that submission, and the batch goes on."""
    try:
        return grade_submission(submission, rubric, sandbox)
    except Exception as error:
        traceback.print_exc()  # for the instructor's terminal; the student sees only the line below
        reason = f"The grader failed on this submission ({type(error).__name__}: {error}); ask the staff."
        return zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)


def grade_batch(
    paths: list[Path], out: Path, rubric: Rubric, jobs: int = 1, sandbox: SandboxMode = SandboxMode.AUTO
) -> list[SubmissionResult]:
    """Grade every notebook under `paths` into `out`; results are in the order of the submissions."""
    submissions = find_submissions(paths)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, SubmissionResult] = {}
    progress = tqdm(total=len(submissions), unit="notebook", disable=not sys.stderr.isatty())
    # spawn, not fork: a forked child of a process that already ran torch deadlocks in its thread pool
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_grade_safely, s, rubric, sandbox): s for s in submissions}
        for future in as_completed(futures):
            submission = futures[future]
            try:
                result = future.result()
            except Exception as error:  # the worker process itself died
                reason = f"The grader's worker died on this submission ({error}); ask the staff."
                result = zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)
            write_submission_reports(result, out)
            results[submission.name] = result
            progress.update()
            progress.set_postfix_str(f"{submission.name}: {result.score:g}")
    progress.close()
    ordered = [results[s.name] for s in submissions]
    write_gradebook(ordered, out)
    return ordered
