"""Kernels forked from the warm parent: warm, apart from each other, and never started unconfined."""

from __future__ import annotations

import os
import select
import shutil
import signal
import tempfile

import pytest

from grader.rubric import load_rubric
from grader.run import zygote_client
from grader.run.harvest import WATCH_SOURCE
from grader.run.kernel import fork_request
from grader.run.sandbox import SandboxMode, SandboxPolicy, forks_kernels

from ..helpers import kernel_users_left, seen_from_one_cell

POLICY = SandboxPolicy.from_limits(load_rubric().limits, SandboxMode.REQUIRED)

pytestmark = [
    pytest.mark.skipif(not forks_kernels(POLICY), reason="kernels are forked only where the grader is root"),
    pytest.mark.usefixtures("as_logreg_module"),
]

LOOK = """
import json, sys, numpy
ours = sorted(name for name in sys.modules if name.split(".")[0] in ("grader", "reference", "tests", "assignment"))
names = sys.modules["torch.overrides"]._get_overridable_functions.cache_info().currsize  # before any call fills it
json.dump({"draw": numpy.random.rand(), "warm": "torch" in sys.modules, "ours": ours,
           "path": sys.path, "torch_names": names}, open("seen.json", "w"))
"""


def look_inside(source: str = LOOK) -> dict:
    """What one forked kernel sees (by default: of its modules and its random state), as its cell wrote it."""
    return seen_from_one_cell(source, POLICY)


def test_forked_kernels_start_warm_with_nothing_of_ours_and_their_own_random_state():
    first, second = look_inside(), look_inside()
    assert first["warm"] and second["warm"]  # the course's packages came from the parent, imported
    # the recording's table of torch's functions by name, built by the zygote (35 ms of every kernel's first watch)
    assert first["torch_names"] == 1
    assert first["ours"] == [] and second["ours"] == []
    assert not [entry for entry in first["path"] if "grader" in entry]
    assert first["draw"] != second["draw"]  # numpy's global state is drawn afresh, as in a fresh kernel


COLLECTOR = """
import gc, json, torch
json.dump({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects()), "threshold": gc.get_threshold()},
          open("seen.json", "w"))
"""


def test_a_forked_kernel_collects_none_of_what_its_zygote_imported_and_collects_less_often():
    """torch's hundreds of thousands of objects are frozen in the zygote: a kernel's full collection walked them all
    (0.24 s each, and a write to every shared page, so a copy of each) and now walks only the kernel's own. The
    grader's first cell has the kernel collect young objects every 10,000 allocations, not 700 (a notebook's
    imports set off no full collection then)."""
    seen = seen_from_one_cell(COLLECTOR, POLICY, setup=WATCH_SOURCE)
    assert seen["frozen"] > 100_000  # what the zygote's imports made, torch's among them
    assert seen["tracked"] < seen["frozen"] / 2  # the kernel's own, ipykernel's start and this cell's
    assert seen["threshold"] == [10_000, 10, 10]
    assert look_inside(COLLECTOR)["threshold"] == [700, 10, 10]  # Python's own, without the grader's first cell


def test_a_kernel_that_cannot_be_confined_never_starts(tmp_path):
    workspace = tmp_path / "work"
    (tmp_path / "ipc").mkdir()
    workspace.mkdir()
    (tmp_path / "ipc" / "connection.json").write_text("{}")
    request = fork_request(
        workspace, tmp_path / "ipc", tmp_path / "tmp", str(tmp_path / "ipc" / "connection.json"), POLICY
    )
    request["root"] = str(tmp_path / "no such folder")  # the new root cannot be mounted
    with pytest.raises(zygote_client.KernelNotConfined, match="could not confine the kernel: .*mount"):
        zygote_client.fork_kernel(request)
    assert kernel_users_left() == []


