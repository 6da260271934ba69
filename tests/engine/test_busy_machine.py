"""A busy, throttled or locked-down machine costs no student a point: the grader's own faults are retried.

Kernels start on a CPU held to a fraction of a core; a kernel start, a grading worker or a store write that
fails is tried again before anything is recorded; the sandbox check tries what grading runs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from grader import grading, pipeline
from grader.intake import Identity, Submission
from grader.result import SubmissionStatus
from grader.run.execute import CellStatus, KernelStartFailed
from grader.run.sandbox import Isolation, SandboxMode, SandboxPolicy, bubblewrap_works, forks_kernels
from grader.store import ClassStore

from ..helpers import (
    BAD_FILES,
    CAN_DROP_CAP_SYS_ADMIN,
    ROOT,
    WITHOUT_CAP_SYS_ADMIN,
    descendants,
    is_kernel,
    kernel_users_left,
    minimal_notebook,
    seen_from_one_cell,
    throttled,
)


@pytest.mark.usefixtures("as_logreg")
@pytest.mark.parametrize("mode", [SandboxMode.OFF, SandboxMode.REQUIRED])
def test_kernels_start_on_a_cpu_held_to_a_quarter_of_a_core(logreg_rubric, mode):
    """Readiness once matched each kernel_info reply to the latest request only: a kernel slower than the
    client's patience answered every request one too late, until "Kernel didn't respond in 60 seconds"."""
    policy = SandboxPolicy.from_limits(logreg_rubric.limits, mode)
    if mode == SandboxMode.REQUIRED and not (forks_kernels(policy) or bubblewrap_works()):
        pytest.skip("no sandbox runs here")
    seen_from_one_cell("open('seen.json', 'w').write('{}')", policy)  # a fork server's imports are not what is tested
    with throttled(share=0.25) as held:
        for attempt in range(2):
            assert seen_from_one_cell(f"import json; json.dump({attempt}, open('seen.json', 'w'))", policy) == attempt
    assert held["kernels_held"] >= 2  # the kernels really ran held


def test_a_kernel_whose_first_idle_went_unheard_is_asked_again_at_once(monkeypatch, tmp_path):
    """ZeroMQ's late joiner: the client's iopub subscription often takes after the kernel has announced the idle
    of the first kernel_info, and seven kernels in ten then waited a second of silence to be asked again. A
    stand-in kernel that never announces the first idle: ready long before the (raised) silence runs out."""
    import zmq
    from jupyter_client.session import Session
    from jupyter_core.utils import run_sync

    from grader.run import kernel

    monkeypatch.setattr(kernel, "ASK_AGAIN_SECONDS", 600)
    key = b"stand-in"
    session = Session(key=key)
    context = zmq.Context()
    shell, iopub = context.socket(zmq.ROUTER), context.socket(zmq.PUB)
    ports = {"shell_port": shell.bind_to_random_port("tcp://127.0.0.1")}
    ports["iopub_port"] = iopub.bind_to_random_port("tcp://127.0.0.1")
    asked: list[str] = []
    stop = threading.Event()
    reply = {"status": "ok", "protocol_version": "5.3"}

    def stand_in() -> None:
        while not stop.is_set():
            if not shell.poll(50):
                continue
            identities, message = session.feed_identities(shell.recv_multipart())
            request = session.deserialize(message)
            asked.append(request["header"]["msg_id"])
            session.send(shell, "kernel_info_reply", reply, parent=request, ident=identities)
            if len(asked) > 1:  # the first one's idle is the one a late subscription misses
                session.send(iopub, "status", {"execution_state": "idle"}, parent=request)

    server = threading.Thread(target=stand_in)
    server.start()
    client = kernel.ReadyKernelClient(ip="127.0.0.1", session=Session(key=key), **ports)
    client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
    try:
        run_sync(client.wait_for_ready)(timeout=60)
    finally:
        client.stop_channels()
        stop.set()
        server.join()
        context.destroy(linger=0)
    assert len(asked) >= 2


def _failing_then(real, failures: int, calls: list):
    def start(workspace, policy):
        calls.append(workspace)
        if len(calls) <= failures:
            raise KernelStartFailed("the kernel could not be started (a busy machine, in a test)")
        return real(workspace, policy)

    return start


@pytest.mark.usefixtures("as_logreg")
def test_a_kernel_that_does_not_start_is_tried_again_before_anything_is_recorded(
    monkeypatch, logreg_solved, logreg_rubric, tmp_path, capsys
):
    calls: list = []
    monkeypatch.setattr(grading, "start_kernel", _failing_then(grading.start_kernel, 1, calls))
    monkeypatch.setattr(grading, "START_PAUSE_SECONDS", 0)
    path = tmp_path / "ada.ipynb"
    nbformat.write(minimal_notebook(logreg_solved), path)
    result = grading.grade_in_this_process(Submission(Identity("ada"), path), logreg_rubric, SandboxMode.AUTO)
    assert len(calls) == 2 and "trying a fresh kernel" in capsys.readouterr().err
    assert result.status == SubmissionStatus.GRADED and result.score == logreg_rubric.automatic_total
    assert result.isolation.startswith("Isolation: ")


