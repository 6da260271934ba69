"""The execution logic of `run/execute.py` without a kernel, in milliseconds: how a cell's reply, a timeout, an
interrupt that works or not, a dead kernel and a garbled message become a cell's status; how the notebook's
and the submission's time bounds, skipped cells and a lost kernel shape the run log. A scripted client stands
in for nbclient's (the real kernels are tested in test_notebooks_run.py and test_end_to_end.py)."""

from __future__ import annotations

import nbformat
import pytest
from nbclient.exceptions import DeadKernelError

from grader.run import execute
from grader.run.execute import CellStatus, NotebookRunner, run_notebook


class ScriptedClient:
    """Answers each executed cell from a script: a reply's content, or an exception to raise."""

    def __init__(self, script: dict[str, object]) -> None:
        self.script = script  # a cell's source -> its reply content, or an exception
        self.executed: list[str] = []
        self.iopub_timeout = 4
        self.timeout = None
        self.error_on_timeout = None
        self.on_cell_executed = None
        self.truncated = False  # CappedClient's: nothing printed here

    def execute_cell(self, cell, index, store_history=True):
        self.executed.append(cell.source if store_history else f"(out of history) {cell.source}")
        answer = self.script.get(cell.source, {"status": "ok"})
        if isinstance(answer, BaseException):
            raise answer
        if answer == "timeout":
            answer = {"status": "error", **self.error_on_timeout}
        self.on_cell_executed(cell, index, {"content": answer})


def runner_for(sources: list[str], script: dict[str, object], cell_timeout: float = 5) -> NotebookRunner:
    """A NotebookRunner around a scripted client: no kernel, no manager."""
    runner = NotebookRunner.__new__(NotebookRunner)
    runner.notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    runner.cell_timeout, runner.recovery_timeout = cell_timeout, 1
    runner.client = ScriptedClient(script)
    runner.client.on_cell_executed = runner._remember_reply
    runner._last_reply, runner.alive = {}, True
    return runner


def run_one(script: dict[str, object]) -> tuple[NotebookRunner, execute.CellRun]:
    runner = runner_for(["work()"], script)
    return runner, runner.run_cell(runner.notebook.cells[0], 0, 5)


def test_a_cell_that_raises_is_the_students_error_and_the_kernel_goes_on():
    runner, run = run_one({"work()": {"status": "error", "ename": "ValueError", "evalue": "bad"}})
    assert (run.status, run.error, run.error_is_students, runner.alive) == (
        CellStatus.ERROR,
        "ValueError: bad",
        True,
        True,
    )


def test_a_timeout_interrupted_in_time_costs_the_cell_only():
    runner, run = run_one({"work()": "timeout"})
    assert run.status == CellStatus.TIMEOUT and "was interrupted" in run.error and runner.alive
    assert runner.client.executed == ["work()", "pass"]  # the kernel was asked to run a trivial cell after
    assert runner.client.iopub_timeout == 4  # and its output wait put back


@pytest.mark.parametrize("probe", [DeadKernelError("gone"), "timeout", {"status": "error", "ename": "E"}])
def test_a_timeout_that_no_interrupt_stops_loses_the_kernel(probe):
    runner, run = run_one({"work()": "timeout", "pass": probe})
    assert run.status == CellStatus.TIMEOUT and "did not stop when interrupted" in run.error and not runner.alive


def test_a_kernel_that_dies_in_a_cell_is_lost_and_says_so():
    runner, run = run_one({"work()": DeadKernelError("gone")})
    assert (run.status, run.error, runner.alive) == (CellStatus.LOST, "the kernel died while running this cell", False)


def test_a_message_the_grader_cannot_read_loses_the_kernel_with_the_likely_cause():
    runner, run = run_one({"work()": ValueError("not JSON")})
    assert not runner.alive and "cannot read (ValueError)" in run.error and "patched" in run.error


