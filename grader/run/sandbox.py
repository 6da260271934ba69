"""How a submission's kernel is confined: bubblewrap, resource limits, another user, a scrubbed environment.

The kernel sees a read-only system and Python environment, its own workspace
(read-write) and the folder of its ZMQ sockets, and nothing else: not the
repository (so not secret/, reference/ or the grader), not the output folder,
not the network (its channels use IPC sockets instead of TCP). Resource limits
(address space, CPU time, processes, file size) apply in every mode; when the
grader runs as root the kernel also runs as `nobody`, so that the process
limit binds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from grader.rubric import Limits

NOBODY = 65534
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")


class SandboxUnavailable(RuntimeError):
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

    @classmethod
    def from_limits(cls, limits: Limits, mode: SandboxMode | str) -> SandboxPolicy:
        return cls(
            mode=SandboxMode(mode),
            memory_bytes=int(limits.memory_gib * 1024**3),
            cpu_seconds=limits.cpu_seconds,
            max_processes=limits.processes,
            max_file_bytes=int(limits.file_mib * 1024**2),
        )


@cache
def bubblewrap_works() -> bool:
    """Whether `bwrap` is installed and may create namespaces on this machine (checked once)."""
    if shutil.which("bwrap") is None:
        return False
    trial = subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
        capture_output=True,
        timeout=30,
    )
    return trial.returncode == 0


def use_bubblewrap(policy: SandboxPolicy) -> bool:
    if policy.mode == SandboxMode.OFF:
        return False
    if bubblewrap_works():
        return True
    if policy.mode == SandboxMode.REQUIRED:
        raise SandboxUnavailable(
            "--sandbox=required, but bubblewrap cannot run here (install the `bubblewrap` package; "
            "user namespaces must be enabled)"
        )
    return False


def isolation_description(policy: SandboxPolicy) -> str:
    """How a kernel under `policy` is isolated here, in a sentence for the results."""
    if use_bubblewrap(policy):
        return "Isolation: bubblewrap (no network; only the kernel's own folder visible), resource limits."
    if drops_privileges():
        return (
            "Isolation: an unprivileged user (nobody) with resource limits; bubblewrap cannot run here, "
            "so the grader's files are protected by their permissions."
        )
    return "Isolation: resource limits only (bubblewrap cannot run here and the grader is not root)."


def drops_privileges() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def hand_over(path: Path) -> None:
    """Let the kernel's user write `path` (when it will run as nobody)."""
    if drops_privileges():
        os.chown(path, NOBODY, NOBODY)


def limits_prefix(policy: SandboxPolicy) -> list[str]:
    """`prlimit` (util-linux) sets the rlimits for the command it starts, and so for the kernel."""
    if shutil.which("prlimit") is None:
        return []
    return [
        "prlimit",
        f"--as={policy.memory_bytes}",
        f"--cpu={policy.cpu_seconds}",
        f"--nproc={policy.max_processes}",
        f"--fsize={policy.max_file_bytes}",
        "--core=0",
        "--",
    ]


def user_prefix() -> list[str]:
    """Run as nobody when we are root: root is exempt from the process limit, nobody is not."""
    if not drops_privileges():
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def bubblewrap_prefix(workspace: Path, ipc_dir: Path, connection_file: Path, env: dict[str, str]) -> list[str]:
    """bwrap's arguments: an empty root with only what the kernel needs bound into it.

    As root, bwrap needs no user namespace (and one would map the kernel back to
    root); the drop to nobody then happens inside, after the binds are made.
    """
    namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if not drops_privileges():
        namespaces = ["--unshare-all"]
    read_only = [d for d in SYSTEM_DIRS if Path(d).exists()]
    read_only += sorted({sys.prefix, sys.base_prefix})  # the Python environment and the interpreter it points to
    writable = [str(workspace), str(ipc_dir)]
    args = ["bwrap", *namespaces, "--die-with-parent", "--clearenv", "--tmpfs", "/"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    # bwrap makes missing parent folders private (0700); the kernel, as nobody, must pass through them
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