def test_a_dead_zygote_is_replaced_at_the_next_kernel():
    look_inside()  # the zygote is up
    zygote = zygote_client._zygote
    assert zygote is not None
    os.kill(zygote.process.pid, signal.SIGKILL)
    zygote.process.wait()
    assert look_inside()["warm"]
    assert zygote_client._zygote is not zygote and zygote_client._zygote.process.poll() is None


def test_kernel_after_kernel_a_worker_keeps_no_descriptor_or_thread_behind():
    """A class of 300 is 150 kernels a worker: each left a heartbeat thread and a dozen descriptors once."""
    import threading

    look_inside()  # the zygote and every lazily made thing are there now
    descriptors, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
    for _ in range(3):
        look_inside()
    # a leak is a dozen descriptors and a thread per kernel: three kernels leave fewer than one kernel's worth
    # (not an exact count, which a thread still winding down on a busy machine would break)
    assert len(os.listdir("/proc/self/fd")) - descriptors < 6
    assert threading.active_count() - threads < 2


def test_read_only_folders_under_tmp_stay_visible_over_the_kernels_own_tmp(monkeypatch):
    """A checkout (and its .venv) under /tmp, as CI's clean clone: the kernel's /tmp must not hide it."""
    import tempfile
    from pathlib import Path

    from grader.run import kernel

    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)
        (Path(folder) / "marker.txt").write_text("seen")
        (Path(folder) / "marker.txt").chmod(0o644)
        paths = kernel.read_only_paths() + [folder]
        monkeypatch.setattr(kernel, "read_only_paths", lambda: paths)
        seen = look_inside(
            "import json, os\n"
            f"json.dump({{'marker': open({folder + '/marker.txt'!r}).read(), 'tmp': os.access('/tmp', os.W_OK)}}, "
            "open('seen.json', 'w'))"
        )
    assert seen == {"marker": "seen", "tmp": True}


def test_a_forked_kernel_holds_none_of_the_zygotes_descriptors():
    """With the zygote's socket a submission could ask for kernels of its own; with its stdout, write to the
    instructor's terminal: the kernel's init closes every descriptor it inherited."""
    look_inside()  # the zygote is up
    zygote = zygote_client._zygote
    folder = f"/proc/{zygote.process.pid}/fd"
    theirs = {os.readlink(f"{folder}/{fd}") for fd in os.listdir(folder)}
    seen = look_inside(
        "import json, os\n"
        "links = []\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        links.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
        "    except OSError:\n"
        "        pass  # the listing's own descriptor, closed meanwhile\n"
        "json.dump({'links': [link for link in links if link.startswith(('socket:', 'pipe:', 'anon_inode:'))]}, "
        "open('seen.json', 'w'))"
    )
    shared = set(seen["links"]) & {link for link in theirs if link.startswith(("socket:", "pipe:"))}
    assert seen["links"] and not shared, shared


def test_where_the_fork_server_cannot_confine_kernels_they_start_afresh_and_say_so(monkeypatch, tmp_path):
    """A machine that refuses a step of the zygote's confinement refuses it for every kernel: the worker
    starts kernels afresh from then on (under bubblewrap where it runs), and each result says which it had."""
    from grader.run import kernel
    from grader.run.sandbox import Isolation, bounded_scratch

    def unmountable(*args):
        request = fork_request(*args)
        request["root"] = str(tmp_path / "no such folder")  # the new root cannot be mounted
        return request

    monkeypatch.setattr(kernel, "fork_request", unmountable)
    monkeypatch.setattr(kernel, "_forking_failed", None)
    with bounded_scratch(POLICY) as scratch:
        workspace = scratch / "work"
        workspace.mkdir()
        manager = kernel.start_kernel(workspace, POLICY)
        kernel.stop_kernel(manager)
    assert manager.isolation in (Isolation.BUBBLEWRAP, Isolation.OWN_USER)
    assert "could not confine the kernel" in kernel._forking_failed
    assert kernel_users_left() == []


