"""What a submission's kernel can see and do, probed from inside a real sandboxed kernel."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.rubric import load_rubric
from grader.run.sandbox import (
    SLOT_UID_BASE,
    SandboxMode,
    SandboxPolicy,
    bubblewrap_works,
    job_slot,
    private_mounts,
)

from ..helpers import ROOT, kernel_users_left, seen_from_one_cell

pytestmark = [
    pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap cannot run here (CI installs it)"),
    pytest.mark.usefixtures("as_logreg_module"),
]

PROBE = """
import errno, json, os, resource, signal, socket, subprocess, sys, time
seen = {
    "uid": os.getuid(),
    "env": sorted(os.environ),
    "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
    "visible": {p: os.path.exists(p) for p in PATHS},
    "repository": sorted(os.listdir(REPOSITORY)) if os.path.isdir(REPOSITORY) else [],
    "writable_parent": os.access("..", os.W_OK),
    "writable_dev_shm": os.access("/dev/shm", os.W_OK),
    "history": get_ipython().history_manager.enabled,
}
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    seen["network"] = "connected"
except OSError as error:
    seen["network"] = type(error).__name__

def allocates(gib):
    try:
        block = bytearray(int(gib * 1024**3))
        del block
        return True
    except MemoryError:
        return False
seen["allocates"] = {str(gib): allocates(gib) for gib in ALLOCATE_GIB}

def writes_one_file(mib):
    try:
        with open("one_file", "wb") as f:
            f.write(b"x" * int(mib * 1024**2))
        return True
    except OSError as error:
        return errno.errorcode[error.errno]
    finally:
        os.remove("one_file")
seen["one_file"] = {str(mib): writes_one_file(mib) for mib in FILE_MIB}

# fill every place the kernel may write, 1 MiB a file, until the space runs out
written, why = 0, "never ran out"
try:
    for n in range(10_000):
        with open(f"{'/tmp' if n % 2 else '.'}/fill{n}", "wb") as f:
            f.write(b"x" * 1024**2)
        written += 1
except OSError as error:
    why = errno.errorcode[error.errno]
seen["filled_mib"], seen["filled_stopped_by"] = written, why
for n in range(written + 1):
    for folder in (".", "/tmp"):
        if os.path.exists(f"{folder}/fill{n}"):
            os.remove(f"{folder}/fill{n}")

children, why = [], "never refused"
try:
    for _ in range(10_000):
        children.append(subprocess.Popen(["sleep", "60"]))
except OSError as error:
    why = errno.errorcode[error.errno]
seen["processes_started"], seen["processes_stopped_by"] = len(children), why
for child in children:
    child.kill()
    child.wait()

def children_cpu():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime

before = children_cpu()
spin = subprocess.run([sys.executable, "-c", "while True: pass"], timeout=600)
seen["spin_signal"], seen["spin_cpu_seconds"] = -spin.returncode, children_cpu() - before

# a daemon that leaves the kernel's process group: the sweep after the kernel must still end it
subprocess.Popen(["setsid", "sleep", "1000"], start_new_session=True)
with open("seen.json", "w") as f:
    json.dump(seen, f)
