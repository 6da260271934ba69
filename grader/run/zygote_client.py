"""A worker's side of its zygote (zygote.py): start it once, ask it for kernels, track them by pidfd.

One zygote per worker process, ended with the worker (it reads the end of its socket): one the grading command
started ahead, so that its seconds of imports overlap the workers' own start and one import serves every worker
(`ZygotesAhead`), else one the worker starts at its first kernel. A kernel it forks is no child of ours, so it is
tracked through a pidfd (Linux 5.3+) by an object with the Popen methods jupyter_client's provisioner calls.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from grader.assignment import current_assignment
from grader.errors import SubmissionError

ZYGOTE_PROGRAM = Path(__file__).with_name("zygote.py")
# what every kernel imports whatever the assignment: the probe's numpy and torch (grader/run/kernel_probe.py), with
# the table of torch's functions by name that the recording reads (built on its first use: 35 ms of every kernel),
# and ipykernel (debugpy, through its debugger: 0.2 s of every kernel's start)
PROBE_MODULES = ("numpy", "torch", "torch.overrides:get_overridable_functions")
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger")
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
    """The running zygote of this worker; requests from the worker's threads take turns on its socket.

    Started by this worker (`start`), or taken from those the grading command started ahead (`take_one_ahead`):
    such a one is no child of ours, and its home is the command's to remove."""

    def __init__(
        self, channel: socket.socket, process: subprocess.Popen | None, home: str | None, modules: tuple[str, ...]
    ) -> None:
        self.channel, self.process, self.home, self.modules = channel, process, home, modules
        self.channel.settimeout(ANSWER_SECONDS)
        self.turn = threading.Lock()
        try:
            ready = self.channel.recv(4096)
        except TimeoutError:
            ready = b""
        said = json.loads(ready) if ready else {}
        if "ready" not in said:
            self.channel.close()
            code = self._end()
            raise KernelNotConfined(
                said.get("error", f"the zygote ended while importing the course's packages (exit status {code})")
            )
        self.pid = said["ready"]
        self.pidfd = os.pidfd_open(self.pid)

    @classmethod
    def start(cls, environment: dict[str, str], modules: tuple[str, ...]) -> Zygote:
        home = tempfile.mkdtemp(prefix="grader-zygote-")  # its matplotlib cache; no kernel sees it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = subprocess.Popen(
            [sys.executable, str(ZYGOTE_PROGRAM), str(theirs.fileno()), *modules],
            pass_fds=[theirs.fileno()],
            env=_zygote_process_environment(environment, home),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        return cls(ours, process, home, modules)

    def _end(self) -> int | None:
        """Kill our own zygote if it is still running (one started ahead ends when its socket closes)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()

    def alive(self) -> bool:
        # a pidfd reads ready once its process has ended; poll(2), not select(2), as for kernels (ForkedKernel)
        waiter = select.poll()
        waiter.register(self.pidfd, select.POLLIN)
        return not waiter.poll(0)

    def kill(self) -> None:
        """End it now, ours or started ahead (then through its pidfd)."""
        signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def fork_kernel(self, request: dict) -> ForkedKernel:
        with self.turn:
            self.channel.send(json.dumps(request).encode())
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 1 << 16, 1)
            except TimeoutError:
                self.kill()  # stuck: the next kernel gets a fresh zygote
                raise KernelNotConfined(f"the zygote did not answer in {ANSWER_SECONDS} s") from None
        if not message:
            raise ConnectionResetError("the zygote is gone")
        answer = json.loads(message)
        if "error" in answer:
            raise KernelNotConfined(answer["error"], confinement_refused="confine" in answer)
        return ForkedKernel(answer["pid"], fds[0])

    def close(self) -> None:
        self.channel.close()
        os.close(self.pidfd)
        if self.process is not None:
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


def warm_modules() -> tuple[str, ...]:
    """What the zygote imports for the process's assignment: what its kernels would import first."""
    return tuple(dict.fromkeys((*PROBE_MODULES, *current_assignment().warm_modules, *KERNEL_MODULES)))