class Clock:
    """time.monotonic() that moves only when a cell runs: each takes `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 100.0, step

    def monotonic(self) -> float:
        return self.now


def timed(runner: NotebookRunner, clock: Clock) -> NotebookRunner:
    run_cell = runner.run_cell

    def advancing(cell, index, timeout):
        clock.now += clock.step
        return run_cell(cell, index, timeout)

    runner.run_cell = advancing
    return runner


@pytest.mark.parametrize(
    "notebook_timeout,deadline,says",
    [(25, 10_000, "the notebook ran out of its 25 s"), (1_000, 125, "the submission ran out of its time in all")],
)
def test_cells_past_the_notebooks_or_the_submissions_time_are_not_run(monkeypatch, notebook_timeout, deadline, says):
    clock = Clock(step=10)
    monkeypatch.setattr(execute, "time", clock)
    runner = timed(runner_for([f"cell{i}" for i in range(5)], {}), clock)
    log = run_notebook(runner, notebook_timeout, deadline=deadline)
    assert [c.status for c in log.cells] == [CellStatus.OK] * 3 + [CellStatus.NOT_RUN] * 2
    assert log.stopped_because == says and log.stopped_by_time and runner.client.executed == ["cell0", "cell1", "cell2"]


def test_a_skipped_cell_and_a_lost_kernel_shape_the_log(monkeypatch):
    monkeypatch.setattr(execute, "time", Clock(step=0))
    sources = ["EPOCHS = 3", "a = 1", "lose()", "b = 2"]
    runner = runner_for(sources, {"lose()": DeadKernelError("gone")})
    runner.notebook.cells[0].metadata["tags"] = ["injected-parameters"]  # the grader's: not numbered, not logged
    log = run_notebook(runner, 100, skip={1: "it lost the kernel on the first run"})
    assert [(c.number, c.status) for c in log.cells] == [
        (1, CellStatus.SKIPPED),
        (2, CellStatus.LOST),
        (3, CellStatus.NOT_RUN),
    ]
    assert log.lost_at.index == 2 and log.stopped_because == "the kernel died or stopped answering"
    assert not log.stopped_by_time
    assert runner.client.executed == ["EPOCHS = 3", "lose()"]


def test_the_graders_setup_runs_before_the_notebook_out_of_its_history_and_a_failure_is_the_graders():
    runner = runner_for(["work()"], {"watch()": {"status": "error", "ename": "OSError", "evalue": "no"}})
    runner.setup, runner.startup_timeout = "install()", 5
    runner._run_setup()
    assert runner.client.executed == ["(out of history) install()"] and len(runner.notebook.cells) == 1
    runner.setup = "watch()"
    with pytest.raises(execute.KernelStartFailed, match="could not prepare the kernel .OSError: no."):
        runner._run_setup()
    assert len(runner.notebook.cells) == 1  # the notebook as it was


@pytest.mark.parametrize(
    "source,passed_over",
    [
        ('from selfcheck import check\n\ncheck("loss_fn")  # one function\ncheck()  # all seven', True),
        ("import selfcheck\nselfcheck.check()", True),
        ("from selfcheck import check; check()", True),  # as the issue and the students' guide write it
        ("from selfcheck import check\nW1 = 3", False),  # it does something else too
        ("check()", False),  # a function of the student's own, perhaps
    ],
)
def test_the_self_check_cell_of_the_students_readme_is_passed_over(source, passed_over):
    runner = runner_for(["x = 1", source], {})
    log = run_notebook(runner, 60)
    assert (source in runner.client.executed) is not passed_over
    assert all(cell.status == CellStatus.OK for cell in log.cells)


# ---- the watch over the probe's calls ---------------------------------------------------------------------------


def test_a_call_still_running_past_its_allowance_has_its_kernel_killed(tmp_path):
    """The probe marks each call as it starts; one that outlives its alarm is not waited for to the cell's end."""
    import threading

    from grader.run.harvest import CallWatch

    progress = tmp_path / "outputs.progress"
    progress.write_text("forward.random\ntrain_manual.small\n")
    killed = threading.Event()
    with CallWatch(progress, 0.2, killed.set) as watch:
        assert killed.wait(60)
    assert watch.stalled == "train_manual.small"


def test_no_kernel_is_killed_once_the_probe_says_it_is_done_or_where_it_says_nothing(tmp_path):
    import threading

    from grader.run.harvest import CallWatch

    killed = threading.Event()
    (tmp_path / "done.progress").write_text("train_manual.small\ndone\n")
    for name in ("done.progress", "never_written.progress"):
        with CallWatch(tmp_path / name, 0.1, killed.set) as watch:
            killed.wait(1.0)  # ten allowances: had it fired, it would have by now (a busy machine only delays it)
        assert not killed.is_set() and watch.stalled == ""


