"""A warm parent for kernels: imports the course's packages once, then forks each submission's kernel.

A grading worker runs this file as a program of its own (`python zygote.py FD MODULE...`, as root), or the grading
command has a *keeper* fork zygotes ahead of its workers (`python zygote.py --keep SECONDS LOCK FD MODULE...`): the
keeper imports once, then for each command that connects to its listening socket FD forks one zygote per listening
socket the command hands over, each serving the first worker that connects to it, so that every worker's zygote
shares the pages of one import. A keeper lives SECONDS past its last zygote's end, so that the next grading command
within them finds its imports done (0: it ends with its first command's zygotes). No zygote runs submission code
itself, only imports the MODULEs (what the assignment's notebooks import, the probe's and ipykernel's own; a
MODULE:FUNCTION also calls FUNCTION, which fills a cache each kernel would fill again), so every kernel it forks
starts with them loaded instead of spending seconds importing them. Each child confines
itself before anything of the submission's runs, as bubblewrap would: new pid, mount, network, IPC, UTS and cgroup
namespaces, a root of its own holding only the system, the Python environment and the submission's folders, the
rubric's resource limits, and its job slot's user (no capabilities, no new privileges).

It imports nothing of the grader: a kernel inherits the course's packages and nothing of ours.

Protocol, over the SOCK_SEQPACKET socket FD: the worker sends one JSON request per kernel; the zygote answers
{"pid": N} with a pidfd of the kernel's init attached, or {"error": "..."} when no kernel could be forked, with
"confine": true when it was forked but a step of its confinement was refused (either way no submission code
ran). The zygote exits when the worker closes the socket or dies, or when the process that started it dies; one
forked by a keeper also when the command that asked for it closes the pipe it handed over (or dies).

A keeper answers only a process of its own user (the socket's peer credentials; its folder is that user's alone),
and takes the command's lock file (LOCK) before it stops listening, so that a command that found it listening is
served.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import importlib
import json
import os
import platform
import resource
import select
import signal
import socket
import struct
import sys
import time

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
FIRST_COMMAND_SECONDS = 120  # a keeper waits this long for the command that started it (it imports meanwhile)

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

    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"], *request["arguments"]]
    kernelapp.launch_new_instance()


def become_init(request: dict, report: int) -> None:
    """Pid 1 of the kernel's namespaces: confine, fork the kernel, pass signals on, exit with it."""
    os.setsid()
    die_with_parent()
    os.umask(0o022)
    checked("unshare", CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
    enter_new_root(request)
    close_all_but(report)  # the zygote's socket and anything an import opened: nothing of it for the kernel
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


def _readable(descriptor: int, timeout_ms: int) -> list:
    waiter = select.poll()
    waiter.register(descriptor, select.POLLIN)
    return waiter.poll(timeout_ms)


def serve(channel: socket.socket, command: int | None = None) -> None:
    """Fork a kernel for each request on `channel` until it closes, or `command` (a pipe) does."""
    own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
    waiter = select.poll()
    waiter.register(channel, select.POLLIN)
    if command is not None:
        waiter.register(command, select.POLLIN)
    while True:
        ready = {fd for fd, _ in waiter.poll()}
        if command in ready:
            return
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


def serve_ahead(listening: socket.socket, command: int) -> None:
    """A zygote forked ahead: serve the first worker that connects, in that worker's mount namespace (where its
    scratch folders are mounted: the kernels' roots are made of them), while the command that asked lives."""
    waiter = select.poll()
    waiter.register(listening, select.POLLIN)
    waiter.register(command, select.POLLIN)
    if command in {fd for fd, _ in waiter.poll()}:
        return  # the command ended and no worker took this one
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
    serve(channel, command)


def close_all_but(*kept: int) -> None:
    """Close every descriptor above stderr but `kept`."""
    start = 3
    for descriptor in sorted(kept):
        os.closerange(start, descriptor)
        start = descriptor + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def fork_zygotes_ahead(command: int, listening: list[socket.socket]) -> list[int]:
    """One zygote forked per listening socket, all sharing this process's imported pages; pidfds of them. A zygote
    holds its socket and the command's pipe only (not the keeper's socket, its request, nor the other zygotes')."""
    pidfds = []
    for own in listening:
        pid = os.fork()
        if pid == 0:
            try:
                die_with_parent()
                close_all_but(own.fileno(), command)
                serve_ahead(own, command)
            finally:
                os._exit(0)
        pidfds.append(os.pidfd_open(pid))
    return pidfds


def peer_is_own_user(connection: socket.socket) -> bool:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1] == os.getuid()


