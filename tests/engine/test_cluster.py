"""Grading on a Dask cluster: a LocalCluster (processes, loopback) grades as a local run does, and loses nothing.

The notebooks are the small assignment's, minimal ones (a kernel start each); one cluster serves every test, with
the scheduler told that a task may be lost with its worker once (`allowed-failures = 1`).
"""

from __future__ import annotations

import json
import os
import signal
import threading

import nbformat
import pytest

from grader import cli
from grader.pipeline import grade_class
from grader.result import SubmissionStatus
from grader.run.sandbox import SandboxMode, bubblewrap_works

from ..helpers import BAD_FILES, LOGREG_TEMPLATE_SCORE, descendants, is_kernel, minimal_notebook

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("as_logreg")]
SANDBOX = SandboxMode.REQUIRED if bubblewrap_works() else SandboxMode.AUTO


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local:
            with Client(local.scheduler_address) as client:
                yield local, client


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory, logreg_solved, logreg_template):
    """Three submissions of the engine's batch, byte for byte: the local run to compare with is already done."""
    folder = tmp_path_factory.mktemp("cluster-class")
    nbformat.write(minimal_notebook(logreg_solved), folder / "alice.ipynb")
    nbformat.write(minimal_notebook(logreg_template), folder / "bob.ipynb")
    (folder / "not_json.ipynb").write_text(BAD_FILES["not_json"])
    return folder


def results_of(out, student):
    report = json.loads((out / student / "results.json").read_text())
    return report["score"], [(t["name"], t["score"], t["output"]) for t in report["tests"]]


def test_a_cluster_grades_as_a_local_run_does(cluster, class_folder, engine_class, logreg_rubric, tmp_path):
    _, client = cluster
    _, local, _ = engine_class
    remote = grade_class([class_folder], tmp_path / "remote", logreg_rubric, sandbox=SANDBOX, cluster=client)
    assert [r.identity.student for r in remote.results] == ["alice", "bob", "not_json"]
    for student in ("alice", "bob", "not_json"):
        assert results_of(tmp_path / "remote", student) == results_of(local, student)
    assert results_of(tmp_path / "remote", "alice")[0] == logreg_rubric.automatic_total
    again = grade_class([class_folder], tmp_path / "remote", logreg_rubric, sandbox=SANDBOX, cluster=client)
    assert again.reused == 3, "an unchanged class is not sent to the cluster again"


class WorkerKiller:
    """In the background, `times` times: SIGKILL a worker once the kernel of the task it runs is up, then wait
    until the scheduler has let that worker go. `killed` holds the pids killed: proof that a task was lost."""

    def __init__(self, client, times: int) -> None:
        self.client, self.times = client, times
        self.killed: list[int] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._kill, daemon=True)
        self.thread.start()

    def _kill(self) -> None:
        while len(self.killed) < self.times and not self.done.is_set():
            busy = [worker for worker, tasks in self.client.processing().items() if tasks]
            pid = self.client.run(os.getpid, workers=busy[:1]).get(busy[0]) if busy else None
            if pid is not None and any(is_kernel(p) for p in descendants(pid)):
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
                while busy[0] in self.client.processing() and not self.done.is_set():
                    self.done.wait(0.1)
            self.done.wait(0.1)

    def stop(self) -> list[int]:
        self.done.set()
        self.thread.join()
        return self.killed


def test_a_worker_killed_in_the_middle_of_the_batch_loses_nothing(cluster, class_folder, logreg_rubric, tmp_path):
    _, client = cluster
    killer = WorkerKiller(client, times=1)
    run = grade_class([class_folder], tmp_path / "out", logreg_rubric, sandbox=SANDBOX, cluster=client, force=True)
    assert len(killer.stop()) == 1, "no worker was killed while its task ran"
    scores = {r.identity.student: r.score for r in run.results}
    assert scores == {"alice": logreg_rubric.automatic_total, "bob": LOGREG_TEMPLATE_SCORE, "not_json": 0}
    assert all(r.status != SubmissionStatus.GRADER_ERROR for r in run.results)


def test_a_submission_that_kills_workers_twice_ends_with_a_clear_reason(
    cluster, logreg_solved, logreg_rubric, tmp_path
):
    _, client = cluster
    nbformat.write(minimal_notebook(logreg_solved, "import time\ntime.sleep(30)"), tmp_path / "slow.ipynb")
    killer = WorkerKiller(client, times=2)
    (result,) = grade_class(
        [tmp_path / "slow.ipynb"], tmp_path / "out", logreg_rubric, sandbox=SANDBOX, cluster=client
    ).results
    assert len(killer.stop()) == 2
    assert result.status == SubmissionStatus.GRADER_ERROR and result.score == 0
    assert "killed Dask workers" in result.problems[0].text


def test_a_scheduler_that_does_not_answer_is_an_error_at_start(tmp_path, capsys, monkeypatch):
    from grader import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")  # what is tested is the refusal, not the wait
    code = cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--cluster", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "does not answer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_local_run_does_not_import_dask():
    import subprocess
    import sys

    from ..helpers import ROOT

    probe = "import sys\nfrom grader import cli, pipeline\nprint('distributed' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(
    "answer",
    [
        "not a mapping",
        {
            "tests": [["loss.random", 1, 1, {"not": "text"}]],
            "written": {},
            "status": "graded",
            "problems": [],
            "execution_time": 1,
        },
        {"tests": [], "written": {"q9": 3}, "status": "graded", "problems": [], "execution_time": 1},
        {"tests": [], "written": {}, "status": "perfect", "problems": [], "execution_time": 1},
        {"tests": [], "written": {}, "status": "graded", "problems": "none", "execution_time": 1},
    ],
)
def test_a_malformed_answer_from_a_worker_is_refused(answer, logreg_rubric):
    from grader.cluster import result_from_data
    from grader.intake import Identity, Submission

    with pytest.raises((ValueError, KeyError, TypeError)):
        result_from_data(answer, Submission(Identity("ada"), None), logreg_rubric)
