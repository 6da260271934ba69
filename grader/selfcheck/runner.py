"""The self-check of ASSIGNMENT_TITLE: check your functions before you submit.

In the notebook, after running your cells:

    from selfcheck import check
    check("FIRST_ITEM")  # one function (by its name, as in the feedback)
    check()  # all of them

From a shell, on a saved notebook (runs it with few epochs first):

    python selfcheck.py NOTEBOOK_FILE

The checks are the grader's own: its judges, tolerances, messages and hints
(the code between the SHARED WITH THE GRADER markers is the grader's, copied
in), run on public cases of every kind the grader's hidden cases have, with
the expected values shipped as numbers in selfcheck_cases.npz. A function
passes here exactly when the grader's checks pass it on these cases; the
grader runs the same checks on hidden cases of other sizes and seeds.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import os
import re
import sys
import textwrap
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"
INSTALL = "pip install -r requirements.txt   (the course's pinned packages, in the bundle)"
# from the shell: a cell running longer is reported, and again every as many seconds
SLOW_CELL_SECONDS = float(os.environ.get("SELFCHECK_SLOW_CELL_SECONDS", "30"))
CASES_FILE = Path(__file__).with_name("selfcheck_cases.npz")
FAILURES_SHOWN = 3  # failed checks shown in full per function (the rest are counted)
# as the grader's kernels: quiet, and no IPython history in SQLite (a thread writing after every cell, into your
# own ~/.ipython; `In`, `Out` and `%history` of the kernel's session live in memory either way)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]


class MissingPackage(Exception):
    """A package the self-check needs is not installed: one line says what to install."""


def _require(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ModuleNotFoundError as error:
        raise MissingPackage(f"the self-check needs `{error.name}`, which is not installed: {INSTALL}") from None


# ---- BEGIN SHARED WITH THE GRADER ----


# ---- END SHARED WITH THE GRADER ----


# ---- the public cases and their expected values ----------------------------------------------------------------


@cache
def public_cases() -> tuple[dict[str, list[Case]], dict[str, list[dict]], dict[str, dict], dict, int]:
    """The public cases by item, the probe's calls and arrays by item, the expected values, and the notebook's
    training rows, from selfcheck_cases.npz."""
    if not CASES_FILE.is_file():
        raise MissingPackage(f"the self-check needs {CASES_FILE.name} beside it, as the bundle has it")
    with np.load(CASES_FILE, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays.pop("meta")))
    cases, calls, inputs = {}, {}, {}
    for item, described in meta["items"].items():
        own = {name[len(item) + 1 :]: value for name, value in arrays.items() if name.startswith(f"{item}/")}
        cases[item] = cases_from_calls(item, described["cases"], described["calls"], own)
        calls[item], inputs[item] = described["calls"], own
    shipped = {name: value for name, value in arrays.items() if not name.startswith(tuple(f"{i}/" for i in cases))}
    return cases, calls, inputs, shipped, meta["training_rows"]


def feedback_name(function: str) -> str:
    """The feedback's name for a function's item: `item (function)` where they differ."""
    item = next((item for item, entry in ITEM_TABLE.items() if entry["function"] == function), function)
    return function if item == function else f"{item} ({function})"


# ---- running the checks ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    item: str  # the function checked
    case: str  # the check: the grader's test name (`loss_fn.single_example`)
    passed: bool
    message: str = ""
    rule: bool = False  # failed by the rubric's rule on what the function may use: the grader scores it 0


def _import_torch() -> None:
    _require("torch")


def _options(value: object) -> object:
    """The rubric's tables with attribute access, as the judges read them."""
    if isinstance(value, dict):
        return types.SimpleNamespace(**{key: _options(entry) for key, entry in value.items()})
    return value


