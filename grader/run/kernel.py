"""Start and stop the kernel a submission runs in, apart from running anything in it.

Where the grader is root, kernels are forked from a warm parent that has already
imported the course's packages (`zygote.py`), which saves a fresh kernel's seconds
of imports; elsewhere each kernel is a fresh process under bubblewrap. Either way the
kernel is confined as `sandbox.py` describes and talks to the grader over IPC
sockets in a folder of its own (no TCP: it has no network).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from grader.run.execute import KernelStartFailed
from grader.run.sandbox import (
    Isolation,
    SandboxPolicy,
    SandboxUnavailable,
    bubblewrap_prefix,
    drops_privileges,
    forks_kernels,
    hand_over,
    kernel_rlimits,
    kernel_uid,
    limits_prefix,
    read_only_paths,
    sweep_processes,
    use_bubblewrap,
    user_prefix,
)
from grader.run.zygote_client import KernelNotConfined, fork_kernel

# a kernel silent this long is asked again (it may be slow, or have missed the first request)
ASK_AGAIN_SECONDS = 1.0
# once it has replied, only iopub is awaited: silent this long, it subscribed after the kernel announced its idle
# (ZeroMQ's late joiner: seven kernels in ten, each then waiting out ASK_AGAIN_SECONDS), so it is asked again
IOPUB_JOIN_SECONDS = 0.1
# What the student's kernel inherits: enough to run Python and nothing of ours.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ")
# IPython's history in SQLite is written by a thread of its own after every cell (40 ms of a submission's CPU),
# and read by nothing: `In`, `Out` and `%history` of the kernel's own session live in memory either way
KERNEL_ARGUMENTS = ("--HistoryManager.enabled=False",)


def kernel_environment(workspace: Path, tmp_dir: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(
        HOME=str(workspace),
        TMPDIR=tmp_dir,
        MPLBACKEND="agg",
        MPLCONFIGDIR=str(workspace / ".matplotlib"),
        # one thread, so that the same notebook gives the same numbers on every machine
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


class ReadyKernelClient(AsyncKernelClient):
    """A client that knows its kernel is ready as soon as the kernel says so, however slowly it says it.

    Ready means: the kernel has answered a kernel_info request on shell, and announced on iopub that it went
    idle after one (so iopub is connected too). Every request sent stays an answer worth having: a reply to
    any of them counts, so a kernel slower than our patience is waited for, never outrun by new requests
    (on a busy machine, matching each reply to the latest request only had every reply come one too late).
    A reply whose idle does not follow means iopub subscribed after the kernel announced it (ZeroMQ's late
    joiner): the kernel is asked again after IOPUB_JOIN_SECONDS of silence, not ASK_AGAIN_SECONDS.
    jupyter_client's own wait also listens until iopub has been silent for 0.2 s, on every kernel start.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 60)
        asked = {self.kernel_info()}
        reply, idle = None, False
        poller = zmq.asyncio.Poller()
        poller.register(self.shell_channel.socket, zmq.POLLIN)
        poller.register(self.iopub_channel.socket, zmq.POLLIN)
        while (left := deadline - time.monotonic()) > 0:
            patience = ASK_AGAIN_SECONDS if reply is None else IOPUB_JOIN_SECONDS
            ready = dict(await poller.poll(timeout=1000 * min(left, patience)))
            if self.shell_channel.socket in ready:
                message = await self.shell_channel.get_msg(timeout=0)
                if message["msg_type"] == "kernel_info_reply" and _parent(message) in asked:
                    reply = message
            if self.iopub_channel.socket in ready:
                message = await self.iopub_channel.get_msg(timeout=0)
                status = message["msg_type"] == "status" and message["content"].get("execution_state")
                idle = idle or (status == "idle" and _parent(message) in asked)
            if reply is not None and idle:
                self._handle_kernel_info_reply(reply)
                return
            if not ready:  # a silent while: still alive? Then ask again (iopub may have joined after an idle)
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                asked.add(self.kernel_info())
        raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


def _parent(message: dict) -> str | None:
    return message["parent_header"].get("msg_id")


class SlotKernelManager(AsyncKernelManager):
    """An AsyncKernelManager for one submission's kernel: its folders, its sandbox policy, interrupts by message.

    A SIGINT to the tracked process would reach bwrap or the zygote's init, not the kernel; ipykernel's
    interrupt_request message interrupts only the kernel.
    """

    isolation: Isolation  # how its kernel is confined, once it is started

    def __init__(self, workspace: Path, ipc_dir: Path, policy: SandboxPolicy, **kwargs) -> None:
        super().__init__(
            kernel_name="python3",
            transport="ipc",
            ip=str(ipc_dir / "kernel"),
            connection_file=str(ipc_dir / "connection.json"),
            client_class="grader.run.kernel.ReadyKernelClient",
            **kwargs,
        )
        self.workspace = workspace
        self.ipc_dir = ipc_dir
        self.tmp_dir = workspace.parent / "tmp"  # made by bounded_scratch beside the workspace
        self.policy = policy
        self.kernel_spec.interrupt_mode = "message"

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        hand_over(Path(self.connection_file))
        return super().format_kernel_cmd([*KERNEL_ARGUMENTS, *(extra_arguments or ())])