def _parent_of(pid: int) -> int:
    from pathlib import Path

    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _open_beyond_stderr(pid: int) -> list[str]:
    """What a process's descriptors above stderr are open on (a socket's or a pipe's inode, a file's path)."""
    from pathlib import Path

    return [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir() if int(fd.name) > 2]


def _anonymous_kib(pid: int) -> int:
    from pathlib import Path

    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    return next(int(line.split()[1]) for line in rollup if line.startswith("Anonymous:"))


def test_zygotes_started_ahead_share_one_import_serve_the_worker_that_takes_one_and_end_with_the_command(
    monkeypatch,
):
    """The grading command starts its workers' zygotes while the workers start (their imports overlap), forked by
    one process that imported for them all (each imported on its own: the imports' heap, hundreds of MiB, once a
    worker): a worker takes one (none other can), and on leaving the command ends every one."""
    from pathlib import Path

    from grader.run.kernel import kernel_environment

    environment = zygote_client.zygote_environment(kernel_environment(Path("/"), "/tmp"))
    monkeypatch.setattr(zygote_client, "_zygote", None)  # this worker has not started one of its own
    started = zygote_client.ZygotesAhead(2, environment, zygote_client.warm_modules())
    with started as folder:
        monkeypatch.setattr(zygote_client, "_ahead", folder)
        assert look_inside()["warm"]
        taken = zygote_client._zygote
        assert taken.process is None and (folder / "0.taken").exists() and not (folder / "1.taken").exists()
        assert _parent_of(taken.pid) == started.keeper.pid
        # what the imports made is the keeper's, shared: the zygote that served a kernel wrote to little of it
        shared = _anonymous_kib(started.keeper.pid)
        private = sum(
            int(line.split()[1])
            for line in Path(f"/proc/{taken.pid}/smaps_rollup").read_text().splitlines()
            if line.startswith("Private_")
        )
        assert private < shared / 4, (private, shared)
        # a zygote holds none of the keeper's descriptors (its socket, the command's request, the other zygotes')
        # a zygote holds its worker's socket, the command's pipe and its pid namespace, nothing of the keeper's (its
        # socket, the command's request, the other zygotes') nor what an import opened
        held = sorted(target.split(":")[0] for target in _open_beyond_stderr(taken.pid))
        assert held == ["pid", "pipe", "socket"], held
    assert not folder.exists() and started.keeper.poll() is not None
    waiter = select.poll()
    waiter.register(taken.pidfd, select.POLLIN)
    assert waiter.poll(60_000), "the zygote a worker took outlived the command"


def test_a_zygote_that_stops_answering_is_killed_ours_or_started_ahead(monkeypatch):
    """One started ahead is no child of the worker: killing it through its Popen failed (it has none)."""
    import json
    import socket
    import subprocess

    monkeypatch.setattr(zygote_client, "ANSWER_SECONDS", 0.2)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stuck = subprocess.Popen(["sleep", "600"])
    theirs.send(json.dumps({"ready": stuck.pid}).encode())
    zygote = zygote_client.Zygote(ours, None, None, ())  # as one started ahead: not a Popen of this worker's
    with pytest.raises(zygote_client.KernelNotConfined, match="did not answer"):
        zygote.fork_kernel({"env": {}})
    assert stuck.wait(timeout=60) == -signal.SIGKILL and not zygote.alive()
    zygote.close()
    theirs.close()


WARMED = """
import json, sys
json.dump({name: name in sys.modules for name in ("torch", "pandas", "sklearn", "matplotlib", "tomllib")},
          open("seen.json", "w"))
"""