def _definition(function: Callable) -> ast.FunctionDef | None:
    """The function's `def`, parsed from its source (the grader reads the same from the notebook's text)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None  # no source to read (defined by exec)
    return next((node for node in tree.body if isinstance(node, ast.FunctionDef)), None)


def rule_broken(item: str, function: Callable) -> str:
    """The grader's verdict by the rubric's rule on the function's own code (the names it uses), or ""."""
    rule, definition = ITEM_OPTIONS[item]["rule"], _definition(function)
    if rule is None or definition is None:
        return ""
    used = forbidden_identifiers(definition, rule["identifiers"])
    if not used:
        return ""
    return f"{ITEM_TABLE[item]['function']} uses {', '.join(used)}: {rule['reason']}"


def _not_defined(function: str, raised: dict[str, str]) -> str:
    if function in raised:
        return f"`{function}` is not defined: its cell raised {raised[function]}; fix that cell first"
    return f"`{function}` is not defined: run its cell first"


def _items_of(functions: list[str]) -> list[str]:
    """The items to judge for these functions, in the grader's order: an item that composes others (a training)
    also needs their verdicts (checked quietly)."""
    wanted = {item for item, entry in ITEM_TABLE.items() if entry["function"] in functions}
    for item in list(wanted):
        wanted |= set(ITEM_TABLE[item]["composes"])
    return [item for item in ITEM_TABLE if item in wanted]


def run_checks(
    namespace: dict, functions: list[str] | None = None, raised: dict[str, str] | None = None
) -> list[Outcome]:
    """The grader's checks of `functions` (default: all) on the public cases, with the functions in `namespace`.

    `raised`: the graded functions whose notebook cell raised, and what it raised."""
    _import_torch()
    raised = raised or {}
    functions = functions or [entry["function"] for entry in ITEM_TABLE.values()]
    cases, calls, inputs, expected, training_rows = public_cases()
    standards = Standards(
        RTOL,
        ATOL,
        _options(ITEM_OPTIONS).__dict__,
        SHIPPED_EXPECTED(expected),
        training_rows,
        notebook_sizes=tuple(NOTEBOOK_SIZES.items()),
    )
    outcomes, failing = [], set()
    for item in _items_of(functions):
        entry = _options(ITEM_TABLE[item])
        entry.judge = globals()[entry.judge]
        rule = ITEM_OPTIONS[item]["rule"]
        watch = rule["watch"] if rule else []
        item_calls = [dict(call, watch=[] if call["handout_loop"] else watch) for call in calls[item]]
        meta, results = {}, {}
        graded = [call for call in item_calls if not call["handout_loop"]]
        with contextlib.redirect_stdout(io.StringIO()):  # training progress would bury the verdicts
            _grader_call_all(namespace, graded, inputs[item], CALL_TIMEOUT, 1_000_000, meta, results, False)
            found = outcomes_from(meta, results, [call["key"] for call in graded])
            loops = [call for call in item_calls if call["handout_loop"]]
            composes = ITEM_TABLE[item]["composes"]
            if loops and handout_loop_read(composes, cases[item], found, failing, standards.expected):
                _grader_call_all(namespace, loops, inputs[item], CALL_TIMEOUT, 1_000_000, meta, results, False)
        found = outcomes_from(meta, results, [call["key"] for call in item_calls])
        function = namespace.get(entry.function)
        breach = rule_broken(item, function) if callable(function) else ""
        definition = _definition(function) if callable(function) else None
        ignored = ignored_arguments(definition) if definition else []
        now = replace(standards, failing=frozenset(failing))
        tests = judge_cases(item, entry, cases[item], found, now, breach, ignored)
        failing |= {item} if any(check.problem for _, _, check in tests) else set()
        if entry.function not in functions:
            continue
        if not callable(function):
            outcomes.append(Outcome(entry.function, "defined", False, _not_defined(entry.function, raised)))
            continue
        for name, called_it, check in tests:
            message = ""
            if check.problem:
                message = TestResult(
                    item, name, 0.0, 1.0, called_it, check.problem, check.mistake, check.trouble
                ).output
            outcomes.append(Outcome(entry.function, name, not check.problem, message, check.trouble == Trouble.RULE))
    return outcomes


