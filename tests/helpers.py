"""What the tests share: notebook surgery, the mutants and equivalent forms, and grading without a kernel.

`outcomes_in_process` (tools/in_process.py) runs the grader's own kernel probe in this process on
functions we wrote (the reference, its mutants, small hostile functions), so
that scoring is tested in milliseconds on exactly the data a kernel would send
back. Only tests of what a kernel does (the sandbox, timeouts, a dead kernel)
start one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import linecache
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

from examples.build_examples import copy_notebook, replace_code
from grader.assignment import use_assignment
from grader.judge.rules import forbidden_uses, ignored_arguments_of
from grader.judge.score import score_all
from grader.rubric import Rubric
from grader.run.sandbox import SLOT_UID_BASE, bubblewrap_works
from grader.shared.outcomes import Case
from grader.shared.verdicts import TestResult
from tools.in_process import outcomes_in_process, watched

ROOT = Path(__file__).resolve().parent.parent
# the repository's own assignment, which these tests grade (its package's modules: MM.cases, MM.judges, ...)
MESSMASTER = use_assignment(ROOT)
MM = MESSMASTER.module
for _part in ("reference_values", "artifacts", "plots", "shipped"):  # imported by the assignment when first wanted
    importlib.import_module(f"{MM.__name__}.{_part}")
ITEMS = MESSMASTER.ITEMS
GRADED_FUNCTIONS = MESSMASTER.graded_functions
RUBRIC_FILE = MESSMASTER.rubric_file
SOLVED = ROOT / "reference" / "messmaster_part2_solution.ipynb"
TEMPLATE = ROOT / "student_template" / "messmaster_part2.ipynb"
# the small assignment the engine's tests grade (tests/engine/conftest.py): kernels that start and judge in a blink
LOGREG = ROOT / "examples" / "assignments" / "logreg"
LOGREG_SOLVED = LOGREG / "reference" / "logreg_solution.ipynb"
LOGREG_TEMPLATE = LOGREG / "student_template" / "logreg.ipynb"
LOGREG_TEMPLATE_SCORE = 50  # loss and gradient: the template's planted bug (the step's sign) costs step and train


@contextmanager
def assignment_of_process(root: Path) -> Iterator[None]:
    """The assignment in `root` as this process's for a block (the command line's --assignment-dir), then the
    one before it again."""
    from grader.assignment import current_assignment

    before = current_assignment().root
    use_assignment(root)
    try:
        yield
    finally:
        use_assignment(before)


def computed_once(tmp_path_factory, name: str, compute):
    """`compute()`, computed once for the whole run: under pytest-xdist the first worker that asks computes it,
    holding a lock in the folder the workers share, and keeps it there (pickled); a worker that asks later reads
    it. `compute` must give what pickles."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return compute()
    import fcntl
    import pickle

    shared = tmp_path_factory.getbasetemp().parent  # the controller's: every worker's basetemp is in it
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held while it is computed: another worker waits for it
        kept = shared / f"{name}.pickle"
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        value = compute()
        kept.write_bytes(pickle.dumps(value))
        return value


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def append_code(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    copy = copy_notebook(notebook)
    copy.cells.append(nbformat.v4.new_code_cell(source))
    return copy


def with_run(rubric: Rubric, **run: float) -> Rubric:
    """The rubric with some of its [run] values changed (epochs, timeouts)."""
    return dataclasses.replace(rubric, run=dataclasses.replace(rubric.run, **run))


def only_items(rubric: Rubric, items: list[str] | tuple[str, ...]) -> Rubric:
    """The rubric cut down to some items (its total with them), to score a few items alone."""
    kept = {item: rubric.items[item] for item in items}
    total = sum(spec.points for spec in kept.values()) + rubric.written_total
    return dataclasses.replace(rubric, items=kept, total=total)


def minimal_notebook(notebook: nbformat.NotebookNode, *extra_cells: str) -> nbformat.NotebookNode:
    """The `parameters` cell and the graded functions of `notebook` after torch's imports, then `extra_cells`.

    The smallest notebook a kernel test needs: it defines what the grader calls, without the
    notebook's own data loading, trainings and plots (seconds per kernel).
    """
    copy = copy_notebook(notebook)
    tags = [set(cell.metadata.get("tags", [])) for cell in copy.cells]
    parameters = [cell for cell, tag in zip(copy.cells, tags, strict=True) if "parameters" in tag]
    graded = [cell for cell, tag in zip(copy.cells, tags, strict=True) if "graded" in tag]
    imports = nbformat.v4.new_code_cell("import torch\nimport torch.nn.functional as F")
    copy.cells = parameters + [imports] + graded + [nbformat.v4.new_code_cell(source) for source in extra_cells]
    return copy


# ---- mutants and equivalent forms of the reference -------------------------------------------------------

# Each mutant breaks one item: (item, old, new, occurrences). train_manual composes all the others, so a
# mutant that breaks training also costs train_manual; every other item must keep full marks.
MUTANTS = {
    "sign_flipped": ("sgd_update", " -= learning_rate * dL_d", " += learning_rate * dL_d", 4),
    "dW1_transposed": ("backward", "dL_dW1 = X.T @ dL_dz1", "dL_dW1 = (X.T @ dL_dz1).T", 1),
    "dW1_as_X_dz1T": ("backward", "dL_dW1 = X.T @ dL_dz1", "dL_dW1 = X @ dL_dz1.T", 1),
    "missing_1_over_N": ("backward", "dL_dz2 = (p_hat - y_one_hot) / y.shape[0]", "dL_dz2 = (p_hat - y_one_hot)", 1),
    "no_relu_mask": ("backward", "dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1", 1),
    "db1_wrong_axis": ("backward", "dL_db1 = torch.sum(dL_dz1, dim=0)", "dL_db1 = torch.sum(dL_dz1, dim=1)", 1),
    "loss_summed": (
        "loss_fn",
        "nll = torch.mean(-torch.log(correct_class_prob))",
        "nll = torch.sum(-torch.log(correct_class_prob))",
        1,
    ),
    "W1_shape_hd": (
        "init_params",
        "W1 = torch.randn(d, h, requires_grad=False) * 0.01",
        "W1 = torch.randn(h, d, requires_grad=False) * 0.01",
        1,
    ),
}

NUMPY_BACKWARD = """
    import numpy as np
    X, z1, a1, p_hat, W2 = (np.asarray(t, dtype=np.float64) for t in (X, z1, a1, p_hat, W2))
    one_hot = np.eye(p_hat.shape[1])[np.asarray(y)]
    dz2 = (p_hat - one_hot) / len(one_hot)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    return X.T @ dz1, dz1.sum(axis=0), a1.T @ dz2, dz2.sum(axis=0)
"""


def mutant(solved: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    _, old, new, count = MUTANTS[name]
    return replace_code(solved, old, new, count)


def equivalents(solved: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Right answers written differently from the reference: each must keep full marks."""
    numpy_style = replace_code(
        solved, "    # Step 1: Compute gradient of loss w.r.t. logits (z2)\n", NUMPY_BACKWARD + "    # unreachable\n"
    )
    numpy_style = replace_code(
        numpy_style, " -= learning_rate * dL_d", " -= torch.as_tensor(learning_rate) * torch.as_tensor(dL_d", 4
    )
    for name in ("W1", "b1", "W2", "b2"):
        numpy_style = replace_code(
            numpy_style, f"torch.as_tensor(dL_d{name}\n", f"torch.as_tensor(dL_d{name}, dtype=torch.float32)\n"
        )
    return {
        "mask_from_a1": replace_code(solved, "(z1 > 0).float()", "(a1 > 0).float()"),
        "loss_via_log_softmax": replace_code(
            solved,
            "nll = torch.mean(-torch.log(correct_class_prob))",
            "nll = F.nll_loss(torch.log_softmax(torch.log(p_y_hat), dim=1), y)",
        ),
        "loss_via_nll_loss": replace_code(
            solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = F.nll_loss(torch.log(p_y_hat), y)"
        ),
        "numpy_backward": numpy_style,
    }


# ---- grading our own functions in this process -----------------------------------------------------------


def graded_namespace(notebook: nbformat.NotebookNode, *extra: str) -> dict:
    """The functions a notebook's `graded` cells define (our own fixtures, so exec'd here), then `extra` code."""
    namespace = {"torch": torch, "F": F, "RANDOM_SEED": 10011}
    graded = [cell.source for cell in notebook.cells if "graded" in cell.metadata.get("tags", [])]
    for number, source in enumerate([*graded, *extra]):
        # under a name `inspect` finds the source of, as IPython registers a notebook's cells
        name = f"<notebook cell {number}: {hashlib.sha256(source.encode()).hexdigest()[:12]}>"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)
    return namespace


def score_in_process(
    notebook: nbformat.NotebookNode,
    rubric: Rubric,
    cases: dict[str, list[Case]],
    folder: Path,
    *extra: str,
    call_timeout: float = 10,
) -> list[TestResult]:
    """Every automatic test of a notebook's graded functions (then `extra` code), scored as the grader scores."""
    with watched():  # as a kernel is, from before the notebook's first cell
        namespace = graded_namespace(notebook, *extra)
        outcomes = outcomes_in_process(namespace, cases, folder, rubric.watched, call_timeout)
    with_extra = copy_notebook(notebook)
    with_extra.cells += [nbformat.v4.new_code_cell(source) for source in extra]
    return score_all(
        cases, outcomes, rubric, forbidden_uses(with_extra, rubric), ignored_arguments_of(with_extra, rubric)
    )


def item_scores(tests: list[TestResult], rubric: Rubric) -> dict[str, float]:
    return {item: round(sum(t.score for t in tests if t.name.split(".")[0] == item), 4) for item in rubric.items}


def outputs(tests: list[TestResult]) -> str:
    return "\n".join(f"{t.name}: {t.output}" for t in tests)


def texts(problems: list) -> list[str]:
    """The sentences of a result's problems."""
    return [problem.text for problem in problems]


# ---- running a whole notebook in a kernel ---------------------------------------------------------------

INSPECT_NAMES = """
import json as _json
_found = {}
for _name in ["W1", "b1", "W2", "b2", "loss_history_sgd", "loss_history_adam", "loss_fn", "init_params",
              "forward", "backward", "sgd_update", "train_manual", "train_with_optimizer", "EPOCHS"]:
    _value = globals().get(_name)
    if _value is None:
        _found[_name] = None
    elif hasattr(_value, "shape"):
        _found[_name] = list(_value.shape)
    elif isinstance(_value, list):
        _found[_name] = [len(_value), all(isinstance(v, float) for v in _value)]
    else:
        _found[_name] = type(_value).__name__
with open("names.json", "w") as _f:
    _json.dump(_found, _f)
"""


def execute_notebook(notebook: nbformat.NotebookNode, rubric: Rubric, epochs: int):
    """Run a notebook as the grader does (fresh confined kernel, students' files, EPOCHS overridden).

    Returns the run log and, for the names the contract promises, their shapes or types.
    """
    from grader.grading import make_workspace
    from grader.run.execute import NotebookRunner, run_notebook
    from grader.run.kernel import start_kernel, stop_kernel
    from grader.run.sandbox import SandboxPolicy, bounded_scratch
    from grader.shared.catalogue import inject_parameters

    policy = SandboxPolicy.from_limits(rubric.limits, "auto")
    with bounded_scratch(policy) as scratch:
        workspace = make_workspace(scratch, notebook)
        manager = start_kernel(workspace, policy)
        try:
            prepared = inject_parameters(notebook, {"EPOCHS": epochs})
            with NotebookRunner(manager, prepared, cell_timeout=300) as runner:
                log = run_notebook(runner, notebook_timeout=600)
                runner.run_extra_cell(nbformat.v4.new_code_cell(INSPECT_NAMES), timeout=30)
        finally:
            stop_kernel(manager)
        return log, json.loads((workspace / "names.json").read_text())


# ---- the graded batches (each graded once per run: `graded_class`, `engine_class`) ---------------------------

SANDBOXED = bubblewrap_works()
TEMPLATE_SCORE = 40  # forward, backward and optimizers: what the untouched template earns
GRADER_LOOKALIKE = '{"score": 100, "tests": [{"name": "loss_fn.random", "score": 10, "max_score": 10}]}'


def attacks(out: str, port: int) -> dict[str, tuple[str, ...]]:
    """Attack name -> the cells added to the template's functions (each runs, whatever the one before did).

    Paths and the port are filled in at run time. What the probe does with odd return values (a
    tensor subclass, a huge array, a function that never returns) is tested in process (test_scoring.py).
    """
    return {
        "read_secrets": (
            f"holdout = open({str(ROOT / 'secret' / 'data' / 'holdout.csv')!r}).read()",
            "import glob\nfound = glob.glob('../**/secret/**', recursive=True)\n"
            "holdout = open('../../secret/data/holdout.csv').read()",
        ),
        "import_ours": (
            f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom reference.solutions import *",
            f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport grader.judge.score",
        ),
        "write_outside": (
            f"import os\nos.makedirs({out!r} + '/bob', exist_ok=True)\n"
            f"open({out!r} + '/gradebook.csv', 'w').write('name,total\\nbob,100\\n')",
            "open('../results.json', 'w').write('{\"score\": 100}')",
        ),
        "patch_comparisons": (
            "import torch, numpy, json, builtins\n"
            "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
            "numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
            "json.dumps = lambda *a, **k: '{\"score\": 100}'\nbuiltins.print = lambda *a, **k: None",
        ),
        "print_result_markers": (f"print({GRADER_LOOKALIKE!r})\nprint('All tests passed! Score: 75/75')",),
        "kill_parent": (
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.killpg(os.getpgid(0), signal.SIGKILL)",
        ),
        "allocate_30gb": ("hog = bytearray(30 * 1024**3)",),
        "huge_output": ("print('x' * 100_000_000)",),
        "open_network": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",),
        "sys_exit": ("import sys\nsys.exit(0)",),
        # each exit loses a kernel: three use up the fresh kernels (kernel_restarts = 2)
        "os_exit": ("import os\nos._exit(0)",) * 3,
        "infinite_loop": ("while True:\n    pass",),
    }


# A cell that no interrupt stops: it loses its kernel (tests/engine/test_end_to_end.py). It sleeps rather than
# spins, so its seconds leave both cores to the tests beside it (the attack `infinite_loop` is the spinning cell)
UNINTERRUPTIBLE_CELL = (
    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)"
)
BAD_FILES = {
    "not_json": "this is not a notebook\n",
    "empty": "",
    "nbformat5": json.dumps({"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}),
}


def processes_of_kernel_users() -> list[int]:
    """The live processes (zombies aside: they hold nothing but a number) of the kernel user of any job slot this
    test session may take (the grader, as root, runs kernels as those; another pytest-xdist worker's take other
    slots, tests/conftest.py)."""
    from grader.run.sandbox import SLOT_UID_BASE, job_slots

    slots = job_slots()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue  # ended meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if "Uid" not in fields or fields.get("State", "").split()[0:1] == ["Z"]:
            continue
        if int(fields["Uid"].split()[0]) - SLOT_UID_BASE in slots:
            found.append(int(entry.name))
    return found


def kernel_users_left(patience: float = 60) -> list[str]:
    """The processes of this session's kernel users still there once those already killed have ended (a killed
    process lingers a moment on a busy machine): each found is waited on by its pidfd, `patience` seconds in all at
    most, then what is left is described by its command line."""
    import select

    deadline = time.monotonic() + patience
    for pid in processes_of_kernel_users():
        try:
            descriptor = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([descriptor], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(descriptor)
    left = []
    for pid in processes_of_kernel_users():
        with suppress(OSError):
            left.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes().replace(bytes(1), b' ').decode()[:200]}")
    return left


# ---- pages in a real browser ---------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browse(page: Path, screenshot: Path | None = None) -> str:
    """The DOM of `page` after headless Chromium loaded it (scripts, had any been allowed, have run)."""
    import shutil
    import subprocess

    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    assert browser, "no Chromium here: `make install` installs Debian's chromium (as root), or install it"
    # as root Chromium refuses its own sandbox; the pages are ours and carry a CSP that forbids scripts
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1600"]
    if screenshot is not None:
        subprocess.run([*common, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120)
        assert screenshot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    run = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "<html" in run.stdout, run.stderr[-2000:]
    return run.stdout


class Elements:
    """Tags, ids, image sources, the title and the text of an HTML document (read with html.parser)."""

    def __init__(self, html: str) -> None:
        from html.parser import HTMLParser

        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self.text: list[str] = []
        elements = self

        class Reader(HTMLParser):
            def handle_starttag(self, tag, attrs):
                elements.tags.append((tag, dict(attrs)))

            def handle_data(self, data):
                elements.text.append(data)
                if elements.tags and elements.tags[-1][0] == "title" and not elements.title:
                    elements.title = data

        Reader().feed(html)

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if attrs.get("id")}

    def count(self, tag: str) -> int:
        return sum(name == tag for name, _ in self.tags)

    def image(self, element_id: str) -> str:
        """The source of the first image in the element `element_id`."""
        inside = False
        for tag, attrs in self.tags:
            inside = inside or attrs.get("id") == element_id
            if inside and tag == "img":
                return attrs.get("src") or ""
        return ""

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def seen_from_one_cell(source: str, policy, timeout: float = 30, setup: str = "") -> dict:
    """Run one cell in a fresh sandboxed kernel (in a bounded scratch) and read back the `seen.json` it wrote;
    `setup`: the grader's cell run before it (as NotebookRunner's)."""
    from grader.run.execute import CellStatus, NotebookRunner
    from grader.run.kernel import start_kernel, stop_kernel
    from grader.run.sandbox import bounded_scratch

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with bounded_scratch(policy) as scratch:
        workspace = scratch / "work"
        workspace.mkdir()
        manager = start_kernel(workspace, policy)
        try:
            with NotebookRunner(manager, notebook, cell_timeout=timeout, setup=setup) as runner:
                run = runner.run_cell(notebook.cells[0], 0, timeout)
        finally:
            stop_kernel(manager)
        assert run.status == CellStatus.OK, run.error
        return json.loads((workspace / "seen.json").read_text())


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (children, theirs, ...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    below, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        below += children
        frontier = children
    return below


@contextmanager
def throttled(share: float, period: float = 0.1) -> Iterator[dict]:
    """Hold every process below this one to `share` of a CPU: SIGSTOP them for (1 - share) of each `period`,
    then SIGCONT, as a busy or throttled machine would (Gradescope's default is half a vCPU). Yields a record
    whose "kernels_held" counts the stops that caught a kernel, so a test can show what it throttled."""
    record = {"kernels_held": 0}
    stop = threading.Event()

    def signal_all(pids: list[int], number: int) -> None:
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, number)

    def hold() -> None:
        while not stop.is_set():
            held = descendants(os.getpid())
            signal_all(held, signal.SIGSTOP)
            record["kernels_held"] += any(is_kernel(pid) for pid in held)
            stop.wait(period * (1 - share))
            signal_all(held, signal.SIGCONT)
            stop.wait(period * share)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        yield record
    finally:
        stop.set()
        holder.join()
        signal_all(descendants(os.getpid()), signal.SIGCONT)


# root without CAP_SYS_ADMIN: a container that refuses the namespaces a kernel's sandbox needs
CAN_DROP_CAP_SYS_ADMIN = os.geteuid() == 0 and shutil.which("setpriv") is not None
WITHOUT_CAP_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin"]


def is_kernel(pid: int) -> bool:
    """A kernel: a process of a slot's user (a root grader's), or a fresh ipykernel (anyone's)."""
    try:
        uid = int(Path(f"/proc/{pid}/status").read_text().split("\nUid:")[1].split()[0])
        return uid >= SLOT_UID_BASE or b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False


# ---- a class for the TA desk, without kernels ------------------------------------------------------------------

STUDENTS = {
    "ada": ("Ada Lovelace", "Validation data tunes hyperparameters; the test set is touched once."),
    "bo": ("Bo Diddley", "The test set tells us how we *generalise*: $\\frac{1}{N}$."),
    "cy": ("Cy Twombly", ""),
}


def make_desk_class(
    folder: Path, rubric, students: dict[str, tuple[str, str]], same_file: dict[str, str] | None = None
) -> None:
    """Graded students with their q1a answers, every automatic test passed but backward's (no kernel).

    `same_file`: students who handed in another's file (a group's), as student -> the other."""
    from grader.intake import Identity, Submission
    from grader.result import SubmissionResult
    from grader.shared.verdicts import TestResult
    from grader.store import ClassStore, current_versions
    from grader.views.write import write_all_views

    with ClassStore.open(folder, rubric) as store:
        versions = current_versions(rubric)
        run = store.begin_run(versions)
        store.set_class_rubric(rubric)
        for student, (name, answer) in students.items():
            identity = Identity(student, name=name)
            result = SubmissionResult(identity, rubric, written={"q1a": answer} if answer else {})
            result.tests = [TestResult(i, f"{i}.all", s.points, s.points) for i, s in rubric.items.items()]
            result.tests[3] = TestResult("backward", "backward.all", 0.0, rubric.items["backward"].points, problem="no")
            content = f"content-{(same_file or {}).get(student, student)}"
            store.record(run, Submission(identity, None), content, versions, result)
        write_all_views(store, rubric, folder)


# ---- helpers a notebook starts in an earlier cell, then hands a graded call's work to ---------------------

# the gradients of the mean cross-entropy by autograd, from the inputs backward is given
_AUTOGRAD_GRADIENTS = """
    W1 = torch.zeros(X.shape[1], z1.shape[1], requires_grad=True)
    b1 = torch.zeros(z1.shape[1], requires_grad=True)
    W2 = W2.clone().requires_grad_(True)
    b2 = torch.zeros(W2.shape[1], requires_grad=True)
    z2 = torch.relu(X @ W1 + b1 + z1) @ W2 + b2
    g = (p_hat - torch.nn.functional.one_hot(y, p_hat.shape[1]).float()) / y.shape[0]
    return tuple(t.detach() for t in torch.autograd.grad((z2 * g).sum(), (W1, b1, W2, b2)))
"""

HELPERS_STARTED_EARLIER: dict[str, str] = {
    # a worker thread, started before the grader's call and fed through a queue: autograd runs in it
    "worker_thread": f"""
import queue, threading
_work, _done = queue.Queue(), queue.Queue()
def _gradients(X, y, z1, W2, p_hat):{_AUTOGRAD_GRADIENTS}
def _serve():
    while True:
        _done.put(_gradients(*_work.get()))
threading.Thread(target=_serve, daemon=True).start()
def backward(X, y, z1, a1, p_hat, W2):
    _work.put((X, y, z1, W2, p_hat))
    return _done.get()
""",
}

# the same worker, but switching the profile hook off in itself first
HELPERS_STARTED_EARLIER["worker_thread_unhooked"] = (
    HELPERS_STARTED_EARLIER["worker_thread"]
    .replace("import queue, threading", "import queue, sys, threading")
    .replace("def _serve():\n", "def _serve():\n    sys.setprofile(None)\n")
)

# a server forked before the call, behind two pipes, computing backward's gradients in the child process;
# GRADIENTS is its way of computing them
FORK_SERVER = """
import os, pickle, struct
import numpy
GRADIENTS
def _send(stream, value):
    data = pickle.dumps(value)
    stream.write(struct.pack("Q", len(data)) + data)
    stream.flush()
def _receive(stream):
    header = stream.read(8)
    return pickle.loads(stream.read(struct.unpack("Q", header)[0])) if len(header) == 8 else None
_requests, _answers = os.pipe(), os.pipe()
_server = os.fork()
if _server == 0:
    os.close(_requests[1])
    os.close(_answers[0])
    _inbox, _outbox = os.fdopen(_requests[0], "rb"), os.fdopen(_answers[1], "wb")
    try:
        _send(_outbox, "ready")
        while (_given := _receive(_inbox)) is not None:
            _send(_outbox, [numpy.asarray(t) for t in _gradients(*_given)])
    finally:
        os._exit(0)
os.close(_requests[0])
os.close(_answers[1])
_to_server, _from_server = os.fdopen(_requests[1], "wb"), os.fdopen(_answers[0], "rb")
_receive(_from_server)  # it has started; then it waits, asleep on its pipe (a busy machine may run it late)
while open(f"/proc/{_server}/stat").read().rsplit(")", 1)[1].split()[0] != "S":
    os.sched_yield()
def backward(X, y, z1, a1, p_hat, W2):
    _send(_to_server, [t.numpy() for t in (X, y, z1, W2, p_hat)])
    return tuple(torch.from_numpy(a) for a in _receive(_from_server))
"""


def fork_server(autograd: bool) -> str:
    """FORK_SERVER computing by autograd (the issue's dodge, in a kernel), or by hand with numpy (in a fork of the
    test process, where torch's thread pool may not survive a fork): its running is the breach, not its way."""
    if autograd:
        gradients = (
            "def _gradients(*given):\n    return _autograd(*(torch.from_numpy(a) for a in given))\n"
            f"def _autograd(X, y, z1, W2, p_hat):{_AUTOGRAD_GRADIENTS}"
        )
    else:
        gradients = (
            "def _gradients(X, y, z1, W2, p_hat):\n    a1 = numpy.maximum(z1, 0)\n    p = p_hat.copy()\n"
            "    p[numpy.arange(len(y)), y] -= 1\n    dz2 = p / len(y)\n    dz1 = (dz2 @ W2.T) * (z1 > 0)\n"
            "    return X.T @ dz1, dz1.sum(0), a1.T @ dz2, dz2.sum(0)"
        )
    return FORK_SERVER.replace("GRADIENTS", gradients)


# What a notebook may leave running while the grader calls its functions: none of it is a breach
BENIGN_THREADS = """
import threading, time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from tqdm.auto import tqdm
plt.plot([0, 1], [1, 0])
_bar = tqdm(total=10, mininterval=0)  # tqdm's monitor thread stays behind it
_bar.update(1)
_idle = threading.Event()
threading.Thread(target=_idle.wait, daemon=True).start()  # does nothing during any call
def _tick():  # wakes often for harmless work of its own
    total = 0
    while True:
        total += sum(range(100))
        time.sleep(0.001)
threading.Thread(target=_tick, daemon=True).start()
torch.ones(200, 200) @ torch.ones(200, 200)  # torch's own thread pool
"""
