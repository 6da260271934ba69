"""A worker's side of its zygote (zygote.py): start it once, ask it for kernels, track them by pidfd.

One zygote per worker process, started at the worker's first kernel and ended with the worker (it reads
the end of its socket). A kernel it forks is no child of ours, so it is tracked through a pidfd (Linux
5.3+) by an object with the Popen methods jupyter_client's provisioner calls.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from grader.errors import SubmissionError

ZYGOTE_PROGRAM = Path(__file__).with_name("zygote.py")
ANSWER_SECONDS = 120  # its imports take seconds, a fork milliseconds: past this it is stuck


class KernelNotConfined(SubmissionError, RuntimeError):
    """The zygote could not fork or confine a kernel; no submission code ran.

    `confinement_refused`: the kernel was forked, but this machine refused a step of its confinement (a mount,
    a namespace, pivot_root): it will refuse every kernel. Otherwise the zygote itself failed (it died or
    hung), which a fresh zygote may not."""

    def __init__(self, reason: str, confinement_refused: bool = False) -> None:
        super().__init__(reason)
        self.confinement_refused = confinement_refused


class ForkedKernel:
    """A forked kernel's init, through a pidfd: what jupyter_client's LocalProvisioner asks of a Popen.

    Its exit status goes to the zygote, its parent: `returncode` only says that it ended (-SIGKILL when
    it was killed from here, else 0).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd
        self.returncode: int | None = None
        self._killed = False

    def _ended(self, timeout: float | None) -> bool:
        """Whether the process has ended, waiting up to `timeout` seconds (None: for ever) for it to.

        poll(2), not select(2): a worker that holds many descriptors may number this one past 1024."""
        waiter = select.poll()
        waiter.register(self.pidfd, select.POLLIN)
        return bool(waiter.poll(None if timeout is None else timeout * 1000))

    def poll(self) -> int | None:
        if self.returncode is None and self.pidfd >= 0 and self._ended(0):
            self.returncode = -signal.SIGKILL if self._killed else 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            self.poll()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, number: int) -> None:
        if self.pidfd < 0 or self.poll() is not None:
            return
        self._killed = self._killed or number == signal.SIGKILL
        signal.pidfd_send_signal(self.pidfd, number)
        if number == signal.SIGKILL:  # dead within a moment: wait, or the provisioner polls again only in 0.1 s
            self._ended(1)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The running zygote of this worker; requests from the worker's threads take turns on its socket."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.home = tempfile.mkdtemp(prefix="grader-zygote-")  # its matplotlib cache; no kernel sees it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, str(ZYGOTE_PROGRAM), str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=environment | {"HOME": self.home, "MPLCONFIGDIR": self.home, "TMPDIR": self.home},
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.channel = ours
        self.channel.settimeout(ANSWER_SECONDS)
        self.turn = threading.Lock()
        try:
            ready = self.channel.recv(4096)
        except TimeoutError:
            ready = b""
            self.process.kill()
        if not ready:
            code = self.process.wait()
            raise KernelNotConfined(f"the zygote ended while importing the course's packages (exit status {code})")

    def fork_kernel(self, request: dict) -> ForkedKernel:
        with self.turn:
            self.channel.send(json.dumps(request).encode())
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 1 << 16, 1)
            except TimeoutError:
                self.process.kill()  # stuck: the next kernel gets a fresh zygote
                self.process.wait()
                raise KernelNotConfined(f"the zygote did not answer in {ANSWER_SECONDS} s") from None
        if not message:
            raise ConnectionResetError("the zygote is gone")
        answer = json.loads(message)
        if "error" in answer:
            raise KernelNotConfined(answer["error"], confinement_refused="confine" in answer)
        return ForkedKernel(answer["pid"], fds[0])

    def close(self) -> None:
        self.channel.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.home, ignore_errors=True)


_zygote: Zygote | None = None
_starting = threading.Lock()


def fork_kernel(request: dict) -> ForkedKernel:
    """A kernel forked and confined as `request` says, by this worker's zygote (started now if need be, and
    again if it died)."""
    try:
        return _running_zygote(request).fork_kernel(request)
    except ConnectionError:  # it died since the last kernel (killed, out of memory): once more, afresh
        return _running_zygote(request).fork_kernel(request)


def _running_zygote(request: dict) -> Zygote:
    global _zygote
    with _starting:
        if _zygote is None or _zygote.process.poll() is not None:
            _zygote = Zygote(zygote_environment(request["env"]))
            atexit.register(_zygote.close)
        return _zygote


def zygote_environment(kernel_env: dict[str, str]) -> dict[str, str]:
    """What the zygote starts with: a kernel's environment (threads, hash seed, backend are fixed at import
    or at interpreter start, so they must be the kernel's already)."""
    return {name: value for name, value in kernel_env.items() if name not in ("HOME", "TMPDIR", "MPLCONFIGDIR")}
