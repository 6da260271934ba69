"""Grading on a Dask distributed cluster: one task per submission, plain data there and back.

Imported only for `--cluster`: a local run needs no scheduler and never imports Dask.
A task carries the notebook's bytes, the rubric as JSON and the assignment's
folder (which every worker must see at the same path); the worker
writes the notebook into a scratch folder and grades it exactly as a local
worker does (its own kernel, sandbox and limits), then returns the result as
plain JSON-like data, which this process checks before it stores anything.
A task lost with its worker is run again on another; a submission that keeps
killing workers ends as a grader error with the reason. Only the process that
ran the command writes the class store.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, WorkerPlugin, as_completed
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from grader.assignment import current_assignment, use_assignment
from grader.errors import GraderError
from grader.grading import grade_in_this_process, zero_result
from grader.intake import Identity, Submission
from grader.result import Problem, SubmissionResult, SubmissionStatus
from grader.rubric import Rubric, rubric_as_json, rubric_from_json
from grader.run.sandbox import SandboxMode, SandboxUnavailable, sandbox_works
from grader.shared.verdicts import TestResult, Trouble

CONNECT_TIMEOUT = "5s"  # a scheduler that does not answer by then is reported, not waited for


class ClusterUnavailable(GraderError):
    """The scheduler does not answer, or its workers cannot grade; the message says which."""


class SandboxCheck(WorkerPlugin):
    """Refuse a worker (and so the run, at start) whose sandbox cannot run under `--sandbox required`."""

    name = "grader-sandbox-check"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def setup(self, worker: object) -> None:
        if self.mode == SandboxMode.REQUIRED and not sandbox_works():
            address = getattr(worker, "address", "a worker")
            raise SandboxUnavailable(f"{address}: --sandbox=required, but bubblewrap cannot run there")


@contextmanager
def open_cluster(address: str, sandbox: SandboxMode) -> Iterator[Client]:
    """A client of the scheduler at `address` whose every worker can sandbox; ClusterUnavailable otherwise."""
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise ClusterUnavailable(f"the Dask scheduler at {address} does not answer ({error})") from None
    try:
        try:
            client.register_plugin(SandboxCheck(str(sandbox)))
        except SandboxUnavailable as error:
            raise ClusterUnavailable(str(error)) from None
        yield client
    finally:
        client.close()


def grade_task(notebook: bytes | None, name: str, rubric: str, assignment: str, sandbox: str, note: str) -> dict:
    """Run on a worker: grade one notebook from its bytes, for the assignment in folder `assignment` under the
    rubric `rubric` (JSON: its item options are the assignment's, loaded here first); the result as plain data."""
    use_assignment(assignment)

    with tempfile.TemporaryDirectory(prefix="grader-task-") as scratch:
        path = None
        if notebook is not None:
            path = Path(scratch) / name
            path.write_bytes(notebook)
        submission = Submission(Identity("task"), path, note)
        result = grade_in_this_process(submission, rubric_from_json(rubric), SandboxMode(sandbox))
    return result_to_data(result)


def result_to_data(result: SubmissionResult) -> dict:
    return {
        "tests": [dataclasses.asdict(t) for t in result.tests],
        "written": dict(result.written),
        "status": str(result.status),
        "problems": [[problem.text, str(problem.trouble)] for problem in result.problems],
        "execution_time": float(result.execution_time),
        "plots": result.plots,
        "isolation": result.isolation,
        "code": result.code,
        "wrong_outputs": result.wrong_outputs,
    }


def result_from_data(data: object, submission: Submission, rubric: Rubric) -> SubmissionResult:
    """The worker's answer as a result, checked field by field (it crossed a network); ValueError if malformed."""
    if not isinstance(data, dict):
        raise ValueError("the worker's answer is not a mapping")
    data = json.loads(json.dumps(data))  # plain JSON values only, whatever the wire carried
    tests = []
    for entry in data["tests"]:
        texts = {key: entry[key] for key in ("item", "name", "called", "problem", "mistake", "trouble")}
        if not all(isinstance(text, str) for text in texts.values()):
            raise ValueError("a test's name or message is not text")
        texts["trouble"] = Trouble(texts["trouble"])
        tests.append(TestResult(score=float(entry["score"]), max_score=float(entry["max_score"]), **texts))
    written = data["written"]
    if not isinstance(written, dict) or not all(isinstance(v, str) for v in written.values()):
        raise ValueError("the written answers are not text")
    if not isinstance(data["problems"], list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in data["problems"]
    ):
        raise ValueError("the problems are not text")
    problems = [Problem(text, Trouble(trouble)) for text, trouble in data["problems"]]
    plots = data.get("plots", {})
    if not isinstance(plots, dict):
        raise ValueError("the plot data is not a mapping")
    isolation = data.get("isolation", "")
    if not isinstance(isolation, str):
        raise ValueError("the isolation is not text")
    code, wrong = data.get("code", {}), data.get("wrong_outputs", {})
    for what, mapping in (("code", code), ("wrong outputs", wrong)):
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValueError(f"the {what} is not text")
    return SubmissionResult(
        submission.identity,
        rubric,
        tests=tests,
        written=written,
        status=SubmissionStatus(data["status"]),
        problems=problems,
        execution_time=float(data["execution_time"]),
        note=submission.note,
        plots=plots,
        isolation=isolation,
        code=code,
        wrong_outputs=wrong,
    )


def grade_on_cluster(
    client: Client, submissions: list[Submission], rubric: Rubric, sandbox: SandboxMode
) -> Iterator[tuple[Submission, SubmissionResult]]:
    """Each submission's result as the cluster finishes it; every submission ends with a result."""
    futures = {}
    rubric_text, assignment = rubric_as_json(rubric), str(current_assignment().root)
    for submission in submissions:
        notebook = submission.path.read_bytes() if submission.path is not None else None
        name = submission.path.name if submission.path is not None else "none.ipynb"
        future = client.submit(
            grade_task, notebook, name, rubric_text, assignment, str(sandbox), submission.note, pure=False, retries=1
        )
        futures[future] = submission
    try:
        for future in as_completed(futures):
            submission = futures[future]
            try:
                result = result_from_data(future.result(), submission, rubric)
            except KilledWorker:
                reason = "Grading this submission killed Dask workers again and again; it was not tried again."
                result = zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)
            except (FutureCancelledError, ValueError, KeyError, TypeError) as error:
                reason = (
                    f"The cluster could not grade this submission ({type(error).__name__}: {error}); ask the staff."
                )
                result = zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)
            except Exception as error:  # the task raised on the worker: a grader bug there
                reason = f"The grader failed on a worker ({type(error).__name__}: {error}); ask the staff."
                result = zero_result(submission, rubric, SubmissionStatus.GRADER_ERROR, reason)
            yield submission, result
    finally:
        client.cancel(list(futures))