def test_a_kernel_that_never_starts_is_tried_a_bounded_number_of_times(monkeypatch, solved, test_rubric):
    calls: list = []
    monkeypatch.setattr(grading, "start_kernel", _failing_then(None, 99, calls))
    monkeypatch.setattr(grading, "START_PAUSE_SECONDS", 0)
    policy = SandboxPolicy.from_limits(test_rubric.limits, SandboxMode.AUTO)
    with pytest.raises(KernelStartFailed, match=f"tried {grading.START_ATTEMPTS} times"), grading.ExitStack() as s:
        grading.start_with_retries(s, minimal_notebook(solved), test_rubric, policy, math.inf)
    assert len(calls) == grading.START_ATTEMPTS


def _workers() -> list[int]:
    """The grading workers: children of multiprocessing's fork server, itself a child of this process (a
    worker, forked from it, shows the same command line)."""
    servers = [p for p in descendants(os.getpid()) if _parent(p) == os.getpid() and b"forkserver" in _cmdline(p)]
    return [p for server in servers for p in descendants(server) if _parent(p) == server]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


@pytest.mark.usefixtures("as_logreg")
def test_a_worker_killed_while_grading_costs_its_student_nothing(logreg_solved, logreg_rubric, tmp_path, capsys):
    """Killed once (say, by the machine's out-of-memory killer) while its kernel runs: the submission is graded
    again by a fresh worker, and the others in the pool are graded as if nothing happened."""
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(minimal_notebook(logreg_solved, "import time\ntime.sleep(1)"), folder / "ada.ipynb")
    killed: list[int] = []
    done = threading.Event()

    def kill_the_worker_once_its_kernel_runs() -> None:
        while not done.is_set() and not killed:
            # one worker (jobs=1); its kernel is forked by a zygote the command started, not by the worker
            running = _workers() if any(is_kernel(p) for p in descendants(os.getpid())) else []
            if running:
                os.kill(running[0], 9)
                killed.append(running[0])
            done.wait(0.05)

    killer = threading.Thread(target=kill_the_worker_once_its_kernel_runs)
    killer.start()
    try:
        run = pipeline.grade_class([folder], tmp_path / "out", logreg_rubric, jobs=1)
    finally:
        done.set()
        killer.join()
    assert killed, "the worker was never seen running a kernel"
    assert "a grading worker died" in capsys.readouterr().err
    (result,) = run.results
    assert result.status == SubmissionStatus.GRADED and result.score == logreg_rubric.automatic_total
    if os.geteuid() == 0:  # the killed worker's kernel ended with it (its zygote read the end of its socket)
        assert kernel_users_left() == []


def test_a_store_write_that_fails_is_tried_again_and_one_that_keeps_failing_costs_one_student(
    monkeypatch, test_rubric, tmp_path, capsys
):
    """Submissions that need no kernel (files that are not notebooks), so only the store's part is tested."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ada", "bob", "cy"):
        (folder / f"{name}.ipynb").write_text(next(iter(BAD_FILES.values())))
    record, reuse = ClassStore.record, ClassStore.reuse
    failures = {"ada": 1, "bob": 99}

    def fails(submission) -> bool:
        student = submission.identity.student
        if failures.get(student, 0) > 0:
            failures[student] -= 1
            return True
        return False

    def flaky_record(self, run_id, submission, content, versions, result, reused_from=None):
        if result.status != SubmissionStatus.GRADER_ERROR and fails(submission):
            raise sqlite3.OperationalError("disk I/O error")
        return record(self, run_id, submission, content, versions, result, reused_from)

    def flaky_reuse(self, run_id, submission, content, versions, grading_id):  # the same file as another's
        if fails(submission):
            raise sqlite3.OperationalError("disk I/O error")
        return reuse(self, run_id, submission, content, versions, grading_id)

    monkeypatch.setattr(ClassStore, "record", flaky_record)
    monkeypatch.setattr(ClassStore, "reuse", flaky_reuse)
    monkeypatch.setattr(pipeline, "STORE_PAUSE_SECONDS", 0)
    run = pipeline.grade_class([folder], tmp_path / "out", test_rubric)
    results = {r.identity.student: r for r in run.results}
    assert {student: r.status for student, r in results.items()} == {
        "ada": "unreadable",
        "bob": "grader_error",
        "cy": "unreadable",
    }
    assert "could not record this result (OperationalError: disk I/O error)" in results["bob"].problems[0].text
    assert "could not be written (disk I/O error); trying again" in capsys.readouterr().err
    gradebook = (tmp_path / "out" / "gradebook.csv").read_text()
    assert all(name in gradebook for name in ("ada", "bob", "cy"))  # the class's views were written all the same


# ---- a machine that refuses what a kernel's sandbox needs -----------------------------------------------------


@pytest.mark.skipif(not CAN_DROP_CAP_SYS_ADMIN, reason="only root can run without CAP_SYS_ADMIN")
def test_the_sandbox_check_tries_the_command_a_kernel_starts_with():
    """Root without CAP_SYS_ADMIN (rootless podman, Docker with seccomp unconfined) may make namespaces inside a
    user namespace, which a lighter trial did, but not the ones a kernel gets: every kernel then failed."""
    check = (
        "from grader.run import sandbox\n"
        "policy = sandbox.SandboxPolicy.from_limits(__import__('grader.rubric').rubric.load_rubric().limits, 'auto')\n"
        "print(sandbox.bubblewrap_works(), sandbox.sandbox_works(), sandbox.planned_isolation(policy))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seen = subprocess.run(
        [*WITHOUT_CAP_SYS_ADMIN, sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=300
    )
    assert seen.stdout.split() == ["False", "False", Isolation.OWN_USER], seen.stderr
    if bubblewrap_works():  # and where the machine allows it, the same check passes
        here = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=300)
        assert here.stdout.split()[0] == "True", here.stderr


def test_run_autograder_writes_results_even_without_a_python(tmp_path):
    """Gradescope shows a student only "failed to execute" when there is no results.json."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "mkdir", "rm", "mktemp", "grep", "tail", "cat", "chmod", "id", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool))
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    shutil.copy(ROOT / "integrations" / "gradescope" / "run_autograder", root / "source")
    env = {"PATH": str(tools), "AUTOGRADER_ROOT": str(root)}
    run = subprocess.run(
        [str(tools / "bash"), str(root / "source" / "run_autograder")], env=env, capture_output=True, timeout=60
    )
    assert run.returncode != 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == [] and "could not grade" in results["output"]