def test_a_zygote_imports_what_its_assignments_kernels_import(monkeypatch):
    """The small assignment's notebook imports torch alone: its kernels' zygote imports no pandas, scikit-learn
    or matplotlib (seconds of every grading command). Asked for another assignment's kernel (a Dask worker may
    grade two), a worker replaces its zygote, which passes over a module it cannot import."""
    assert zygote_client.warm_modules()[:2] == ("numpy", "torch")  # the probe's
    warmed = {"torch": True, "pandas": False, "sklearn": False, "matplotlib": False, "tomllib": False}
    assert look_inside(WARMED) == warmed
    first = zygote_client._zygote
    # a module the template imports that this machine lacks (a Colab-only one, say) is no failure of the zygote's
    monkeypatch.setattr(zygote_client, "warm_modules", lambda: (*first.modules, "no_such_module", "tomllib"))
    assert look_inside(WARMED) == warmed | {"tomllib": True}
    assert zygote_client._zygote is not first and first.process.poll() is not None


def test_a_kept_keeper_serves_the_next_command_with_its_imports_done_and_ends_when_left_idle(monkeypatch, tmp_path):
    """A grading command leaves its zygotes' keeper running GRADER_KEEP_WARM seconds: the next command of the same
    user, interpreter, packages and modules has its zygotes forked by it, imports done (the first student's
    results seconds sooner); with other modules another keeper serves; one that no command came to within its
    seconds ends, and the next command starts a keeper afresh."""
    from pathlib import Path

    from grader.run.kernel import kernel_environment

    runtime = Path(tempfile.mkdtemp(prefix="keepers-", dir="/tmp"))  # a socket's address is short: not tmp_path
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    environment = zygote_client.zygote_environment(kernel_environment(Path("/"), "/tmp"))
    modules = zygote_client.warm_modules()

    def command(keep: str, modules: tuple[str, ...]) -> tuple[zygote_client.ZygotesAhead, int]:
        """One grading command whose worker takes a zygote: the command, and the keeper that forked the zygote."""
        monkeypatch.setenv("GRADER_KEEP_WARM", keep)
        monkeypatch.setattr(zygote_client, "_zygote", None)
        monkeypatch.setattr(zygote_client, "warm_modules", lambda: modules)
        started = zygote_client.ZygotesAhead(1, environment, modules)
        with started as folder:
            monkeypatch.setattr(zygote_client, "_ahead", folder)
            assert look_inside()["warm"]
            taken = zygote_client._zygote
            keeper = _parent_of(taken.pid)
        waiter = select.poll()
        waiter.register(taken.pidfd, select.POLLIN)
        assert waiter.poll(60_000), "the zygote a worker took outlived its command"
        return started, keeper

    first, kept = command("600", modules)
    try:
        assert first.keeper.pid == kept and first.keeper.poll() is None  # it outlives the command that started it
        second, keeper = command("600", modules)
        assert second.keeper is None and keeper == kept  # nothing started: the kept one forked its zygote
        other_modules = (*modules, "json")
        third, other = command("0.2", other_modules)
        assert third.keeper.pid == other != kept
        ended = os.pidfd_open(other)
        waiter = select.poll()
        waiter.register(ended, select.POLLIN)
        assert waiter.poll(60_000), "a keeper left idle past its seconds did not end"
        fourth, again = command("0.2", other_modules)  # its socket is left, refusing: a keeper started afresh
        assert fourth.keeper.pid == again != other
        assert len(list((runtime / "grader").glob("*.sock"))) == 2
    finally:
        for keeper in (first.keeper, locals().get("fourth") and fourth.keeper):
            if keeper is not None:
                keeper.kill()
                keeper.wait()
        shutil.rmtree(runtime)