def _running_zygote(request: dict) -> Zygote:
    global _zygote
    modules = warm_modules()
    with _starting:
        if _zygote is not None and _zygote.modules != modules:  # another assignment's (a test process grades two)
            atexit.unregister(_zygote.close)
            _zygote.close()
            _zygote = None
        if _zygote is None or not _zygote.alive():
            _zygote = take_one_ahead(modules) or Zygote.start(zygote_environment(request["env"]), modules)
            atexit.register(_zygote.close)
        return _zygote


# ---- zygotes started ahead: by the grading command, while its workers start -----------------------------------

_ahead: Path | None = None  # the folder of the zygotes started ahead, in a worker told of them


def offer_ahead(folder: Path | None) -> None:
    """In a worker: the folder holding zygotes the grading command started ahead (None: none were)."""
    global _ahead
    _ahead = folder


def take_one_ahead(modules: tuple[str, ...]) -> Zygote | None:
    """One of the zygotes started ahead that no other worker took, connected; None when none is left. They
    import `modules`, the command's: its workers grade its assignment."""
    if _ahead is None:
        return None
    for address in sorted(_ahead.glob("*.sock")):
        try:  # the claim: the first worker to create the marker has it
            os.close(os.open(address.with_suffix(".taken"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            channel.connect(str(address))
            # started by the command, it joins this worker's mount namespace (its scratch mounts are there)
            namespace = os.open("/proc/self/ns/mnt", os.O_RDONLY)
            try:
                socket.send_fds(channel, [b"mounts"], [namespace])
            finally:
                os.close(namespace)
            return Zygote(channel, None, None, modules)
        except (OSError, KernelNotConfined):  # it died meanwhile: this worker starts its own
            channel.close()
            return None
    return None


KEEP_VARIABLE = "GRADER_KEEP_WARM"
KEY_LENGTH = 24  # hexadecimal digits of a keeper's key
KEEP_SECONDS = 600.0  # how long a keeper outlives its last command's zygotes, unless GRADER_KEEP_WARM says


def keep_seconds() -> float:
    """$GRADER_KEEP_WARM seconds (0: a command's keeper ends with it), else KEEP_SECONDS."""
    given = os.environ.get(KEEP_VARIABLE, "").strip()
    if not given:
        return KEEP_SECONDS
    try:
        return max(float(given), 0.0)
    except ValueError:
        print(f"warning: {KEEP_VARIABLE}={given!r} is not a number of seconds; keeping nothing warm", file=sys.stderr)
        return 0.0


def keeper_folder() -> Path | None:
    """This user's folder for keepers ($XDG_RUNTIME_DIR/grader, else grader-UID in the temporary folder), or
    None where it is not this user's alone (another's, a link, open to others): a keeper forks kernels as it is
    asked, so only its own user may ask."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    folder = Path(runtime) / "grader" if runtime else Path(tempfile.gettempdir()) / f"grader-{os.getuid()}"
    try:
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        found = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        return None
    # a socket's address holds at most 107 bytes: a keeper's is the folder, a key and ".sock"
    return folder if len(os.fsencode(folder)) + KEY_LENGTH + len("/.sock") <= 107 else None


def keeper_key(environment: dict[str, str], modules: tuple[str, ...]) -> str:
    """What a kept keeper must share with this command to serve it: the interpreter, the zygote's code, its
    environment (threads and hash seed are fixed when it starts), the modules and the packages they come from (an
    install or upgrade changes a site-packages folder)."""
    digest = hashlib.sha256()
    packages = [
        f"{entry}:{os.stat(entry).st_mtime_ns}"
        for entry in sys.path
        if entry.endswith("-packages") and os.path.isdir(entry)
    ]
    for part in (
        os.path.realpath(sys.executable),
        sys.version,
        ZYGOTE_PROGRAM.read_text(),
        json.dumps(environment, sort_keys=True),
        *modules,
        *packages,
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:KEY_LENGTH]


class ZygotesAhead:
    """`count` zygotes forked now by a keeper (grader/run/zygote.py), each listening on a socket in a folder of its
    own (0700), for the workers that will ask for kernels: they share the pages of the keeper's one import. The
    keeper is one kept from an earlier command of this user's with the same interpreter, packages and modules (its
    imports done: seconds sooner), else one started now (kept GRADER_KEEP_WARM seconds after this command's
    zygotes end; with 0, ending with them). On leaving, the pipe the zygotes watch is closed: every one ends."""

    def __init__(self, count: int, environment: dict[str, str], modules: tuple[str, ...]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="grader-zygotes-"))
        self.keeper: subprocess.Popen | None = None  # one this command started, if it did
        self.own_keeper = False  # whether that one ends with this command
        listening = []
        for number in range(count):
            listening.append(socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET))
            listening[-1].bind(str(self.folder / f"{number}.sock"))
            listening[-1].listen(1)
        reading, self.command = os.pipe()
        try:
            with self._keeper(environment, modules) as keeper:
                socket.send_fds(keeper, [b"zygotes"], [reading, *(own.fileno() for own in listening)])
        finally:
            os.close(reading)
            for own in listening:
                own.close()

    def _keeper(self, environment: dict[str, str], modules: tuple[str, ...]) -> socket.socket:
        """A connection to a keeper: one kept that this user's commands share, else one of this command's own."""
        seconds, shared = keep_seconds(), keeper_folder()
        if seconds > 0 and shared is not None:
            try:
                return self._shared_keeper(shared, seconds, environment, modules)
            except OSError as error:  # its folder or lock unusable: this command's own, which costs only time
                print(f"warning: no warm keeper could be kept ({error}); grading on", file=sys.stderr)
        self.own_keeper = True
        return self._start_keeper(self.folder / "keeper.sock", "-", 0, environment, modules, self.folder)

    def _shared_keeper(
        self, shared: Path, seconds: float, environment: dict[str, str], modules: tuple[str, ...]
    ) -> socket.socket:
        """A connection to the keeper kept for this key, started now if none listens."""
        key = keeper_key(environment, modules)
        address, lock = shared / f"{key}.sock", shared / f"{key}.lock"
        held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)  # a keeper takes it before it stops listening
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                channel.connect(str(address))
                return channel
            except OSError:  # none, or one that ended (killed) and left its socket
                channel.close()
            with contextlib.suppress(FileNotFoundError):
                address.unlink()
            home = shared / f"{key}.home"
            home.mkdir(mode=0o700, exist_ok=True)
            return self._start_keeper(address, str(lock), seconds, environment, modules, home)
        finally:
            os.close(held)

    def _start_keeper(
        self, address: Path, lock: str, seconds: float, environment: dict, modules: tuple, home: Path
    ) -> socket.socket:
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listening.bind(str(address))
        listening.listen(8)
        with listening:
            self.keeper = subprocess.Popen(
                [
                    sys.executable,
                    str(ZYGOTE_PROGRAM),
                    "--keep",
                    f"{seconds:g}",
                    lock,
                    str(listening.fileno()),
                    *modules,
                ],
                pass_fds=[listening.fileno()],
                env=_zygote_process_environment(environment, str(home)),
                # a kept one outlives this command: nothing of its terminal, its signals or its output
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL if seconds > 0 else None,
                start_new_session=True,
                cwd="/",  # a kept one holds no folder of this command's
            )
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            channel.connect(str(address))  # in its backlog: served once it has imported
        return channel

    def __enter__(self) -> Path:
        return self.folder

    def __exit__(self, *exc) -> None:
        # the workers have ended; the zygotes they took and those never taken end when this pipe closes, and a
        # keeper of this command's own with them
        os.close(self.command)
        if self.keeper is not None and self.own_keeper:
            try:
                self.keeper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.keeper.kill()
                self.keeper.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _zygote_process_environment(environment: dict[str, str], home: str) -> dict[str, str]:
    return environment | {"HOME": home, "MPLCONFIGDIR": home, "TMPDIR": home}


def zygote_environment(kernel_env: dict[str, str]) -> dict[str, str]:
    """What the zygote starts with: a kernel's environment (threads, hash seed, backend are fixed at import
    or at interpreter start, so they must be the kernel's already)."""
    return {name: value for name, value in kernel_env.items() if name not in ("HOME", "TMPDIR", "MPLCONFIGDIR")}