"""

# Limits unlike the rubric's own, each small enough to reach in a second or two: every one must hold as set.
LIMITS = dataclasses.replace(
    load_rubric().limits, memory_gib=2.0, processes=40, file_mib=8.0, disk_mib=32.0, cpu_seconds=5
)


@pytest.fixture(scope="module", params=["forked", "fresh"])
def seen_from_inside(request, tmp_path_factory):
    """Run the probe in a sandboxed kernel (the limits above) while a TCP server listens on the loopback.

    Both kinds of kernel: forked and confined by the zygote (where the grader is root), and started afresh
    under bubblewrap (everywhere else).
    """
    from grader.run import kernel

    if request.param == "forked" and not kernel.forks_kernels(SandboxPolicy.from_limits(LIMITS, SandboxMode.REQUIRED)):
        pytest.skip("kernels are forked only where the grader is root")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "fresh":
            patch.setattr(kernel, "forks_kernels", lambda policy: False)
        yield _probe_from_inside(tmp_path_factory)


def _probe_from_inside(tmp_path_factory) -> tuple[dict, bool]:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    out_folder = tmp_path_factory.mktemp("grades")
    paths = [str(ROOT / "secret"), str(ROOT / "reference"), str(ROOT / "grader"), str(out_folder)]
    setup = (
        f"PATHS = {paths!r}\nPORT = {port}\nREPOSITORY = {str(ROOT)!r}\n"
        f"ALLOCATE_GIB = (0.25, {LIMITS.memory_gib + 0.5})\nFILE_MIB = ({LIMITS.file_mib - 2}, {LIMITS.file_mib + 1})\n"
    )
    os.environ["MESSMASTER_GRADER_ONLY"] = "1"  # must not leak into the kernel
    try:
        seen = seen_from_one_cell(setup + PROBE, SandboxPolicy.from_limits(LIMITS, SandboxMode.REQUIRED), 120)
    finally:
        del os.environ["MESSMASTER_GRADER_ONLY"]
    try:
        server.accept()
        connected = True
    except OSError:
        connected = False
    server.close()
    return seen, connected


@pytest.mark.slow
def test_repository_grader_and_output_folder_are_invisible(seen_from_inside):
    seen, _ = seen_from_inside
    assert seen["visible"] and not any(seen["visible"].values()), seen["visible"]
    # of the repository only the Python environment is there (when it lives inside it)
    assert set(seen["repository"]) <= {".venv"}


@pytest.mark.slow
def test_no_network_to_the_grader_machine(seen_from_inside):
    seen, connected = seen_from_inside
    assert seen["network"] != "connected" and not connected


@pytest.mark.slow
def test_every_configured_limit_holds(seen_from_inside):
    seen, _ = seen_from_inside
    assert seen["nproc"] == LIMITS.processes
    assert seen["address_space"] == LIMITS.memory_gib * 1024**3
    assert seen["fsize"] == LIMITS.file_mib * 1024**2
    # memory: a small block fits, one past the limit (and far below the rubric's own 6 GiB) does not
    assert seen["allocates"] == {"0.25": True, str(LIMITS.memory_gib + 0.5): False}
    # file size: one file just under the limit is written, one just over is refused
    assert seen["one_file"] == {str(LIMITS.file_mib - 2): True, str(LIMITS.file_mib + 1): "EFBIG"}
    # processes: the kernel's own threads count too, so fewer than the limit start, and then no more
    assert 5 < seen["processes_started"] < LIMITS.processes and seen["processes_stopped_by"] == "EAGAIN"
    # CPU time: a spinning child is stopped by SIGXCPU once it has used its seconds (CPU seconds, however long
    # a busy machine makes them take)
    assert seen["spin_signal"] in (signal.SIGXCPU, signal.SIGKILL)
    assert LIMITS.cpu_seconds - 1 < seen["spin_cpu_seconds"] < LIMITS.cpu_seconds + 2


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the grader bounds writable space and switches users as root")
def test_workspace_and_tmp_share_one_bounded_space_and_a_user_of_the_slots_own(seen_from_inside):
    seen, _ = seen_from_inside
    assert private_mounts()
    # the workspace and /tmp together, 1 MiB at a time: the space runs out at the configured size
    assert seen["filled_stopped_by"] == "ENOSPC"
    assert LIMITS.disk_mib - 4 <= seen["filled_mib"] <= LIMITS.disk_mib
    assert seen["writable_dev_shm"] is False
    assert seen["uid"] == SLOT_UID_BASE + job_slot()
    # the daemon that left the kernel's process group was swept with the kernel
    assert kernel_users_left() == []


def test_concurrent_graders_hold_distinct_job_slots():
    # each other grader holds its slot until told to end (its stdin closes), however slowly it started
    hold = "from grader.run.sandbox import job_slot; import sys; print(job_slot(), flush=True); sys.stdin.read()"
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    others = [subprocess.Popen([sys.executable, "-c", hold], text=True, cwd=ROOT, **pipes) for _ in range(2)]
    in_others = [int(process.stdout.readline()) for process in others]
    both_hold = threading.Barrier(2)  # a Dask worker may grade in several threads: each holds its own slot
    with ThreadPoolExecutor(max_workers=2) as threads:
        in_threads = set(threads.map(lambda _: (job_slot(), both_hold.wait())[0], range(2)))
    slots = {job_slot(), *in_threads, *in_others}
    for process in others:
        process.stdin.close()
        process.wait()
    assert len(slots) == 5


@pytest.mark.parametrize(
    "chosen,slots",
    [("", range(1000)), ("3-5", range(3, 6)), (" 7 ", range(7, 8)), ("5-2", None), ("x", None), ("0-1000", None)],
)
def test_a_grader_takes_only_the_job_slots_it_is_given(monkeypatch, chosen, slots):
    from grader.errors import GraderError
    from grader.run.sandbox import SLOTS_VARIABLE, job_slots

    monkeypatch.setenv(SLOTS_VARIABLE, chosen)
    if slots is None:
        with pytest.raises(GraderError, match="expected FIRST-LAST"):
            job_slots()
    else:
        assert job_slots() == slots
    if chosen == "3-5":  # the first free one of them, in a thread that holds none yet
        with ThreadPoolExecutor(max_workers=1) as thread:
            assert thread.submit(job_slot).result() in range(3, 6)


def test_a_kernel_keeps_no_ipython_history_of_its_own(seen_from_inside):
    """IPython's history in SQLite, written by a thread after every cell, was 40 ms of a submission's CPU that
    nothing read; both kinds of kernel run without it."""
    seen, _ = seen_from_inside
    assert seen["history"] is False


@pytest.mark.slow
def test_environment_is_scrubbed_and_parent_folder_read_only(seen_from_inside):
    seen, _ = seen_from_inside
    assert "MESSMASTER_GRADER_ONLY" not in seen["env"]
    # of the grader's own variables only the harmless ones pass; the kernel's own settings
    # (kernel_environment) and ipykernel's few may share a name with the grader's
    from pathlib import Path

    from grader.run.kernel import kernel_environment

    ours = set(kernel_environment(Path("/workspace"), "/tmp"))
    leaked = set(seen["env"]) & set(os.environ) - ours
    assert leaked <= {"PATH", "LANG", "LC_ALL", "TZ", "PWD", "TERM", "FORCE_COLOR", "CLICOLOR_FORCE"}
    assert seen["writable_parent"] is False


def test_required_sandbox_is_refused_when_bubblewrap_is_missing(monkeypatch, rubric):
    from grader.run import sandbox

    monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)
    with pytest.raises(sandbox.SandboxUnavailable, match="required"):
        sandbox.use_bubblewrap(SandboxPolicy.from_limits(rubric.limits, SandboxMode.REQUIRED))
    assert sandbox.use_bubblewrap(SandboxPolicy.from_limits(rubric.limits, SandboxMode.AUTO)) is False


def test_the_kernels_limits_are_the_rubrics(rubric):
    from grader.run.sandbox import limits_prefix

    prefix = " ".join(limits_prefix(SandboxPolicy.from_limits(rubric.limits, SandboxMode.OFF)))
    assert f"--nproc={rubric.limits.processes}" in prefix and f"--cpu={rubric.limits.cpu_seconds}" in prefix
    assert f"--as={int(rubric.limits.memory_gib * 1024**3)}" in prefix


def test_where_namespaces_cannot_be_made_kernels_are_started_afresh(monkeypatch, rubric):
    """A container may let root mount but refuse a pid or network namespace: then no kernel is forked (each
    would fail to confine itself), and the results say which isolation the kernels really had."""
    from grader.run import sandbox

    policy = SandboxPolicy.from_limits(rubric.limits, SandboxMode.AUTO)
    monkeypatch.setattr(sandbox, "namespaces_work", lambda: False)
    assert not sandbox.forks_kernels(policy)
    assert sandbox.planned_isolation(policy) != sandbox.Isolation.FORKED
