"""A warm parent for kernels: imports the course's packages once, then forks each submission's kernel.

A grading worker runs this file as a program of its own (`python zygote.py FD MODULE...`, as root), or the grading
command starts it ahead of its workers (`python zygote.py --listen FD,FD... MODULE...`: it imports while the
workers start, then forks one zygote per listening socket, each serving the first worker that connects to it, so
that every worker's zygote shares the pages of one import); it runs no submission code itself, only imports the
MODULEs (what the assignment's notebooks import, the probe's and ipykernel's own), so every kernel it forks starts
with them loaded instead of spending seconds importing them. Each child confines itself before anything of the
submission's runs, as bubblewrap would: new pid, mount, network, IPC, UTS and cgroup namespaces, a root of its own
holding only the system, the Python environment and the submission's folders, the rubric's resource limits, and
its job slot's user (no capabilities, no new privileges).

It imports nothing of the grader: a kernel inherits the course's packages and nothing of ours.

Protocol, over the SOCK_SEQPACKET socket FD: the worker sends one JSON request per kernel; the zygote answers
{"pid": N} with a pidfd of the kernel's init attached, or {"error": "..."} when no kernel could be forked, with
"confine": true when it was forked but a step of its confinement was refused (either way no submission code
ran). The zygote exits when the worker closes the socket or dies, or when the process that started it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import platform
import resource
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x20000,
    0x2000000,
    0x4000000,
    0x8000000,
    0x20000000,
    0x40000000,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    8,
    32,
    4096,
    16384,
    1 << 18,
)
MNT_DETACH, PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 2, 1, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}  # syscall numbers
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

libc = ctypes.CDLL(None, use_errno=True)


def checked(name: str, *args: object) -> None:
    if getattr(libc, name)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{name}{args!r}: {os.strerror(error)}")


def mount(source: str | None, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    checked("mount", encode(source), encode(target), encode(kind), ctypes.c_ulong(flags), encode(options))


def die_with_parent() -> None:
    checked("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def bind(source: str, target: str, read_only: bool) -> None:
    mount(source, target, None, MS_BIND | (MS_REC if read_only else 0))
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_new_root(request: dict) -> None:
    """Pivot into an empty tmpfs holding only what the kernel needs (the binds bubblewrap_prefix makes)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = request["root"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    inside = lambda path: root + path  # noqa: E731
    # /tmp first: the submission's folders, and maybe the Python environment (a checkout under /tmp), lie
    # under the machine's /tmp, so they are bound over the kernel's own /tmp, not hidden by it
    os.makedirs(inside("/tmp"))
    bind(request["tmp_dir"], inside("/tmp"), read_only=False)
    for path in request["read_only"]:
        os.makedirs(os.path.dirname(inside(path)), exist_ok=True)
        if os.path.islink(path):  # /lib -> usr/lib on merged-/usr systems: the same link inside
            if not os.path.lexists(inside(path)):
                os.symlink(os.readlink(path), inside(path))
            continue
        os.makedirs(inside(path), exist_ok=True)
        bind(path, inside(path), read_only=True)
    for path in request["writable"]:
        os.makedirs(inside(path), exist_ok=True)
        bind(path, inside(path), read_only=False)
    bind(request["connection_file"], inside(request["connection_file"]), read_only=True)
    os.makedirs(inside("/proc"))
    mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # /dev: the harmless devices and /dev/shm, root's and so not writable by the kernel's user
    os.makedirs(inside("/dev"))
    mount("tmpfs", inside("/dev"), "tmpfs", MS_NOSUID, "mode=0755,size=64k")
    os.makedirs(inside("/dev/shm"))
    for device in DEVICES:
        open(inside(f"/dev/{device}"), "w").close()
        bind(f"/dev/{device}", inside(f"/dev/{device}"), read_only=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        os.symlink(target, inside(f"/dev/{name}"))
    os.symlink("/proc/self/fd/2", inside("/dev/stderr"))
    os.chdir(root)
    checked("syscall", ctypes.c_long(PIVOT_ROOT[platform.machine()]), b".", b".")
    checked("umount2", b".", MNT_DETACH)
    os.chdir("/")


def become_kernel(request: dict, report: int) -> None:
    """Drop to the slot's user under the limits, then run ipykernel here (what `python -m ipykernel_launcher` does)."""
    die_with_parent()
    for name, value in request["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    os.setgroups([])
    os.setresgid(request["uid"], request["uid"], request["uid"])
    os.setresuid(request["uid"], request["uid"], request["uid"])
    checked("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.chdir(request["workspace"])
    os.environ.clear()
    os.environ.update(request["env"])
    null = os.open("/dev/null", os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(null, standard)
    os.close(null)
    import numpy.random

    numpy.random.seed()  # a fresh kernel draws its own: forked ones must not share the parent's numpy state
    os.write(report, b"ok")
    os.close(report)
    from ipykernel import kernelapp

    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    kernelapp.launch_new_instance()


def become_init(request: dict, report: int) -> None:
    """Pid 1 of the kernel's namespaces: confine, fork the kernel, pass signals on, exit with it."""
    os.setsid()
    die_with_parent()
    os.umask(0o022)
    checked("unshare", CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
    enter_new_root(request)
    os.closerange(3, report)  # the zygote's socket and anything an import opened: nothing of it for the kernel
    os.closerange(report + 1, os.sysconf("SC_OPEN_MAX"))
    kernel = os.fork()
    if kernel == 0:
        run_child(become_kernel, request, report)
    os.close(report)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda received, frame: os.kill(kernel, received))
    while True:
        pid, status = os.wait()
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def run_child(body, request: dict, report: int) -> None:
    """Run a forked child's body; whatever happens it never returns into the zygote's loop."""
    try:
        body(request, report)
        os._exit(0)
    except SystemExit as leaving:
        os._exit(leaving.code if isinstance(leaving.code, int) else 0)
    except BaseException as error:
        try:
            os.write(report, f"{type(error).__name__}: {error}".encode()[:2000])
        finally:
            os._exit(127)


def fork_kernel(request: dict, own_pid_namespace: int) -> tuple[int, int, str]:
    """Fork one kernel's init; its pid, a pidfd of it, and what it reported ("ok" or why confinement failed)."""
    reading, report = os.pipe()
    checked("unshare", CLONE_NEWPID)  # only the next child moves: it becomes pid 1 of a fresh namespace
    pid = os.fork()
    if pid == 0:
        os.close(reading)
        run_child(become_init, request, report)
    checked("setns", own_pid_namespace, CLONE_NEWPID)  # the next request's child gets a namespace of its own too
    pidfd = os.pidfd_open(pid)
    os.close(report)
    with os.fdopen(reading, "rb") as answer:
        said = answer.read().decode(errors="replace")
    return pid, pidfd, said or "the kernel ended before it started"


def reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def serve(channel: socket.socket) -> None:
    own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
    while True:
        message = channel.recv(1 << 20)
        reap()
        if not message:
            return
        try:
            pid, pidfd, said = fork_kernel(json.loads(message), own_pid_namespace)
        except OSError as error:
            channel.send(json.dumps({"error": f"could not fork a kernel: {error}"}).encode())
            continue
        if said == "ok":
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd])
        else:
            os.kill(pid, signal.SIGKILL)
            answer = {"error": f"could not confine the kernel: {said.strip()}", "confine": True}
            channel.send(json.dumps(answer).encode())
        os.close(pidfd)


def serve_ahead(listening: socket.socket) -> None:
    """A zygote started ahead: serve the first worker that connects, in that worker's mount namespace (where its
    scratch folders are mounted: the kernels' roots are made of them)."""
    channel, _ = listening.accept()
    listening.close()
    _, namespaces, _, _ = socket.recv_fds(channel, 4096, 1)
    try:
        checked("setns", namespaces[0], CLONE_NEWNS)
    except (OSError, IndexError) as error:
        channel.send(json.dumps({"error": f"could not join the worker's mounts: {error}"}).encode())
        return
    os.close(namespaces[0])
    channel.send(json.dumps({"ready": os.getpid()}).encode())
    serve(channel)


def fork_zygotes_ahead(listening: list[socket.socket]) -> None:
    """One zygote forked per listening socket, all sharing this process's imported pages; this process lives
    until the last of them ends (each dies with it), and holds no socket a worker could connect to in vain."""
    for own in listening:
        if os.fork() == 0:
            die_with_parent()
            for other in listening:
                if other is not own:
                    other.close()
            try:
                serve_ahead(own)
            finally:
                os._exit(0)
    for own in listening:
        own.close()
    with contextlib.suppress(ChildProcessError):
        while True:
            os.wait()


def main() -> None:
    """`zygote.py FD MODULE...`: import the MODULEs, then serve the worker at the other end of socket FD.
    `zygote.py --listen FD,FD... MODULE...`: started ahead of the workers, import, then fork a zygote for each
    listening socket FD, which serves the first worker that connects to it (and no other)."""
    del sys.path[0]  # this file's folder, which is the grader's: nothing of it importable by the kernels
    die_with_parent()
    arguments = sys.argv[1:]
    ahead = arguments[0] == "--listen"
    descriptors, *modules = arguments[1:] if ahead else arguments
    given = [socket.socket(fileno=int(descriptor)) for descriptor in descriptors.split(",")]
    for module in modules:  # the template's imports: one missing here (a Colab-only module, say) is no failure
        with contextlib.suppress(Exception):  # the notebook meets the same error itself, in its own cell
            __import__(module)
    # what the imports made lives as long as every kernel: out of the collector's sight, a kernel's full
    # collection walks its own objects only, and never writes to (so never copies) the pages it shares with us
    gc.freeze()
    if ahead:
        fork_zygotes_ahead(given)
        return
    given[0].send(json.dumps({"ready": os.getpid()}).encode())
    serve(given[0])


if __name__ == "__main__":
    main()