def _colour_wanted() -> bool:
    """Colour only for a terminal (and not when NO_COLOR is set): a file or a notebook gets plain text."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def report(outcomes: list[Outcome], seconds: float, colour: bool = False) -> str:
    """One line a function, PASS or FAIL; under a failing one, its first failed checks in the grader's words."""
    lines = []
    functions = list(dict.fromkeys(o.item for o in outcomes))
    for function in functions:
        own = [o for o in outcomes if o.item == function]
        failed = [o for o in own if not o.passed]
        mark = "FAIL" if failed else "PASS"
        if colour:
            mark = f"{RED if failed else GREEN}{mark}{RESET}"
        name = feedback_name(function)
        checks = f"{len(own)} check{'' if len(own) == 1 else 's'}"
        counted = f"{len(failed)} of {checks} failed" if failed else f"{checks} passed"
        lines.append(f"{mark} {name}: {counted}")
        for o in failed[:FAILURES_SHOWN]:
            lines.append(f"     [{o.case}] {o.message}")
        if len(failed) > FAILURES_SHOWN:
            lines.append(
                f"     ... and {len(failed) - FAILURES_SHOWN} more checks of {function} failed (shown above: the first)"
            )
        if any(o.rule for o in failed):
            lines.append(f"     The grader scores {function} 0 for this, whatever its values.")
        composing = {function: _options(ITEM_TABLE[function])} if function in ITEM_TABLE else {}
        if policy := charged_once(composing, {o.item for o in outcomes if not o.passed}):
            lines.append(f"     {policy}")
    worth = ", ".join(f"{function} {POINTS[function]}" for function in functions)
    passed = sum(not any(not o.passed for o in outcomes if o.item == f) for f in functions)
    lines.append(f"\n{passed} of {len(functions)} functions passed every check, in {seconds:.1f} s.")
    lines.append(
        f"Points: {worth} (written answers {WRITTEN_POINTS}). These are the grader's own checks on public cases; "
        "the grader runs them on hidden tests of the same kinds (other sizes and seeds) too."
    )
    return "\n".join(lines)


def _function(name: str) -> str:
    """The function of an item named as the feedback names it (its item's name), or as it is named."""
    return ITEM_TABLE[name]["function"] if name in ITEM_TABLE else name


def check(item: str | None = None) -> None:
    """Check one graded function (by name) or all of them, in the notebook that calls this; prints the verdicts."""
    _check_and_report(inspect.currentframe().f_back.f_globals, item, _colour_wanted())


def _check_and_report(namespace: dict, item: str | None, colour: bool, raised: dict[str, str] | None = None) -> bool:
    functions = [entry["function"] for entry in ITEM_TABLE.values()]
    if item is not None and _function(item) not in functions:
        names = [feedback_name(function).split(" ")[0] for function in functions]
        raise ValueError(f"unknown item {item!r}; choose one of {', '.join(names)}")
    started = time.perf_counter()
    try:
        outcomes = run_checks(namespace, [_function(item)] if item else None, raised)
    except MissingPackage as missing:
        print(missing)
        return False
    print(report(outcomes, time.perf_counter() - started, colour))
    return all(o.passed for o in outcomes)


