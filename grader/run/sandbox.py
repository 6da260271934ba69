"""How a submission's kernel is confined: bubblewrap, resource limits, a user of its own, bounded space.

The kernel sees a read-only system and Python environment, its own workspace
(read-write), a /tmp and the folder of its ZMQ sockets, and nothing else: not
the repository (so not secret/, reference/ or the grader), not the output
folder, not the network (its channels use IPC sockets instead of TCP). Resource
limits (address space, CPU time, processes, file size) apply in every mode.
When the grader runs as root:

- the kernel runs as a user of its job slot's own (one uid per worker), so the
  process limit binds each kernel alone and every process left behind can be
  swept after it;
- everything it can write (workspace, /tmp, sockets) lies in one tmpfs of the
  rubric's `disk_mib`, mounted in the worker's private mount namespace, so a
  submission cannot fill the machine's disk and the mount dies with the worker.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from grader.errors import GraderError
from grader.rubric import Limits

# Kernels run as SLOT_UID_BASE + the worker's job slot: uids far above any system's or person's, and
# outside systemd's dynamic range (61184-65519) and the usual subuid ranges (100000 + 65536 * n, n small).
SLOT_UID_BASE = 1_860_000_000
MAX_JOB_SLOTS = 1000
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")


class SandboxUnavailable(GraderError, RuntimeError):
    """`--sandbox=required` was asked for and bubblewrap cannot run here."""


class SandboxMode(StrEnum):
    AUTO = "auto"  # bubblewrap when it runs here, else limits only (the CLI warns)
    REQUIRED = "required"  # bubblewrap or nothing
    OFF = "off"  # limits only


@dataclass(frozen=True)
class SandboxPolicy:
    """How to confine one kernel; the limits are the rubric's [limits], and only there."""

    mode: SandboxMode
    memory_bytes: int
    cpu_seconds: int
    max_processes: int
    max_file_bytes: int
    max_disk_bytes: int

    @classmethod
    def from_limits(cls, limits: Limits, mode: SandboxMode | str) -> SandboxPolicy:
        return cls(
            mode=SandboxMode(mode),
            memory_bytes=int(limits.memory_gib * 1024**3),
            cpu_seconds=limits.cpu_seconds,
            max_processes=limits.processes,
            max_file_bytes=int(limits.file_mib * 1024**2),
            max_disk_bytes=int(limits.disk_mib * 1024**2),
        )