def test_a_progress_file_replaced_by_a_fifo_or_a_link_neither_blocks_nor_misleads_the_watch(tmp_path):
    """Student code can reach the probe's folder: whatever it puts in the file's place, the watch still ends."""
    import os
    import threading

    from grader.run.harvest import CallWatch

    os.mkfifo(tmp_path / "fifo.progress")  # no writer: opening it for reading would wait for ever
    (tmp_path / "elsewhere").write_text("train_manual.small\n")
    (tmp_path / "link.progress").symlink_to(tmp_path / "elsewhere")
    killed, finished = threading.Event(), threading.Event()

    def watch_both() -> None:
        for name in ("fifo.progress", "link.progress"):
            with CallWatch(tmp_path / name, 0.1, killed.set):
                killed.wait(1.0)  # ten allowances: long enough to have read the file many times
        finished.set()

    threading.Thread(target=watch_both, daemon=True).start()
    assert finished.wait(60) and not killed.is_set()


def test_after_an_interrupt_the_wait_for_the_cells_last_outputs_is_short_and_for_that_cell_only():
    """A cell that ignored its interrupt cost the whole iopub wait (4 s) before the runner's own check."""
    import asyncio

    interrupted = []

    class Manager:
        async def interrupt_kernel(self) -> None:
            interrupted.append(True)

    client = execute.CappedClient(nbformat.v4.new_notebook(), km=Manager(), iopub_timeout=4, interrupt_on_timeout=True)
    client.error_on_timeout = {"ename": execute.TIMEOUT_ENAME, "evalue": "3 s", "traceback": []}
    reply = asyncio.run(client._async_handle_timeout(3))
    assert interrupted and reply["content"]["ename"] == execute.TIMEOUT_ENAME
    assert client.iopub_timeout == execute.AFTER_INTERRUPT_SECONDS
    # the runner puts the usual wait back for the next cell
    runner = runner_for(["work()"], {"work()": "timeout"})
    answer = runner.client.execute_cell

    def shortening(cell, index, store_history=True):
        runner.client.iopub_timeout = execute.AFTER_INTERRUPT_SECONDS  # as CappedClient does on a timeout
        answer(cell, index, store_history)

    runner.client.execute_cell = shortening
    runner.run_cell(runner.notebook.cells[0], 0, 5)
    assert runner.client.iopub_timeout == 4


def test_the_grader_s_cells_hand_their_code_to_python_in_one_string(tmp_path):
    """The watch and the probe are hundreds of lines: sent as a cell of them, IPython read each (its input
    transformers, a compile per statement: 35 ms a cell, seven cells a kernel); sent as one string, Python
    compiles it whole and IPython reads three lines. Each carries only the functions it runs: IPython still hashes
    and tokenizes the whole text (the watch's 17 KB and the probe's 28 KB cost 50 ms a kernel when each carried
    both)."""
    import ast

    from grader.run.harvest import PROBE_SOURCE, WATCH_INSTALL_SOURCE, WATCH_SOURCE, probe_cell

    probe = probe_cell(tmp_path / "calls.json", tmp_path / "inputs.npz", tmp_path / "outputs", 10).source
    defined = {}
    for cell, code in ((WATCH_SOURCE, WATCH_INSTALL_SOURCE), (probe, PROBE_SOURCE)):
        assert len(cell.splitlines()) < 10
        compiled = ast.parse(cell).body[0].value.args[0]  # exec(compile(CODE, NAME, "exec"))
        assert compiled.func.id == "compile" and compiled.args[0].value.startswith(code)
        defined[cell] = {node.name for node in ast.parse(compiled.args[0].value).body if hasattr(node, "name")}
    assert defined[WATCH_SOURCE] == {"_grader_watch", "_grader_install_watch", "_grader_collect_less_often"}
    assert {"_grader_recording", "_grader_probe", "_grader_call_all"} <= defined[probe]
    assert not defined[probe] & defined[WATCH_SOURCE]