def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _called_name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def epochs_bypassed(cells: list[str], epochs: int) -> list[str]:
    """A warning for each training call in the cells' code (every cell of the notebook, "" for text) that does
    not pass epochs=EPOCHS: the self-check's fewer epochs do not reach it, so it trains for as many as it says
    (its signature's default in the handout, TRAININGS, when it says none)."""
    warnings = []
    for number, source in enumerate(cells, start=1):
        try:
            tree = ast.parse(
                "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
            )
        except SyntaxError:
            continue
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            if _called_name(call) not in TRAININGS:
                continue
            given = next((k.value for k in call.keywords if k.arg == "epochs"), None)
            if isinstance(given, ast.Name) and given.id == "EPOCHS":
                continue
            default = TRAININGS[_called_name(call)]
            count = given.value if isinstance(given, ast.Constant) else default if given is None else None
            if isinstance(count, (int, float)) and count <= epochs:
                continue
            says = f"epochs={count:g}" if count is not None else f"epochs={ast.unparse(given)}"
            says = f"no epochs (the default, {default})" if given is None else says
            warnings.append(
                f"warning: cell {number} calls {_called_name(call)} with {says}, not epochs=EPOCHS: the "
                f"self-check's EPOCHS = {epochs} does not reach it, so it trains that long. Pass epochs=EPOCHS, "
                "as the handout does."
            )
    return warnings