class ConfinedKernelManager(SlotKernelManager):
    """A kernel started afresh: its command runs under rlimits, as its slot's user, inside bubblewrap."""

    isolation = Isolation.LIMITS_ONLY  # until its command is made: then what it really runs under

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        if use_bubblewrap(self.policy):
            self.isolation = Isolation.BUBBLEWRAP
            env = kernel_environment(self.workspace, "/tmp")
            connection = Path(self.connection_file)
            confine = bubblewrap_prefix(self.workspace, self.ipc_dir, self.tmp_dir, connection, env)
            return limits_prefix(self.policy) + confine + user_prefix() + command
        self.isolation = Isolation.OWN_USER if drops_privileges() else Isolation.LIMITS_ONLY
        return limits_prefix(self.policy) + user_prefix() + command


class ForkedKernelManager(SlotKernelManager):
    """A kernel forked by this worker's zygote (grader/run/zygote.py), which confines it as bubblewrap would."""

    isolation = Isolation.FORKED

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        process = fork_kernel(
            fork_request(self.workspace, self.ipc_dir, self.tmp_dir, self.connection_file, self.policy)
        )
        assert self.provisioner is not None
        self.provisioner.process = process  # type: ignore[attr-defined]  # Popen's methods, over a pidfd
        self.provisioner.pid, self.provisioner.pgid = process.pid, None  # type: ignore[attr-defined]
        self._reconcile_connection_info(self.provisioner.connection_info)  # type: ignore[attr-defined]


def fork_request(workspace: Path, ipc_dir: Path, tmp_dir: Path, connection_file: str, policy: SandboxPolicy) -> dict:
    """What the zygote needs to fork and confine one kernel: the binds bubblewrap_prefix would make, the
    kernel's environment, its user and its limits. Its new root is mounted on an empty folder of the scratch."""
    root = workspace.parent / "root"
    root.mkdir(exist_ok=True)
    return {
        "root": str(root),
        "read_only": read_only_paths(),
        "writable": [str(workspace), str(ipc_dir)],
        "tmp_dir": str(tmp_dir),
        "connection_file": connection_file,
        "arguments": list(KERNEL_ARGUMENTS),
        "workspace": str(workspace),
        "env": kernel_environment(workspace, "/tmp"),
        "uid": kernel_uid(),
        "rlimits": kernel_rlimits(policy),
    }


# why this process's fork server could not confine a kernel, once it could not: every later kernel starts afresh
_forking_failed: str | None = None


def start_kernel(workspace: Path, policy: SandboxPolicy) -> SlotKernelManager:
    """A fresh, confined Python kernel whose working folder is `workspace` (in a `bounded_scratch`).

    Async, as nbclient expects: with a blocking manager a cell that never
    answers would block the client's event loop and its timeout with it.
    Raises KernelStartFailed, with the reason, when the kernel cannot be launched.
    """
    ipc_dir = workspace.parent / "ipc"
    ipc_dir.mkdir(exist_ok=True)
    # without bubblewrap the kernel, as its own user, reaches its folders through this one: let it pass, not look
    workspace.parent.chmod(0o711)
    for path in (workspace, ipc_dir, *workspace.rglob("*")):
        hand_over(path)
    global _forking_failed
    forked = forks_kernels(policy) and _forking_failed is None
    manager = (ForkedKernelManager if forked else ConfinedKernelManager)(workspace, ipc_dir, policy)
    try:
        # what the kernel process writes to its own stdout/stderr is nobody's business (cell output goes over ZMQ)
        run_sync(manager.start_kernel)(
            cwd=str(workspace),
            env=kernel_environment(workspace, str(manager.tmp_dir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except SandboxUnavailable:
        raise  # --sandbox=required where no sandbox runs: no retry can help
    except KernelNotConfined as error:
        stop_kernel(manager)
        if not error.confinement_refused:
            raise KernelStartFailed(f"the kernel could not be started ({error})") from error
        # this machine refuses what the zygote's confinement needs: kernels start afresh from now on
        _forking_failed = str(error)
        print(f"warning: {error}; kernels are started afresh instead of forked", file=sys.stderr)
        return start_kernel(workspace, policy)
    except Exception as error:
        stop_kernel(manager)
        raise KernelStartFailed(f"the kernel could not be started ({type(error).__name__}: {error})") from error
    return manager


def stop_kernel(manager: AsyncKernelManager) -> None:
    """Kill the kernel, its whole process group and anything else its user still runs."""
    group = getattr(manager.provisioner, "pgid", None)
    try:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=True)
    except Exception:
        pass  # already gone
    finally:
        run_sync(manager.cleanup_resources)()
        if group:
            kill_group(group, until_empty=not drops_privileges())
        sweep_processes()


def kill_group(group: int, until_empty: bool) -> None:
    """SIGKILL a process group, again and again: a fork bomb forks while the first signal goes round.

    Until the group is empty when nothing else will catch a straggler; a few rounds when the kernel ran as its
    slot's own user, whose every process `sweep_processes` kills next (waiting for the dead to be reaped
    cost a second a submission).
    """
    for _ in range(100 if until_empty else 5):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # the group id was reused by a process that is not ours
        time.sleep(0.05 if until_empty else 0.01)