def test_a_keeper_folder_open_to_another_user_is_not_used(monkeypatch, tmp_path):
    """A keeper forks kernels as root for whoever reaches its socket: its folder must be this user's alone."""
    from pathlib import Path

    runtime = Path(tempfile.mkdtemp(prefix="keepers-", dir="/tmp"))  # a socket's address is short: not tmp_path
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        assert zygote_client.keeper_folder() == runtime / "grader"
        assert (runtime / "grader").stat().st_mode & 0o777 == 0o700
        (runtime / "grader").chmod(0o777)
        assert zygote_client.keeper_folder() is None
        (runtime / "grader").rmdir()
        (runtime / "grader").symlink_to(tmp_path)
        assert zygote_client.keeper_folder() is None
    finally:
        shutil.rmtree(runtime)
    deep = tmp_path / ("folder-" * 12)
    deep.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))  # no room left in a socket's address for the keeper's
    assert zygote_client.keeper_folder() is None
    monkeypatch.setenv("GRADER_KEEP_WARM", "ten minutes")
    assert zygote_client.keep_seconds() == 0


INTRUDER = """
import os, socket, sys
channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
channel.connect(sys.argv[1])
reading, writing = os.pipe()
listening = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
listening.bind(sys.argv[2])
listening.listen(1)
channel.settimeout(60)
try:  # the keeper may close before the request is even sent
    socket.send_fds(channel, [b"zygotes"], [reading, listening.fileno()])
    print(channel.recv(4096).decode() or "refused")
except (BrokenPipeError, ConnectionResetError):
    print("refused")
"""


def test_a_keeper_forks_nothing_for_another_user(tmp_path):
    """A keeper's socket answers only its own user: another user who reaches it (its folder open, here, as a
    keeper's folder never is) gets no zygote, and the keeper still serves its own user after."""
    import json
    import socket
    import subprocess
    import sys
    from pathlib import Path

    open_folder = Path(tempfile.mkdtemp(prefix="keeper-open-", dir="/tmp"))
    open_folder.chmod(0o777)
    address = open_folder / "keeper.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listening.bind(str(address))
    listening.listen(8)
    address.chmod(0o777)
    program = [sys.executable, str(zygote_client.ZYGOTE_PROGRAM), "--keep", "0.2", "-", str(listening.fileno())]
    keeper = subprocess.Popen([*program, "json"], pass_fds=[listening.fileno()], stdin=subprocess.DEVNULL)
    listening.close()
    try:
        intruder = subprocess.run(
            ["/usr/bin/python3", "-c", INTRUDER, str(address), str(open_folder / "theirs.sock")],
            user="nobody",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert intruder.stdout.strip() == "refused", intruder.stderr
        assert keeper.poll() is None  # it waits for its own user's command still
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        channel.connect(str(address))
        reading, writing = os.pipe()
        ours = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.bind(str(open_folder / "ours.sock"))
        ours.listen(1)
        socket.send_fds(channel, [b"zygotes"], [reading, ours.fileno()])
        channel.settimeout(60)
        assert json.loads(channel.recv(4096)) == {"zygotes": 1}
        os.close(writing)  # the command ends: its zygote ends, and the keeper 0.2 s after
        assert keeper.wait(timeout=60) == 0
    finally:
        if keeper.poll() is None:
            keeper.kill()
        shutil.rmtree(open_folder)


def test_a_keeper_that_cannot_be_kept_costs_only_the_warm_start(monkeypatch, capsys):
    """Where the kept keeper's lock cannot be opened (here: a folder in its place), the command warns and its
    zygotes come from a keeper of its own, ending with it."""
    from pathlib import Path

    from grader.run.kernel import kernel_environment

    runtime = Path(tempfile.mkdtemp(prefix="keepers-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        monkeypatch.setenv("GRADER_KEEP_WARM", "600")
        environment = zygote_client.zygote_environment(kernel_environment(Path("/"), "/tmp"))
        modules = ("json",)
        (runtime / "grader").mkdir(mode=0o700)
        (runtime / "grader" / f"{zygote_client.keeper_key(environment, modules)}.lock").mkdir()
        started = zygote_client.ZygotesAhead(1, environment, modules)
        with started:
            assert started.own_keeper and started.keeper.poll() is None
        assert started.keeper.poll() is not None  # ended with the command
        assert "no warm keeper could be kept" in capsys.readouterr().err
    finally:
        shutil.rmtree(runtime)