class _Progress:
    """From the shell, while the notebook runs: on a terminal, one line that follows the cells; anywhere, the
    cell still running once it passes SLOW_CELL_SECONDS (and every as many seconds after)."""

    def __init__(self, cells: int, live: bool) -> None:
        import threading

        self.cells, self.live = cells, live
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def started(self, number: int, source: str) -> None:
        import threading

        self.finished()
        if self.live:
            line = f"running the notebook: cell {number} of {self.cells} (`{_first_line(source)}`)"
            print(f"\r\033[K{line}", end="", flush=True)
        self.stop = threading.Event()
        started, stop = time.monotonic(), self.stop

        def report() -> None:
            while not stop.wait(SLOW_CELL_SECONDS):
                print(
                    f"{self._clear()}  still running cell {number} (`{_first_line(source)}`): "
                    f"{time.monotonic() - started:.0f} s",
                    flush=True,
                )

        self.thread = threading.Thread(target=report, daemon=True)
        self.thread.start()

    def _clear(self) -> str:
        return "\r\033[K" if self.live else ""

    def finished(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def done(self) -> None:
        self.finished()
        if self.live:
            print(self._clear(), end="", flush=True)


def _transport() -> str:
    """IPC sockets where the system has them (nothing listens on the network), else TCP on loopback (Windows);
    SELFCHECK_TRANSPORT=tcp or ipc chooses."""
    import socket

    chosen = os.environ.get("SELFCHECK_TRANSPORT", "").lower()
    if chosen in ("tcp", "ipc"):
        return chosen
    return "ipc" if hasattr(socket, "AF_UNIX") and os.name != "nt" else "tcp"


# ---- a kernel kept ready for the next check (Linux, macOS) -------------------------------------------------------
# Most of a check's seconds go to importing the course's packages into a fresh kernel. So each check from the shell
# leaves one fresh kernel behind, its imports done and nothing of any notebook run in it, for the next check to
# take; a kept kernel nobody takes ends after SPARE_IDLE_SECONDS, and one taken ends with the check that took it.
# SELFCHECK_SPARE=0 keeps none; `python selfcheck.py --stop` ends a kept kernel now.
SPARE_IDLE_SECONDS = float(os.environ.get("SELFCHECK_SPARE_IDLE_SECONDS", "900"))
SPARE_SERVE = "--serve-spare"  # the command line of a kept kernel's process (not for students)


def _spares_wanted() -> bool:
    return os.name == "posix" and os.environ.get("SELFCHECK_SPARE", "1").lower() not in ("0", "off", "no", "false")


def _spare_folder() -> Path | None:
    """This user's folder for kept kernels (their tokens, connection files and sockets), private to them; None
    where there can be none (a folder of that name that is someone else's, or that others may write into)."""
    import stat
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"selfcheck-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        found = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        return None
    return folder


def _spare_key() -> str:
    """Kernels kept by this very self-check (its bytes), for this Python and what of the environment decides what
    a kernel imports and how it computes, serve its checks."""
    import hashlib
    import sysconfig

    environment = sorted(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith(("PYTHON", "OMP_", "MKL_", "OPENBLAS", "TORCH", "CUDA", "LD_", "MPL"))
        or name in ("PATH", "VIRTUAL_ENV", "CONDA_PREFIX")
    )
    # the packages' folder changes when a package is installed or removed: kernels kept before do not serve
    packages = Path(sysconfig.get_paths()["purelib"])
    installed = packages.stat().st_mtime_ns if packages.is_dir() else 0
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(repr((sys.executable, sys.version, environment, installed)).encode())
    return digest.hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process of that number: not ours to touch, but there
    return True


def _spare_running(folder: Path, pid: int) -> bool:
    """Whether the kept kernel of that number still runs: it holds a lock on its own file for as long as it lives,
    which no process that merely got its number after it (a reboot, a wrap-around) holds."""
    import fcntl

    try:
        descriptor = os.open(folder / f"kernel-{pid}.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _end_spare(folder: Path, pid: int) -> None:
    """End a kept kernel, whatever it started, and remove its files."""
    import signal

    if _spare_running(folder, pid):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # it leads a session of its own: the group is it and its children
    for leftover in [*folder.glob(f"kernel-{pid}*"), *folder.glob(f"claimed-*-{pid}.json")]:
        leftover.unlink(missing_ok=True)


def _claim_spare(folder: Path, key: str) -> dict | None:
    """Take a kept kernel of this key, if one is there and alive: {"pid", "connection_file"}, else None. Taking is
    renaming its token: of two checks at once, one gets it."""

    def age(token: Path) -> float:  # the oldest first: it is the likeliest to have finished importing
        try:
            return token.stat().st_mtime
        except OSError:
            return float("inf")  # taken meanwhile

    for token in sorted(folder.glob(f"spare-{key}-*.json"), key=age):
        pid = int(token.stem.rsplit("-", 1)[1])
        claimed = folder / f"claimed-{os.getpid()}-{pid}.json"
        try:
            token.rename(claimed)
            kept = json.loads(claimed.read_text())
        except (OSError, ValueError):
            continue
        if _spare_running(folder, pid):
            return kept
        claimed.unlink(missing_ok=True)
        _end_spare(folder, pid)
    return None


SPARES_AT_MOST = 2  # kept kernels waiting at once, whatever their key (two bundles, two Pythons)
SPARE_MEMORY_MIB = 1536  # none is started where less memory than this is available (Linux says how much)


def _memory_available_mib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            found = next(line for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return float("inf")  # not Linux: not known, not refused
    return int(found.split()[1]) / 1024


def _keep_one_ready(folder: Path, key: str) -> None:
    """Start a kernel for the next check, in the background, unless one of this key waits already, SPARES_AT_MOST
    of any key wait, or the machine is short of memory (a kept kernel holds some 350 MiB)."""
    import subprocess

    waiting = list(folder.glob("spare-*.json"))
    if any(token.name.startswith(f"spare-{key}-") for token in waiting) or len(waiting) >= SPARES_AT_MOST:
        return
    if _memory_available_mib() < SPARE_MEMORY_MIB:
        return
    environment = {name: value for name, value in os.environ.items() if not name.startswith("JPY_")}
    # nothing of the terminal: a kept kernel must not hold a caller's pipes open, nor get its Ctrl-C
    subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), SPARE_SERVE, str(folder), key],
        cwd=folder,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _serve_spare(folder: Path, key: str) -> None:
    """A kept kernel's process: its connection and token written, the course's packages imported, then a kernel
    until a check takes it and ends it (or until SPARE_IDLE_SECONDS pass untaken)."""
    import fcntl
    import threading

    del sys.path[0]  # this file's folder: the kernel finds the bundle as a fresh one does, by its first cell
    pid = os.getpid()
    # held until the process ends (this function returns only then): how a check tells it runs (_spare_running)
    lock = os.open(folder / f"kernel-{pid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    connect = _require("jupyter_client.connect")
    connection_file, _ = connect.write_connection_file(
        str(folder / f"kernel-{pid}.json"), transport="ipc", ip=str(folder / f"kernel-{pid}")
    )
    token = folder / f"spare-{key}-{pid}.json"
    written = token.with_suffix(".part")
    written.write_text(json.dumps({"pid": pid, "connection_file": connection_file}))
    written.rename(token)  # whole, or not there: a check never reads half a token
    for module in WARM_MODULES:
        with contextlib.suppress(Exception):  # the notebook meets the same error itself, in its own cell
            __import__(module)
    threading.Thread(target=_spare_watch, args=(folder, token), daemon=True).start()
    import importlib.util

    from ipykernel.kernelapp import launch_new_instance

    arguments = ["-f", connection_file, *KERNEL_ARGUMENTS]
    # the command line a notebook sees is a fresh kernel's, as Jupyter starts one
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *arguments]
    launch_new_instance(argv=arguments)


def _spare_watch(folder: Path, token: Path) -> None:
    """In a kept kernel: untaken for SPARE_IDLE_SECONDS, it ends; taken, it ends when the check that took it ends
    (a check ends its kernel itself, but may be killed first)."""
    pid, deadline = os.getpid(), time.monotonic() + SPARE_IDLE_SECONDS
    while token.exists():
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                token.rename(token.with_suffix(".expired"))  # ours to end, unless a check took it this instant
                token.with_suffix(".expired").unlink()
                _end_spare(folder, pid)
        time.sleep(0.5)
    claimed = next(folder.glob(f"claimed-*-{pid}.json"), None)
    claimant = int(claimed.name.split("-")[1]) if claimed else 0
    if claimed:
        claimed.unlink(missing_ok=True)
    while claimant and _alive(claimant):
        time.sleep(1)
    _end_spare(folder, pid)


def stop_spares() -> int:
    """End every kernel this user's self-checks keep ready, and clear what ended ones left; how many were ended."""
    folder = _spare_folder() if os.name == "posix" else None
    ended = 0
    for token in folder.glob("spare-*.json") if folder else ():
        pid = int(token.stem.rsplit("-", 1)[1])
        with contextlib.suppress(OSError):
            token.unlink()
            _end_spare(folder, pid)
            ended += 1
    for left in folder.glob("claimed-*.json") if folder else ():
        pid = int(left.stem.rsplit("-", 1)[1])
        if not _spare_running(folder, pid):  # a check's kernel that ended without a word (a crash)
            _end_spare(folder, pid)
    return ended


def _kept_kernel_manager(kept: dict) -> Any:
    """A manager of a kernel an earlier check started: this check uses it and ends it, though not its parent."""
    import signal

    base = _require("jupyter_client.manager").AsyncKernelManager
    pid, folder = kept["pid"], Path(kept["connection_file"]).parent

    class KeptKernelManager(base):
        @property
        def has_kernel(self) -> bool:
            return True

        async def _async_is_alive(self) -> bool:  # its client asks this of it while it waits for the kernel
            return _spare_running(folder, pid)

        async def _async_interrupt_kernel(self) -> None:
            os.kill(pid, signal.SIGINT)

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            _end_spare(folder, pid)
            self._close_control_socket()

        is_alive, interrupt_kernel, shutdown_kernel = _async_is_alive, _async_interrupt_kernel, _async_shutdown_kernel

    manager = KeptKernelManager(connection_file=kept["connection_file"])
    manager.load_connection_file()
    return manager


def check_notebook(path: str, item: str | None = None) -> bool:
    """Run a saved notebook (its parameters set to NOTEBOOK_PARAMETERS: few epochs) in a fresh kernel as the grader
    runs it, then the checks (of `item`) inside it. Cells are numbered as the notebook lists them, text cells
    included."""
    started = time.monotonic()
    # Jupyter's notices about its own folders and transports are not the student's business
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    import warnings

    warnings.filterwarnings("ignore", module="jupyter_client|jupyter_core|zmq|traitlets")
    # as the grader's kernels: figures drawn without a window or an image for a front end to show, one thread (the
    # same numbers on every machine, and no thread of the kernel waiting on a core the kept kernel is importing on)
    os.environ.update(MPLBACKEND="agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    os.environ.update(PYTHONHASHSEED="0")
    manager_class = _require("jupyter_client.manager").AsyncKernelManager
    run_sync = _require("jupyter_core.utils").run_sync
    import tempfile

    folder = str(Path(path).resolve().parent)
    spares = _spare_folder() if _spares_wanted() else None
    kept = None
    if spares is not None:
        key = _spare_key()
        kept = _claim_spare(spares, key)
        _keep_one_ready(spares, key)  # on the other core, while this check runs
    sockets = tempfile.TemporaryDirectory(prefix="selfcheck-")
    if kept is not None:
        manager = _kept_kernel_manager(kept)
    else:
        transport = _transport()
        where = os.path.join(sockets.name, "kernel") if transport == "ipc" else "127.0.0.1"
        manager = manager_class(kernel_name="python3", transport=transport, ip=where)
        # the kernel starts first: it gets ready while the notebook is read and prepared here
        run_sync(manager.start_kernel)(cwd=folder, extra_arguments=KERNEL_ARGUMENTS)
    try:
        return _run_and_check(manager, path, item, started, kept=kept is not None)
    finally:
        # the kernel stopped before the command returns: nothing of it prints after the prompt is back
        if run_sync(manager.is_alive)():
            # a kernel of our own is killed and reaped here: jupyter_client's shutdown polls for its end every
            # 0.1 s, a tenth of a second of every check (a kept kernel is another process's child: as before)
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None:
                process.kill()
                process.wait()
            run_sync(manager.shutdown_kernel)(now=True)
        sockets.cleanup()


def _enter_kernel(folder: str) -> None:
    """A kernel's first cell: the notebook's folder as its working folder (a kept kernel's was another), the
    grader's watch over the threads and processes the notebook will start and its collector set, as the grader's
    kernels have them."""
    os.chdir(folder)
    _grader_install_watch()
    _grader_collect_less_often()


def _run_and_check(manager: Any, path: str, item: str | None, started: float, kept: bool = False) -> bool:
    """The notebook, then the checks, in the kernel `manager` started (`kept`: by an earlier check); the verdicts
    printed."""
    nbformat = _require("nbformat")
    NotebookClient = _require("nbclient").NotebookClient

    notebook = inject_parameters(nbformat.read(path, as_version=4), NOTEBOOK_PARAMETERS)
    students = [c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    number_of = {id(cell): number for number, cell in enumerate(students, start=1)}
    epochs = NOTEBOOK_PARAMETERS.get("EPOCHS")
    code = [c.source if c.cell_type == "code" else "" for c in students]
    for warning in epochs_bypassed(code, epochs) if epochs is not None else ():
        print(warning, flush=True)
    # as the grader does: a cell that only runs the self-check is passed over (the checks run once, at the end)
    own_cells = [c for c in notebook.cells if id(c) in number_of and c.cell_type == "code"]
    notebook.cells = [c for c in notebook.cells if not (c in own_cells and is_selfcheck_cell(c.source))]
    here, folder = str(Path(__file__).resolve().parent), str(Path(path).resolve().parent)
    # names nothing in the notebook's namespace: a notebook that forgot an import fails here as at the grader
    load = f"__import__('sys').path.insert(0, {here!r})\n"
    watch_cell = nbformat.v4.new_code_cell(f"{load}__import__('selfcheck')._enter_kernel({folder!r})")
    colour = _colour_wanted()  # decided here, at the terminal: the kernel's output is never one
    check_cell = nbformat.v4.new_code_cell("# the checks: written when the notebook has run")
    notebook.cells = [watch_cell, *notebook.cells, check_cell]
    raised: dict[str, str] = {}  # graded function -> what its cell raised
    progress = _Progress(len(number_of), live=sys.stdout.isatty())

    running: list = [None]  # the cell being run: named if the kernel dies in it

    def on_execute(cell, cell_index, **_) -> None:
        running[0] = cell
        if cell is check_cell:  # by now every cell of the notebook has run: the checks learn which raised
            progress.done()
            cell.source = (
                f"{load}assert __import__('selfcheck')._check_and_report(globals(), {item!r}, {colour!r}, {raised!r}), "
                "'failed'"
            )
        elif id(cell) in number_of:
            progress.started(number_of[id(cell)], cell.source)

    def on_executed(cell, cell_index, **_) -> None:
        progress.finished()
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and cell is not check_cell:
            for function in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE):
                raised[function] = f"{errors[0]['ename']}: {errors[0]['evalue']}"

    client = NotebookClient(
        notebook,
        km=manager,
        timeout=600,
        allow_errors=True,
        on_cell_execute=on_execute,
        on_cell_executed=on_executed,
        # everything wanted of the kernel is in hand by then: no need to wait for it to wind down
        shutdown_kernel="immediate",
    )
    try:
        client.execute()
    except _require("nbclient.exceptions").DeadKernelError:
        cell = running[0]
        said = f"in cell {number_of[id(cell)]} (`{_first_line(cell.source)}`)" if id(cell) in number_of else ""
        said = said or ("while the checks ran" if cell is check_cell else "before the notebook's first cell")
        print(
            f"the kernel died {said}: the notebook ended its own Python there (os._exit, a signal, a crash, or more "
            "memory than the machine has), so nothing was checked; fix that cell and check again."
        )
        return False
    finally:
        progress.done()
    for cell in own_cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            print(
                f"note: cell {number_of[id(cell)]} (`{_first_line(cell.source)}`) raised {errors[0]['ename']}: "
                f"{errors[0]['evalue']}"
            )
    print("".join(o.get("text", "") for o in check_cell.outputs if o.get("output_type") == "stream"), end="")
    failures = [o for o in check_cell.outputs if o.get("output_type") == "error"]
    if failures and failures[0]["ename"] != "AssertionError":
        print(f"the self-check could not run: {failures[0]['ename']}: {failures[0]['evalue']}")
    ran_with = ", ".join(f"{name} = {value!r}" for name, value in NOTEBOOK_PARAMETERS.items())
    ahead = ", in a kernel an earlier check had made ready" if kept else ""
    print(f"The self-check took {time.monotonic() - started:.1f} s in all (the notebook ran with {ran_with}{ahead}).")
    return not failures


def main(argv: list[str]) -> int:
    import argparse

    if argv[:1] == [SPARE_SERVE]:
        _serve_spare(Path(argv[1]), argv[2])
        return 0

    parser = argparse.ArgumentParser(
        prog="python selfcheck.py", description="Run a saved notebook with few epochs, then check its functions."
    )
    parser.add_argument("notebook", metavar="NOTEBOOK.ipynb", nargs="?")
    names = [feedback_name(entry["function"]).split(" ")[0] for entry in ITEM_TABLE.values()]
    parser.add_argument("--item", choices=names, help="check one function only (default: all of them)")
    parser.add_argument(
        "--stop", action="store_true", help="end the kernel a check keeps ready for the next one, and check nothing"
    )
    args = parser.parse_args(argv)
    if args.stop:
        print(f"ended {stop_spares()} kept kernel(s)")
        return 0
    if args.notebook is None:
        parser.error("the notebook to check is missing")
    try:
        return 0 if check_notebook(args.notebook, item=args.item) else 1
    except MissingPackage as missing:
        print(missing, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