@pytest.mark.parametrize("torch_kind", ["this", "older than torch.accelerator"])
def test_the_probe_seeds_each_call_as_torch_manual_seed_without_a_traceback_of_the_stack(
    tmp_path, monkeypatch, torch_kind
):
    """torch.manual_seed queues a seed for every accelerator torch was built for, each with a traceback of the whole
    stack (a kernel's is deep: 20 ms of its calls); where none is present the probe seeds the CPU's generator alone,
    and a call draws the very numbers it drew before. A torch without torch.accelerator (a student's own, running
    the self-check) is seeded by torch.manual_seed, as before."""
    import traceback

    import torch

    if torch_kind != "this":
        monkeypatch.delattr(torch, "accelerator")

    from grader.shared.outcomes import Call, Case
    from tools.in_process import outcomes_in_process

    formatted = []
    real_format_stack = traceback.format_stack
    monkeypatch.setattr(traceback, "format_stack", lambda *a, **k: formatted.append(1) or real_format_stack(*a, **k))
    cases = {"draw": [Case("draw", "a", [Call("draw.a", "draw", (), {}, 1234)], {})]}
    drawn = outcomes_in_process({"draw": lambda: torch.rand(3)}, cases, tmp_path, {})["draw.a"].leaf("").value
    cpu_only = torch_kind == "this" and not torch.accelerator.is_available()
    assert (formatted == []) == cpu_only  # torch.manual_seed formats the stack for each accelerator it queues for
    torch.manual_seed(1234)
    assert drawn.tolist() == torch.rand(3).tolist()


# ---- the handout's loop beside a training: run only where it is read ---------------------------------------------


def _training_with_loop():
    from grader.shared.outcomes import Call, Case

    own = Call("train.a", "train", (), {}, 1)
    loop = Call("train.a.handout_loop", "train", (), {}, 1, handout_loop=True)
    return {"train": [Case("train", "a", [own, loop], {})]}


@pytest.mark.parametrize("situation", ["unread", "read", "cut_short", "out_of_time"])
def test_a_trainings_loop_runs_in_a_cell_of_its_own_only_where_it_is_read(monkeypatch, situation):
    """The loop costs as much as the training it stands beside: after the training's own calls, it runs only where
    `loops_read` says its judge reads it; a cell cut short charges it as the calls after it were; with no time left
    the training's own outcomes are kept and only the loop is not run."""
    from types import SimpleNamespace

    from grader.run import harvest
    from grader.shared.outcomes import LOOP_NOT_READ, CallOutcome, CallStatus

    now = {"t": 0.0}
    probed: list[list[str]] = []

    def probe(runner, item, cases, folder, call_timeout, watch, deadline):
        keys = [call.key for case in cases for call in case.calls]
        probed.append(keys)
        if situation == "out_of_time":
            now["t"] = deadline  # the training's own calls took what was left
        cut = CallOutcome(CallStatus.TIMEOUT, "the call did not finish in time") if situation == "cut_short" else None
        return {key: cut or CallOutcome(CallStatus.OK) for key in keys}, cut

    monkeypatch.setattr(harvest, "_probe_calls", probe)
    monkeypatch.setattr(harvest, "time", SimpleNamespace(monotonic=lambda: now["t"]))
    asked: list[tuple[str, list[str]]] = []

    def loops_read(item, outcomes):
        asked.append((item, sorted(outcomes)))
        return situation != "unread"

    found = harvest.harvest_outputs(
        SimpleNamespace(alive=True), _training_with_loop(), None, 10, {}, deadline=60, loops_read=loops_read
    )
    loop = found["train.a.handout_loop"]
    assert probed[0] == ["train.a"]  # the training's own calls first, alone
    if situation == "unread":
        assert (loop.status, loop.reason) == (CallStatus.NOT_RUN, LOOP_NOT_READ) and len(probed) == 1
        assert asked == [("train", ["train.a"])]  # asked once the training's own outcome was in
    elif situation == "read":
        assert probed[1:] == [["train.a.handout_loop"]] and loop.status == CallStatus.OK
    elif situation == "cut_short":
        assert loop.status == CallStatus.TIMEOUT and len(probed) == 1
    else:
        assert found["train.a"].status == CallStatus.OK and loop.status == CallStatus.NOT_RUN and len(probed) == 1