@cache
def bubblewrap_works() -> bool:
    """Whether a kernel can start under bubblewrap here (checked once): a trial of the very command a fresh
    kernel starts with (its namespaces, binds and user), running this Python. A lighter trial is not enough:
    root without CAP_SYS_ADMIN may make namespaces inside a user namespace but not the ones a kernel gets."""
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="grader-trial-") as scratch:
        workspace, ipc_dir, tmp_dir = (Path(scratch) / name for name in ("work", "ipc", "tmp"))
        connection = ipc_dir / "connection.json"
        for folder in (workspace, ipc_dir, tmp_dir):
            folder.mkdir()
            hand_over(folder)
        connection.write_text("{}")
        Path(scratch).chmod(0o711)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        command = bubblewrap_prefix(workspace, ipc_dir, tmp_dir, connection, env) + user_prefix()
        try:
            trial = subprocess.run([*command, sys.executable, "-c", "pass"], capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            return False
    return trial.returncode == 0


@cache
def namespaces_work() -> bool:
    """Whether this machine lets us make every namespace a forked kernel confines itself in (a trial, once):
    a container may let root mount yet refuse a new pid or network namespace. Forked kernels are tracked
    through pidfds, which Linux has since 5.3."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    if shutil.which("unshare") is None:
        return False
    namespaces = ["--pid", "--fork", "--mount-proc", "--mount", "--net", "--ipc", "--uts", "--cgroup"]
    return subprocess.run(["unshare", *namespaces, "true"], capture_output=True, timeout=30).returncode == 0


def forks_kernels(policy: SandboxPolicy) -> bool:
    """Whether kernels under `policy` are forked from a warm parent (grader/run/zygote.py), which confines
    each child itself: namespaces, a root of its own, the slot's user. That takes root, the right to mount
    and to make namespaces, and a sandbox: without one the slot's user could not even read an interpreter
    kept under /root. Elsewhere each kernel is started afresh (under bubblewrap where it runs)."""
    return policy.mode != SandboxMode.OFF and drops_privileges() and private_mounts() and namespaces_work()


def sandbox_works() -> bool:
    """Whether kernels can be confined here at all: forked and confined by the zygote, or under bubblewrap."""
    return (drops_privileges() and private_mounts() and namespaces_work()) or bubblewrap_works()


def use_bubblewrap(policy: SandboxPolicy) -> bool:
    """Whether a freshly started kernel (not a forked one) runs inside bubblewrap."""
    if policy.mode == SandboxMode.OFF:
        return False
    if bubblewrap_works():
        return True
    if policy.mode == SandboxMode.REQUIRED:
        raise SandboxUnavailable(f"--sandbox=required, but {why_no_sandbox()}")
    return False


def why_no_sandbox() -> str:
    """Why kernels cannot be confined here, in a clause for an error or a warning."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed here (install the `bubblewrap` package)"
    return (
        "bubblewrap cannot make the namespaces a kernel needs here (a container without CAP_SYS_ADMIN, or user "
        "namespaces disabled: give the container CAP_SYS_ADMIN, or grade outside it)"
    )


class Isolation(StrEnum):
    """How one kernel was confined, as it was started."""

    FORKED = "forked"  # namespaces of its own, set up by the zygote
    BUBBLEWRAP = "bubblewrap"
    OWN_USER = "own_user"  # no namespaces: its own user and the limits
    LIMITS_ONLY = "limits_only"


def planned_isolation(policy: SandboxPolicy) -> Isolation:
    """How a kernel under `policy` will be confined here, as far as the checks at start can tell."""
    if forks_kernels(policy):
        return Isolation.FORKED
    if use_bubblewrap(policy):
        return Isolation.BUBBLEWRAP
    return Isolation.OWN_USER if drops_privileges() else Isolation.LIMITS_ONLY


def describe_isolation(isolation: Isolation, policy: SandboxPolicy) -> str:
    """A kernel's isolation in a sentence for its results."""
    space = (
        f" and {policy.max_disk_bytes / 1024**2:g} MiB of writable space"
        if private_mounts()
        else "; its writable space is not bounded here (the grader cannot mount a tmpfs)"
    )
    if isolation == Isolation.FORKED:
        return (
            "Isolation: namespaces of its own (no network; only the kernel's own folder visible), a user of its own, "
            f"resource limits{space}."
        )
    if isolation == Isolation.BUBBLEWRAP:
        return f"Isolation: bubblewrap (no network; only the kernel's own folder visible), resource limits{space}."
    if isolation == Isolation.OWN_USER:
        return (
            f"Isolation: an unprivileged user of its own with resource limits{space}; bubblewrap cannot run "
            "here, so the grader's files are protected by their permissions."
        )
    return "Isolation: resource limits only (bubblewrap cannot run here and the grader is not root)."


def drops_privileges() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


_slots = threading.local()  # each thread that grades holds a slot: a Dask worker may grade in several
SLOTS_VARIABLE = "GRADER_JOB_SLOTS"


def job_slots() -> range:
    """The job slots this grader may take: all of them, or those GRADER_JOB_SLOTS="FIRST-LAST" names, so that
    graders sharing a machine can be told apart by their kernels' users (two test workers, two courses)."""
    chosen = os.environ.get(SLOTS_VARIABLE, "").strip()
    if not chosen:
        return range(MAX_JOB_SLOTS)
    first, _, last = chosen.partition("-")
    try:
        slots = range(int(first), int(last or first) + 1)
    except ValueError:
        slots = range(0)
    if not slots or slots.start < 0 or slots.stop > MAX_JOB_SLOTS:
        raise GraderError(f"{SLOTS_VARIABLE}={chosen!r}: expected FIRST-LAST, from 0 to {MAX_JOB_SLOTS - 1}")
    return slots


def job_slot() -> int:
    """This thread's job slot: the first slot no other grading thread or process on the machine holds.

    A slot is held by an exclusive lock on its file (kept open for the thread's process's life, and
    released by the kernel when that process ends however it ends); so local workers, Dask workers
    and Gradescope runs on one machine never share a slot, nor a kernel user.
    """
    if hasattr(_slots, "slot"):
        return _slots.slot
    folder = Path(tempfile.gettempdir()) / "grader-job-slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    slots = job_slots()
    for slot in slots:
        handle = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        _slots.slot, _slots.lock = slot, handle
        return slot
    raise RuntimeError(f"all {len(slots)} job slots ({slots.start}-{slots.stop - 1}) are taken by other graders")


def kernel_uid() -> int:
    """The user this process's kernels run as when the grader is root: its job slot's own."""
    return SLOT_UID_BASE + job_slot()


def hand_over(path: Path) -> None:
    """Let the kernel's user write `path` (when it will run as its own user)."""
    if drops_privileges():
        os.chown(path, kernel_uid(), kernel_uid())


def sweep_processes() -> None:
    """Kill every process of this slot's kernel user: whatever the last kernel left behind (a daemon that
    escaped its process group), before the next submission's kernel starts as the same user."""
    if drops_privileges():
        for _ in range(2):  # a second pass for what forked while the first went round
            subprocess.run([*user_prefix(), "kill", "-s", "KILL", "--", "-1"], capture_output=True, timeout=30)


_CLONE_NEWNS, _MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE, _MNT_DETACH = 0x20000, 2, 4, 1 << 14, 1 << 18, 2


def _libc_call(name: str, *args: object) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return getattr(libc, name)(*args) == 0


@cache
def private_mounts() -> bool:
    """Move this process into a mount namespace of its own (once): its tmpfs mounts then die with it.

    False where the grader may not mount (not root, or a container without CAP_SYS_ADMIN).
    """
    if os.geteuid() != 0:
        return False
    return _libc_call("unshare", _CLONE_NEWNS) and _libc_call("mount", b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)


@contextmanager
def bounded_scratch(policy: SandboxPolicy) -> Iterator[Path]:
    """A scratch folder for one submission: everything its kernel may write goes here (workspace, /tmp,
    sockets), in a tmpfs of `policy.max_disk_bytes` where this process may mount one."""
    with tempfile.TemporaryDirectory(prefix="grader-") as scratch:
        path = Path(scratch)
        options = f"size={policy.max_disk_bytes},mode=0711".encode()
        mounted = private_mounts() and _libc_call(
            "mount", b"tmpfs", bytes(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, options
        )
        try:
            (path / "tmp").mkdir()
            hand_over(path / "tmp")
            yield path
        finally:
            if mounted:
                _libc_call("umount2", bytes(path), _MNT_DETACH)


def kernel_rlimits(policy: SandboxPolicy) -> dict[str, int]:
    """The rlimits a kernel runs under, by their `resource` names (soft and hard alike)."""
    return {
        "RLIMIT_AS": policy.memory_bytes,
        "RLIMIT_CPU": policy.cpu_seconds,
        "RLIMIT_NPROC": policy.max_processes,
        "RLIMIT_FSIZE": policy.max_file_bytes,
        "RLIMIT_CORE": 0,
    }


def limits_prefix(policy: SandboxPolicy) -> list[str]:
    """`prlimit` (util-linux) sets the rlimits for the command it starts, and so for the kernel."""
    if shutil.which("prlimit") is None:
        return []
    options = {
        "RLIMIT_AS": "as",
        "RLIMIT_CPU": "cpu",
        "RLIMIT_NPROC": "nproc",
        "RLIMIT_FSIZE": "fsize",
        "RLIMIT_CORE": "core",
    }
    return ["prlimit", *(f"--{options[name]}={value}" for name, value in kernel_rlimits(policy).items()), "--"]


def user_prefix() -> list[str]:
    """Run as the slot's user when we are root: root is exempt from the process limit, that user is not."""
    if not drops_privileges():
        return []
    return ["setpriv", f"--reuid={kernel_uid()}", f"--regid={kernel_uid()}", "--clear-groups", "--"]


def read_only_paths() -> list[str]:
    """What a kernel sees of the machine, read-only: the system and the Python environment (and its interpreter)."""
    return [d for d in SYSTEM_DIRS if Path(d).exists()] + sorted({sys.prefix, sys.base_prefix})


def bubblewrap_prefix(
    workspace: Path, ipc_dir: Path, tmp_dir: Path, connection_file: Path, env: dict[str, str]
) -> list[str]:
    """bwrap's arguments: an empty root with only what the kernel needs bound into it.

    As root, bwrap needs no user namespace (and one would map the kernel back to
    root); the drop to the slot's user then happens inside, after the binds are made.
    """
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if not drops_privileges():
        namespaces = ["--unshare-all"]
    read_only = read_only_paths()
    writable = [str(workspace), str(ipc_dir)]
    args = ["bwrap", *namespaces, "--die-with-parent", "--clearenv", "--tmpfs", "/"]
    # /dev's own tmpfs is root's and not writable by the kernel's user; its /tmp is the scratch's, and bounded
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", str(tmp_dir), "/tmp"]
    # bwrap makes missing parent folders private (0700); the kernel, as its own user, must pass through them
    parents = {str(p) for path in read_only + writable for p in Path(path).parents if str(p) != "/"}
    for parent in sorted(parents, key=lambda p: p.count("/")):
        args += ["--perms", "0755", "--dir", parent]
    for path in read_only:
        args += ["--ro-bind", path, path]
    for path in writable:
        args += ["--bind", path, path]
    args += ["--ro-bind", str(connection_file), str(connection_file), "--chdir", str(workspace)]
    for name, value in sorted(env.items()):
        args += ["--setenv", name, value]
    return args + ["--"]