def may_stop(lock: str) -> int | None:
    """The command's lock taken, so that no command is between finding this keeper and being served; None while
    one is (it is then about to connect, or has)."""
    if lock == "-":
        return -1
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def keep(listening: socket.socket, seconds: float, lock: str) -> None:
    """Fork zygotes for each command that connects, until `seconds` have passed with no zygote of ours running
    (a first command is waited for however long `seconds` is: the command that started us is about to come)."""
    first_wait = max(seconds, FIRST_COMMAND_SECONDS)
    waiter = select.poll()
    waiter.register(listening, select.POLLIN)
    zygotes: set[int] = set()  # pidfds
    served, quiet_since = False, time.monotonic()
    while True:
        patience = seconds if served else first_wait
        left = patience - (time.monotonic() - quiet_since)
        if not zygotes and left <= 0:
            held = may_stop(lock)
            if held is not None and not _readable(listening.fileno(), 0):
                return  # exiting closes the socket (and the lock) at once: a command after this starts a keeper
            if held is not None and held >= 0:
                os.close(held)
            left = 0.1
        ready = {fd for fd, _ in waiter.poll(None if zygotes else max(left, 0) * 1000)}
        for pidfd in ready & zygotes:  # a zygote ended
            waiter.unregister(pidfd)
            os.close(pidfd)
            zygotes.discard(pidfd)
            reap()
            if not zygotes:
                quiet_since = time.monotonic()
        if listening.fileno() not in ready:
            continue
        try:
            connection, _ = listening.accept()
        except OSError:
            continue
        # a request that fails (its sender gone, no process left to fork) costs that command its warm zygotes (its
        # workers start their own), not the keeper
        with connection, contextlib.suppress(OSError):
            if not peer_is_own_user(connection):
                continue
            _, descriptors, _, _ = socket.recv_fds(connection, 4096, 64)
            if len(descriptors) < 2:
                for descriptor in descriptors:
                    os.close(descriptor)
                continue
            command, asked = descriptors[0], [socket.socket(fileno=fd) for fd in descriptors[1:]]
            try:
                for pidfd in fork_zygotes_ahead(command, asked):
                    zygotes.add(pidfd)
                    waiter.register(pidfd, select.POLLIN)
            finally:
                for own in asked:
                    own.close()
                os.close(command)
            served = True
            connection.send(json.dumps({"zygotes": len(asked)}).encode())


def main() -> None:
    """`zygote.py FD MODULE...`: import the MODULEs, then serve the worker at the other end of socket FD.
    `zygote.py --keep SECONDS LOCK FD MODULE...`: import, then keep forking zygotes ahead for the commands that
    connect to listening socket FD (see `keep`)."""
    del sys.path[0]  # this file's folder, which is the grader's: nothing of it importable by the kernels
    arguments = sys.argv[1:]
    kept = arguments[0] == "--keep"
    if kept:
        seconds, lock, descriptor, *modules = arguments[1:]
    else:
        descriptor, *modules = arguments
    if not kept or float(seconds) <= 0:
        die_with_parent()  # one kept past its command outlives it; one that is not ends with it
    given = socket.socket(fileno=int(descriptor))
    for module in modules:  # the template's imports: one missing here (a Colab-only module, say) is no failure
        name, _, function = module.partition(":")  # MODULE:FUNCTION also calls what fills a cache of MODULE's
        with contextlib.suppress(Exception):  # the notebook meets the same error itself, in its own cell
            imported = importlib.import_module(name)
            if function:
                getattr(imported, function)()
    # what the imports made lives as long as every kernel: out of the collector's sight, a kernel's full
    # collection walks its own objects only, and never writes to (so never copies) the pages it shares with us
    gc.freeze()
    if kept:
        keep(given, float(seconds), lock)
        return
    given.send(json.dumps({"ready": os.getpid()}).encode())
    serve(given)


if __name__ == "__main__":
    main()