# ---- one submission's time in all, which Gradescope's timeout bounds --------------------------------------------


class _RunnerThatMustNotRun:
    """Stands in for a kernel's runner where nothing may run: past the deadline, no cell is sent."""

    alive = True
    cell_timeout = 120

    def __init__(self, notebook: nbformat.NotebookNode) -> None:
        self.notebook = notebook
        self.client = type("Client", (), {"truncated": False})()

    def run_cell(self, *args) -> None:
        raise AssertionError("a cell was run past the submission's deadline")

    run_extra_cell = run_cell


def test_past_the_submissions_deadline_no_cell_and_no_graded_call_runs(solved, cases):
    from grader.run.execute import CellStatus, run_notebook
    from grader.run.harvest import harvest_outputs

    runner = _RunnerThatMustNotRun(minimal_notebook(solved))
    log = run_notebook(runner, notebook_timeout=300, deadline=time.monotonic() - 1)  # type: ignore[arg-type]
    assert log.cells and {cell.status for cell in log.cells} == {CellStatus.NOT_RUN}
    assert log.stopped_because == "the submission ran out of its time in all"
    harvested = harvest_outputs(runner, cases, Path("/nonexistent"), 60, {}, deadline=time.monotonic() - 1)  # type: ignore[arg-type]
    assert harvested == {}


def test_the_notebooks_own_limit_is_named_when_it_ends_first(solved):
    from grader.run.execute import run_notebook

    runner = _RunnerThatMustNotRun(minimal_notebook(solved))
    log = run_notebook(runner, notebook_timeout=0.0, deadline=time.monotonic() + 3600)  # type: ignore[arg-type]
    assert log.stopped_because == "the notebook ran out of its 0 s"


def test_a_fresh_kernel_that_the_deadline_cuts_off_is_no_grader_error(monkeypatch, test_rubric, cases):
    """The student's kernel was lost near the end of their time; the fresh kernel for the rest could not start
    before the deadline: what is left is out of time (the student's), not the grader's failure."""
    from types import SimpleNamespace

    from grader.run.execute import CellRun, RunLog

    now = {"t": 0.0}
    clock = SimpleNamespace(monotonic=lambda: now["t"], sleep=lambda seconds: None)
    runner = SimpleNamespace(manager=SimpleNamespace(isolation=Isolation.LIMITS_ONLY))
    starts: list[int] = []

    def start(stack, notebook, rubric, policy, deadline):
        starts.append(1)
        if len(starts) > 1:
            now["t"] = deadline + 1  # the start took the rest of the submission's time
            raise KernelStartFailed("the kernel did not become ready")
        return Path("/nonexistent"), runner

    lost = CellRun(1, CellStatus.LOST, "the kernel died while running this cell", 0)
    monkeypatch.setattr(grading, "time", clock)
    monkeypatch.setattr(grading, "start_with_retries", start)
    monkeypatch.setattr(grading, "run_notebook", lambda *args: RunLog(cells=[lost], lost_at=lost))
    policy = SandboxPolicy.from_limits(test_rubric.limits, SandboxMode.AUTO)
    harvest = grading.run_and_harvest(nbformat.v4.new_notebook(), cases, test_rubric, policy, deadline=10.0)
    assert len(starts) == 2 and harvest.outcomes
    assert all("used up its" in outcome.reason for outcome in harvest.outcomes.values())
