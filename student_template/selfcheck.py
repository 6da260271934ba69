"""Check your MessMaster part 2 functions before you submit.

In the notebook, after running your cells:

    from selfcheck import check
    check("loss_fn")   # one function (by its name, as in the feedback)
    check()            # all of them

From a shell, on a saved notebook (runs it with few epochs first):

    python selfcheck.py messmaster_part2.ipynb

These checks use public cases and independent oracles (PyTorch's own loss,
autograd, torch.optim); the grader also runs hidden cases, so passing here is
necessary, not sufficient.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# torch is imported when the checks run (`_import_torch`), not here: the shell entry point only drives
# a kernel, and importing torch there too would cost seconds for nothing.
torch = F = None

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"
SHORT_EPOCHS = 150
# the feedback's name for an item, where it is not its function's
FEEDBACK_NAMES = {"train_with_optimizer": "optimizers (train_with_optimizer)"}
INSTALL = "pip install -r requirements.txt   (the course's pinned packages, in the bundle)"
# train_manual composes these: when one of them fails, train_manual's failure follows from it
TRAINING_NEEDS = ("init_params", "forward", "loss_fn", "backward", "sgd_update")  # in the order it calls them
TRAININGS = ("train_manual", "train_with_optimizer")
CONTRACT_EPOCHS = 10000  # the trainings' default epochs, in the handout's signatures
# from the shell: a cell running longer is reported, and again every as many seconds
SLOW_CELL_SECONDS = float(os.environ.get("SELFCHECK_SLOW_CELL_SECONDS", "30"))


class MissingPackage(Exception):
    """A package the self-check needs is not installed: one line says what to install."""


def _require(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ModuleNotFoundError as error:
        raise MissingPackage(f"the self-check needs `{error.name}`, which is not installed: {INSTALL}") from None


# ---- BEGIN SHARED WITH THE GRADER: stamped by `make student-bundle` from the course's rubric; do not edit ----
POINTS = {
    "loss_fn": 10,
    "init_params": 5,
    "forward": 10,
    "backward": 20,
    "sgd_update": 10,
    "train_manual": 10,
    "train_with_optimizer": 10,
}
WRITTEN_POINTS = 25
RTOL = 0.0001
ATOL = 1e-06
WEIGHT_STD = (0.008, 0.012)
WEIGHT_STD_MIN_SIZE = 1000
WEIGHT_MAX_ABS = 0.06
SAME_START_RTOL = 0.0001
SAME_START_ATOL = 1e-05
RULE_IDENTIFIERS = {
    "loss_fn": ["cross_entropy", "CrossEntropyLoss"],
    "backward": ["backward", "autograd", "requires_grad", "requires_grad_"],
    "sgd_update": ["optim"],
}
RULE_REASONS = {
    "loss_fn": "loss_fn must compute the negative log-likelihood itself, not call PyTorch's cross-entropy",
    "backward": "backward must compute the gradients by hand (the chain rule of Q1d), not with autograd",
    "sgd_update": "sgd_update must apply the update rule itself, not call a torch.optim optimizer",
}
RULE_WATCH = {
    "loss_fn": ["cross_entropy"],
    "backward": ["autograd"],
    "sgd_update": ["optimizer"],
}
RULE_AUTOGRAD_HISTORY = {
    "loss_fn": False,
    "backward": True,
    "sgd_update": False,
}


# Where each gradient comes from in the handout's backward pass, for a student whose gradient is wrong.
GRADIENT_HINTS = {
    "dL_dW1": "step 5: dL_dW1 = X.T @ dL_dz1, shape (d, h) like W1",
    "dL_db1": "step 5: dL_db1 sums dL_dz1 over the batch axis (dim=0), shape (h,)",
    "dL_dW2": "step 2: dL_dW2 = a1.T @ dL_dz2, shape (h, k) like W2",
    "dL_db2": "step 2: dL_db2 sums dL_dz2 over the batch axis (dim=0), shape (k,)",
}
LAYER_MAPS = {"W1": "X @ W1 maps d features to h hidden units", "W2": "a1 @ W2 maps h hidden units to k classes"}


def value_mismatch(actual: object, expected: object, rtol: float, atol: float) -> str:
    """What differs from `expected` (shape first, then each value within atol + rtol * |expected|); "" if nothing."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(actual)):
        return "contains NaN or infinity"
    if not np.all(np.isclose(actual, expected, rtol=rtol, atol=atol)):
        error = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
        return f"wrong values (shape {expected.shape} is right; max abs error {error:.3g})"
    return ""


def parameter_problem(
    name: str,
    value: object,
    shape: tuple[int, ...],
    weight_std: tuple[float, float],
    weight_std_min_size: int,
    weight_max_abs: float,
) -> str:
    """What is wrong with an initial parameter (shape, zeros for a bias, randn * 0.01 for a weight); "" if nothing."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        hint = ""
        if name in LAYER_MAPS and value.shape == shape[::-1]:
            hint = f" ({LAYER_MAPS[name]}, so it must be {shape})"
        return f"{name} has shape {value.shape}, expected {shape}{hint}"
    if not np.all(np.isfinite(value)):
        return f"{name} contains NaN or infinity"
    if name.startswith("b"):
        return f"{name} is not all zeros" if np.any(value != 0) else ""
    low, high = weight_std
    if value.size >= weight_std_min_size and not low <= value.std() <= high:
        return f"{name} has standard deviation {value.std():.4f}; randn * 0.01 gives about 0.01"
    if np.all(value == 0) or np.abs(value).max() > weight_max_abs:
        return f"{name} is not small random numbers (randn * 0.01)"
    return ""


def same_start(first_loss_a: float, first_loss_b: float, rtol: float, atol: float) -> bool:
    """Whether two trainings started from the same weights, judged by their first losses."""
    return bool(np.isclose(first_loss_a, first_loss_b, rtol=rtol, atol=atol))


def inject_parameters(notebook: object, parameters: dict[str, object]) -> object:
    """A copy of the notebook with a cell setting `parameters` right after its `parameters` cell (papermill's way).

    The new cell is tagged `injected-parameters` and replaces any such cell
    already there, so injecting twice gives the same notebook. Without a
    `parameters` cell the parameters go first, where the notebook may overwrite them.
    """
    import nbformat

    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    tagged = [i for i, c in enumerate(copy.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    copy.cells.insert(tagged[-1] + 1 if tagged else 0, injected)
    return copy


# ---- the misconception catalogue: each known mistake, how its values give it away, what to say ----------------


# Where in the handout each graded function is asked for: its question's heading (a test checks each function
# is defined under that heading in the template). Hints point there.
QUESTION_OF = {
    "loss_fn": "Q1b",
    "init_params": "Q1e",
    "forward": "Q1e",
    "backward": "Q1e",
    "sgd_update": "Q1e",
    "train_manual": "Q1e",
    "optimizers": "Q2",
}


@dataclass(frozen=True)
class Misconception:
    item: str  # the grader's item it costs ("" for any)
    says: str  # the sentence the feedback and the self-check give
    step: str  # where, within the item's question, to look ("step 2", "the SGD step")

    @property
    def where(self) -> str:
        """The place in the handout: the item's question and the step (or the step alone, for any item)."""
        return f"{QUESTION_OF[self.item]}, {self.step}" if self.item else self.step


MISCONCEPTIONS = {
    "loss_not_averaged": Misconception(
        "loss_fn", "the loss is one number, the mean of the per-example losses (shape ())", "loss_fn step 2"
    ),
    "loss_summed": Misconception(
        "loss_fn", "this is the sum of the per-example losses; the loss is their mean", "loss_fn step 2"
    ),
    "loss_whole_rows": Misconception(
        "loss_fn",
        "p_y_hat[range(N)] picks whole rows; the true class's probability is p_y_hat[range(N), y]",
        "loss_fn step 1",
    ),
    "loss_whole_columns": Misconception(
        "loss_fn",
        "p_y_hat[:, y] is an (N, N) table (every example's probability of every example's class), not one "
        "probability per example; the true class's probability is p_y_hat[range(N), y]",
        "loss_fn step 1",
    ),
    "weights_shapes_swapped": Misconception(
        "init_params", "W1 is (d, h) and W2 is (h, k): X @ W1 maps d features to h hidden units", "init_params"
    ),
    "softmax_overflow": Misconception(
        "forward",
        "exp of large logits overflows to inf and NaN: subtract each row's max first, or use torch.softmax",
        "forward (softmax)",
    ),
    "gradient_transposed": Misconception(
        "backward", "each gradient has its parameter's shape: dL_dW1 = X.T @ dL_dz1 is (d, h)", "backward steps 2 and 5"
    ),
    "gradient_not_divided_by_n": Misconception(
        "backward", "it is N times too large: divide (p_hat - y_one_hot) by the batch size N", "backward step 1"
    ),
    "relu_mask_missing": Misconception(
        "backward", "multiply by the ReLU derivative 1(z1 > 0) before going through W1", "backward step 4"
    ),
    "relu_mask_from_wrong_tensor": Misconception(
        "backward", "the ReLU's derivative is 1 where z1 > 0 (the pre-activation), 0 elsewhere", "backward step 4"
    ),
    "bias_summed_over_wrong_axis": Misconception(
        "backward",
        "a bias gradient sums over the batch axis (dim=0) and has the bias's shape",
        "backward steps 2 and 5",
    ),
    "update_sign": Misconception(
        "sgd_update", "SGD steps against the gradient, theta <- theta - eta * grad: use -=", "the SGD step"
    ),
    "optimizers_start_apart": Misconception(
        "optimizers",
        "seed and initialise the weights inside train_with_optimizer, so SGD and Adam start from the same ones",
        "train_with_optimizer",
    ),
    "sizes_hard_coded": Misconception(
        "",  # any item whose function is right on the handout's sizes only
        "take N, d, h and k from the arguments' shapes; the hidden cases use other sizes",
        "the function's docstring",
    ),
    "globals_for_arguments": Misconception(
        "", "use the function's arguments, not the notebook's X_train or y_train", "the function's signature"
    ),
}


# ---- the rules on what runs: the words the grader and the self-check both give --------------------------------


def run_time_breach(
    function: str, watched: dict[str, str], recording: str, watch: tuple[str, ...] | list[str], reason: str, span=repr
) -> str:
    """A breach when watched machinery ran during a call (`watched`: category -> what was seen), or the call
    switched the record off (`recording` is "intact" when it did not); "" otherwise. `span` formats code.

    What ran in a thread the record hears (the call's own, or one the notebook started) is named as if the
    call ran it; a process, or a thread out of the record's hearing, that ran during the call is a breach
    whatever it did, since what it did cannot be seen."""
    seen = [what for category, what in watched.items() if category in watch]
    if seen:
        return f"while the grader called {function}, it ran {', '.join(map(span, seen))}: {reason}"
    if started := watched.get("process"):
        return (
            f"while the grader called {function}, it started a process ({span(started)}): work handed "
            f"to another process is out of the grader's sight, so it counts against the rule: {reason}"
        )
    if helper := watched.get("helper"):
        return (
            f"while the grader called {function}, {helper} ran out of the grader's sight: work handed to "
            f"another thread or process counts against the rule: {reason}"
        )
    if recording != "intact":
        how = span(recording) if recording else "no record came back"
        return f"{function} switched off the grader's record of what it runs ({how}): {reason}"
    return ""


def autograd_history_breach(function: str, reason: str) -> str:
    return f"what {function} returned carries an autograd history: {reason}"


def hint(name: str) -> str:
    """What the feedback and the self-check say for a recognised mistake."""
    mistake = MISCONCEPTIONS[name]
    return f"Hint ({name}): {mistake.says} ({mistake.where})."


def _nearly_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-3, atol=1e-6))


def recognise_loss(p_y_hat: np.ndarray, y: np.ndarray, loss: np.ndarray) -> str:
    """The catalogued mistake a wrong loss shows, or ""."""
    p, n = p_y_hat.astype(np.float64), len(y)
    picked = p[np.arange(n), y]
    if loss.shape in ((n,), (n, p.shape[1])) and n > 1:
        return "loss_not_averaged"
    if loss.shape != ():
        return ""
    if n > 1 and _nearly_equal(loss, -np.log(picked).sum()):
        return "loss_summed"
    whole_rows = -np.log(p).mean()
    whole_columns = -np.log(p[:, y]).mean() if n > 1 else None
    # where the two slips give the same number (as many examples of each class), this case cannot tell them
    # apart: it names neither, and the item's other cases name the one that was made
    if whole_columns is not None and _nearly_equal(loss, whole_columns):
        return "" if _nearly_equal(whole_rows, whole_columns) else "loss_whole_columns"
    if _nearly_equal(loss, whole_rows) or _nearly_equal(loss, -np.log(p[np.arange(n)]).mean()):
        return "loss_whole_rows"
    return ""


def recognise_gradient(name: str, inputs: dict[str, np.ndarray], gradient: np.ndarray, expected: np.ndarray) -> str:
    """The catalogued mistake a wrong gradient of backward shows (`inputs`: X, y, z1, a1, p_hat, W2), or ""."""
    X, z1, p_hat, W2 = (inputs[k].astype(np.float64) for k in ("X", "z1", "p_hat", "W2"))
    y, n = inputs["y"], len(inputs["y"])
    if gradient.shape == expected.shape[::-1] and gradient.ndim == 2 and _nearly_equal(gradient.T, expected):
        return "gradient_transposed"
    if name in ("dL_db1", "dL_db2") and gradient.shape == (n,) != expected.shape:
        return "bias_summed_over_wrong_axis"
    if gradient.shape != expected.shape:
        return ""
    if n > 1 and _nearly_equal(gradient, expected * n):
        return "gradient_not_divided_by_n"
    if name in ("dL_dW1", "dL_db1"):
        dz2 = (p_hat - np.eye(p_hat.shape[1])[y]) / n
        da1 = dz2 @ W2.T
        for mistake, dz1 in (("relu_mask_missing", da1), ("relu_mask_from_wrong_tensor", da1 * (da1 > 0))):
            if _nearly_equal(gradient, X.T @ dz1 if name == "dL_dW1" else dz1.sum(axis=0)):
                return mistake
    return ""


def recognise_update(param: np.ndarray, grad: np.ndarray, learning_rate: float, after: np.ndarray) -> str:
    """The catalogued mistake an SGD step shows, or ""."""
    return "update_sign" if _nearly_equal(after, param + learning_rate * grad) and grad.any() else ""


def recognise_weight_shapes(shapes: dict[str, tuple], d: int, h: int, k: int) -> str:
    """W1 or W2 with its dimensions the wrong way round."""
    swapped = shapes.get("W1") == (h, d) != (d, h) or shapes.get("W2") == (k, h) != (h, k)
    return "weights_shapes_swapped" if swapped else ""


# ---- the rubric's rules on a function's own code (the grader's first layer; the self-check's only one) ----


def _off(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Constant) and value.value in (False, 0)


def tracking_turned_off(function: ast.FunctionDef) -> set[ast.AST]:
    """The nodes of `function` that turn autograd's tracking off (`t.requires_grad_(False)`, `t.requires_grad =
    False`, `requires_grad=False`): no use of autograd, whatever the rule's identifiers; a hand-written function
    may do it to be sure nothing is tracked."""
    off: set[ast.AST] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_":
            flag = (
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "requires_grad"), None)
            )
            if _off(flag):
                off.add(node.func)
                off.update(k for k in node.keywords if k.arg == "requires_grad")
        elif isinstance(node, ast.Assign) and _off(node.value):
            off.update(t for t in node.targets if isinstance(t, ast.Attribute) and t.attr == "requires_grad")
        elif isinstance(node, ast.keyword) and node.arg == "requires_grad" and _off(node.value):
            off.add(node)
    return off


def forbidden_identifiers(function: ast.FunctionDef, identifiers: tuple[str, ...] | list[str]) -> list[str]:
    """The rule's `identifiers` the function's code uses as a name, an attribute, a keyword or an import."""
    used = set()
    allowed = tracking_turned_off(function)
    for node in ast.walk(function):
        if node in allowed:
            continue
        if isinstance(node, ast.Attribute) and node.attr in identifiers:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in identifiers and node.id != function.name:
            used.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg in identifiers:
            used.add(node.arg)
        elif isinstance(node, ast.alias) and any(part in identifiers for part in node.name.split(".")):
            used.add(node.name)
    return sorted(used)


def _messmaster_watch(sys, _thread, threading, time, os):
    """The Watch class: `Watch().install()` at the kernel's start; a Recording then reads it."""
    sys_setprofile = sys.setprofile
    # a thread without our hook that used less CPU than this during a call did nothing there; a thread whose
    # hook was removed (sys.setprofile in it) is allowed none
    silent_cpu_ns = 1_000_000

    def thread_cpu_ns(ident):
        try:
            return time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
        except (AttributeError, OSError, OverflowError):  # no such thread any more, or no such clock here
            return None

    def processes():
        """{(pid, start time): (parent pid, state)} of every process this machine's /proc shows ({} without one)."""
        found = {}
        try:
            entries = os.listdir("/proc")
        except OSError:
            return found
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()  # after the command's name, which may hold anything
            found[(int(entry), int(fields[19]))] = (int(fields[1]), fields[0].decode())
        return found

    def task_times(pid):
        """{thread id: (nanoseconds on a CPU, times put on a CPU)} of one process's threads (the scheduler's
        count of times put on a CPU grows the moment a sleeping thread wakes, before it can do anything)."""
        times = {}
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return times
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as file:
                    ran, _, slices = file.read().split()[:3]
                times[task] = (int(ran), int(slices))
            except (OSError, ValueError):
                continue
        return times

    class Watch:
        """The kernel's own threads and processes, every thread started since hooked, and the recording in force."""

        def __init__(self):
            self.own_threads = set(sys._current_frames())
            self.own_processes = set(processes())
            self.hooked = set()  # threads whose profile hook is `dispatch`
            self.recording = None  # the Recording in force: every hooked thread's calls go to it
            self.start_unwatched = _thread.start_new_thread

        def install(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_new_thread
            return self

        def uninstall(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_unwatched

        def start_new_thread(self, function, args, kwargs=None):
            watch = self

            def hooked(*args, **kwargs):
                ident = _thread.get_ident()
                watch.hooked.add(ident)
                sys_setprofile(watch.dispatch)
                try:
                    return function(*args, **kwargs)
                finally:
                    watch.hooked.discard(ident)

            return self.start_unwatched(hooked, args, kwargs or {})

        def dispatch(self, frame, event, arg):
            if event == "c_call" and arg is sys_setprofile:  # this thread replaces its hook: out of our sight
                self.hooked.discard(_thread.get_ident())
            recording = self.recording
            if recording is not None:
                recording.heard.add(_thread.get_ident())
                recording.profile(frame, event, arg)

        def threads_now(self, caller):
            """{thread: CPU nanoseconds} of every Python thread but the kernel's own and the caller."""
            idents = set(sys._current_frames()) - self.own_threads - {caller}
            return {ident: thread_cpu_ns(ident) for ident in idents}

        def unseen_threads(self, before, caller, heard):
            """The threads that ran during a call without being heard by the recording: "" if none."""
            after = self.threads_now(caller)
            for ident in sorted(set(before) | set(after)):
                if ident in heard:
                    continue
                start, end = before.get(ident), after.get(ident)
                if ident in before and ident not in after:  # it ended during the call: it ran
                    return "a thread started before the call"
                allowed = silent_cpu_ns if ident in self.hooked else 0
                if end is not None and end - (start or 0) > allowed:
                    name = getattr(threading._active.get(ident), "name", "")
                    return f"a thread ({name})" if name else "a thread"
            return ""

        def processes_now(self):
            """{(pid, start): (state, its threads' times)} of the notebook's processes: the kernel's descendants
            that were not there when the watch began."""
            table = processes()
            children = {}
            for key, (parent, _) in table.items():
                children.setdefault(parent, []).append(key)
            found, pending = {}, [key for key in table if key[0] == os.getpid()]
            while pending:
                for child in children.get(pending.pop()[0], []):
                    if child not in found and child not in self.own_processes:
                        found[child] = (table[child][1], task_times(child[0]))
                        pending.append(child)
            return found

        def processes_that_ran(self, before):
            """The processes that ran (or started, or ended) during a call: "" if none."""
            after = self.processes_now()
            for key, (state, times) in after.items():
                if key not in before:
                    return f"a process (pid {key[0]}) started during the call"
                if state == "R" or times != before[key][1]:
                    return f"a process (pid {key[0]}) the notebook started earlier"
            ended = sorted(set(before) - set(after))
            return f"a process (pid {ended[0][0]}) the notebook started earlier" if ended else ""

    return Watch


def _messmaster_recording(torch, sys, threading, os, watcher=None):
    """The Recording class: `with Recording(categories): function(...)`, then `.facts()`.

    `watcher`: the Watch installed at the kernel's start, through which the recording also hears every thread
    hooked since and sees the notebook's processes; without one, only threads started during the call."""
    from torch.overrides import TorchFunctionMode, resolve_name

    torch_root = os.path.dirname(torch.__file__) + os.sep
    autograd_functions = {
        "torch.Tensor.backward",
        "torch.autograd.grad",
        "torch.autograd.backward",
        "torch.Tensor.requires_grad_",
        "torch.Tensor.requires_grad.__set__",
        "torch.Tensor.retain_grad",
    }
    # turning tracking on is autograd; turning it off (requires_grad_(False)) is not: judged by its argument
    tracking_switches = {"torch.Tensor.requires_grad_", "torch.Tensor.requires_grad.__set__"}
    builtin_categories = {
        "run_backward": "autograd",
        "_run_backward": "autograd",
        "retain_grad": "autograd",
        "cross_entropy_loss": "cross_entropy",
    }
    # what starts a process: while a watched function runs, that is a breach of its rule whatever the process
    # does (work handed to a child is out of the recording's sight)
    process_starters = {"fork", "forkpty", "vfork", "fork_exec", "posix_spawn", "posix_spawnp", "execv", "execve"}
    process_starters |= {"system", "spawnv", "spawnve"}
    process_modules = {"posix", "nt", "os", "_posixsubprocess"}
    # calls that turn a layer of the recording off (torch itself pops the mode stack while it dispatches,
    # so the mode's removal is checked after the call instead)
    switches = {"setprofile", "settrace", "disable_saved_tensors_hooks", "_saved_tensors_hooks_disable"}
    genuine_profiler = all(
        getattr(f, "__self__", None) is sys and f.__name__ == name
        for f, name in ((sys.setprofile, "setprofile"), (sys.getprofile, "getprofile"))
    )

    def category_of_python(code):
        """The watched category of a Python function of torch's own, by file and name."""
        if not code.co_filename.startswith(torch_root):
            return None
        where = code.co_filename[len(torch_root) :].replace(os.sep, "/")
        name = code.co_qualname
        if where.startswith("optim/"):
            return "optimizer"
        if where in ("autograd/functional.py", "autograd/forward_ad.py") or where.startswith("func/"):
            return "autograd"
        if (where, name) in (("autograd/__init__.py", "backward"), ("autograd/__init__.py", "grad")):
            return "autograd"
        if (where, name) == ("_tensor.py", "Tensor.backward"):
            return "autograd"
        if (where, name) == ("nn/functional.py", "cross_entropy") or name.startswith("CrossEntropyLoss."):
            return "cross_entropy"
        return None

    class Recording:
        """Four layers: a profile hook on every Python and builtin call (this thread, and every thread the
        watch hooked or started meanwhile), a torch function mode on every torch call, a saved-tensors hook on
        any autograd graph, and the threads and processes that ran out of the hooks' hearing."""

        def __init__(self, categories):
            self.watch = set(categories)
            self.seen = {}
            self.switched_off = "" if genuine_profiler else "sys.setprofile was replaced before the call"
            self.active = False
            self.heard = set()  # the threads whose calls the profile hook heard during the call

        def note(self, category, what):
            if self.active and category in self.watch and category not in self.seen:
                self.seen[category] = what

        def started_process(self, how):
            if self.active and "process" not in self.seen:
                self.seen["process"] = how

        def profile(self, frame, event, arg):
            if not self.active:
                return
            if event == "call":
                name = frame.f_code.co_qualname
                if switches.intersection(name.split(".")) and not self.switched_off:
                    self.switched_off = name
                if name == "BaseProcess.start" and frame.f_code.co_filename.endswith("process.py"):
                    self.started_process("multiprocessing")  # whichever way it starts (a fork server too)
                self.note(category_of_python(frame.f_code), f"{frame.f_code.co_qualname} (torch)")
            elif event == "c_call":
                name = getattr(arg, "__name__", "")
                if name in switches and not self.switched_off:
                    self.switched_off = name
                if name in process_starters and getattr(arg, "__module__", None) in process_modules:
                    self.started_process(name)
                self.note(builtin_categories.get(name), name)
            elif event == "c_return" and getattr(arg, "__name__", "") == "requires_grad_":
                tensor = getattr(arg, "__self__", None)  # turned on, not off: seen on the tensor it returns from
                if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                    self.note("autograd", "requires_grad_")

        def graph_recorded(self, tensor):
            self.note("autograd", "an autograd graph (a tensor that requires grad)")
            return tensor

        def __enter__(self):
            recording = self

            class Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    name = resolve_name(func) or getattr(func, "__name__", "")
                    if name in tracking_switches:
                        turned_on = args[1] if len(args) > 1 else (kwargs or {}).get("requires_grad", True)
                        if turned_on:
                            recording.note("autograd", name)
                    elif name in autograd_functions:
                        recording.note("autograd", name)
                    elif (kwargs or {}).get("requires_grad") is True:
                        recording.note("autograd", f"{name}(requires_grad=True)")
                    elif name.endswith(("cross_entropy", "cross_entropy_loss")):
                        recording.note("cross_entropy", name)
                    return func(*args, **(kwargs or {}))

            self.mode = Watch()
            self.mode.__enter__()
            self.depth = torch._C._len_torch_function_stack()
            self.hooks = torch.autograd.graph.saved_tensors_hooks(self.graph_recorded, lambda tensor: tensor)
            self.hooks.__enter__()
            self.caller = threading.get_ident()
            if watcher is None:
                threading.setprofile(self.profile)
            else:
                self.threads_before = watcher.threads_now(self.caller)
                self.processes_before = watcher.processes_now()
                watcher.recording = self
            self.active = True
            sys.setprofile(self.profile)
            return self

        def __exit__(self, *exc):
            intact = sys.getprofile() == self.profile
            self.active = False
            sys.setprofile(None)
            if watcher is None:
                threading.setprofile(None)
            else:
                watcher.recording = None
                if "helper" not in self.seen:
                    unseen = watcher.unseen_threads(self.threads_before, self.caller, self.heard)
                    unseen = unseen or watcher.processes_that_ran(self.processes_before)
                    if unseen:
                        self.seen["helper"] = unseen
            depth = torch._C._len_torch_function_stack()
            if not intact and not self.switched_off:
                self.switched_off = "the profile hook was replaced"
            if depth != self.depth or torch._C._get_function_stack_at(depth - 1) is not self.mode:
                self.switched_off = self.switched_off or "the torch function mode was removed"
            self.hooks.__exit__(*exc)
            self.mode.__exit__(*exc)
            return False

        def facts(self):
            return {"watched": dict(self.seen), "recording": self.switched_off or "intact"}

    return Recording


def _messmaster_install_watch():
    """Install the Watch at the kernel's start, where the probe finds it later (a module: nothing of it lands in
    the notebook's namespace)."""
    import _thread
    import os
    import sys
    import threading
    import time
    import types

    module = types.ModuleType("_messmaster_watch")
    module.watch = _messmaster_watch(sys, _thread, threading, time, os)().install()
    sys.modules[module.__name__] = module


# ---- END SHARED WITH THE GRADER ----


class CheckFailed(Exception):
    """A check's verdict: the message says what was called, what came back and what to look at."""


@dataclass
class Outcome:
    item: str
    case: str
    passed: bool
    message: str = ""


def _shape(value) -> tuple | None:
    return tuple(value.shape) if hasattr(value, "shape") else None


def _numbers(what: str, value) -> np.ndarray:
    """A returned value as plain numbers, or a failed check when it is not numbers."""
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().double().numpy()
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed(f"{what}: returned a {type(value).__name__}, expected a tensor") from None


def _close(what: str, actual, expected: torch.Tensor, hint: str = "") -> None:
    """Shape first, then values, with the grader's comparison and tolerances; NaN is always wrong."""
    mismatch = value_mismatch(_numbers(what, actual), expected.detach().double().numpy(), RTOL, ATOL)
    if mismatch:
        raise CheckFailed(f"{what}: {mismatch}. {hint}".strip())


def _problem(n: int, d: int, h: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    params = [torch.randn(d, h, generator=g), torch.randn(h, generator=g), torch.randn(h, 2, generator=g)]
    params.append(torch.randn(2, generator=g))
    return X, y, params


def _xor_data(n: int = 100, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    return X, (X[:, 0] * X[:, 1] < 0).long()


# ---- one function per graded item: each yields (case, check) pairs -------------------------------------


def checks_loss_fn(loss_fn: Callable):
    for case, n, only in [("random N=8", 8, None), ("N=1", 1, None), ("one class only", 6, 1)]:
        g = torch.Generator().manual_seed(n)
        p = torch.softmax(torch.randn(n, 2, generator=g), dim=1)
        y = torch.full((n,), only) if only is not None else torch.randint(0, 2, (n,), generator=g)

        def check(p=p, y=y, n=n):
            out = loss_fn(p.clone(), y.clone())
            mistake = recognise_loss(p.double().numpy(), y.numpy(), _numbers("loss_fn", out))
            advice = hint(mistake) if mistake else "The loss is the mean negative log-likelihood of the true class."
            _close(f"loss_fn(p_y_hat {tuple(p.shape)}, y {tuple(y.shape)})", out, F.nll_loss(torch.log(p), y), advice)

        yield case, check


def checks_init_params(init_params: Callable):
    for d, h, k in [(2, 10, 2), (3, 1, 2), (40, 500, 2)]:

        def check(d=d, h=h, k=k):
            params = init_params(d, h, k)
            wanted = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
            if len(params) != 4:
                raise CheckFailed(f"init_params({d}, {h}, {k}) returned {len(params)} values, expected 4")
            problems = [
                parameter_problem(name, _numbers(name, value), shape, WEIGHT_STD, WEIGHT_STD_MIN_SIZE, WEIGHT_MAX_ABS)
                for (name, shape), value in zip(wanted.items(), params, strict=True)
            ]
            if any(problems):
                shapes = {name: _shape(value) for name, value in zip(wanted, params, strict=True)}
                mistake = recognise_weight_shapes(shapes, d, h, k)
                advice = f" {hint(mistake)}" if mistake else ""
                raise CheckFailed(f"init_params({d}, {h}, {k}): " + "; ".join(p for p in problems if p) + advice)

        yield f"d={d}, h={h}, k={k}", check


def checks_forward(forward: Callable):
    for n, d, h, scale in [(16, 2, 10, 1), (1, 2, 1, 1), (4, 5, 16, 1), (6, 2, 10, 60)]:

        def check(n=n, d=d, h=h, scale=scale):
            X, _, params = _problem(n, d, h, seed=n + h)
            params = [p * scale for p in params]  # large weights, large logits: a naive softmax overflows
            z1, a1, z2, p_hat = forward(X.clone(), *[p.clone() for p in params])
            call = f"forward(X {tuple(X.shape)}, W1 {tuple(params[0].shape)}, ...)"
            _close(f"{call} z1", z1, X @ params[0] + params[1], "First layer: z1 = X @ W1 + b1.")
            _close(f"{call} a1", a1, torch.clamp(torch.as_tensor(z1), min=0), "a1 = ReLU(z1).")
            _close(f"{call} z2", z2, torch.as_tensor(a1) @ params[2] + params[3], "Second layer: z2 = a1 @ W2 + b2.")
            overflowed = not np.all(np.isfinite(_numbers(f"{call} p_hat", p_hat)))
            advice = hint("softmax_overflow") if overflowed else "p_hat = softmax(z2, dim=1)."
            _close(f"{call} p_hat", p_hat, torch.softmax(torch.as_tensor(z2), dim=1), advice)

        yield f"N={n}, d={d}, h={h}" + (", large logits" if scale > 1 else ""), check


def checks_backward(backward: Callable):
    for n, d, h, kink in [(16, 2, 10, False), (1, 3, 4, False), (10, 2, 5, True)]:

        def check(n=n, d=d, h=h, kink=kink):
            X, y, params = _problem(n, d, h, seed=3 * n + h)
            if kink:  # z1 exactly 0: the ReLU's derivative is taken as 0 there, as autograd does
                X[: n // 2] = 0
                params[1].zero_()
            leaves = [p.clone().requires_grad_(True) for p in params]
            z1 = X @ leaves[0] + leaves[1]
            a1 = torch.relu(z1)
            z2 = a1 @ leaves[2] + leaves[3]
            F.cross_entropy(z2, y).backward()
            p_hat = torch.softmax(z2, dim=1).detach()
            grads = backward(X.clone(), y.clone(), z1.detach().clone(), a1.detach().clone(), p_hat, params[2].clone())
            call = f"backward(X {tuple(X.shape)}, ...)"
            for name, mine, leaf in zip(GRADIENT_HINTS, grads, leaves, strict=True):
                if isinstance(mine, torch.Tensor) and mine.grad_fn is not None:
                    raise CheckFailed(f"{call}: {name} carries an autograd history; compute it by hand")
                inputs = {"X": X, "y": y, "z1": z1.detach(), "a1": a1.detach(), "p_hat": p_hat, "W2": params[2]}
                mistake = recognise_gradient(
                    name, {k: v.numpy() for k, v in inputs.items()}, _numbers(name, mine), leaf.grad.double().numpy()
                )
                _close(
                    f"{call} {name}", mine, leaf.grad, hint(mistake) if mistake else f"Hint: {GRADIENT_HINTS[name]}."
                )

        yield f"N={n}, d={d}, h={h}" + (", z1 = 0 somewhere" if kink else ""), check


def checks_sgd_update(sgd_update: Callable):
    for lr in (0.1, 0.5):

        def check(lr=lr):
            _, _, params = _problem(4, 3, 5, seed=int(lr * 10))
            grads = [torch.randn_like(p) for p in params]
            twins = [p.clone().requires_grad_(True) for p in params]
            for twin, grad in zip(twins, grads, strict=True):
                twin.grad = grad.clone()
            torch.optim.SGD(twins, lr=lr).step()
            before = [p.clone() for p in params]
            ids = [id(p) for p in params]
            returned = sgd_update(params, grads, lr)
            call = f"sgd_update([W1, b1, W2, b2], grads, {lr})"
            for name, p, grad, twin, old in zip(("W1", "b1", "W2", "b2"), params, grads, twins, before, strict=True):
                if torch.equal(p, old):
                    raise CheckFailed(f"{call}: {name} did not change; update the tensors in place (W1 -= ...)")
                if recognise_update(old.double().numpy(), grad.double().numpy(), lr, p.double().numpy()):
                    raise CheckFailed(f"{call}: {name} moved *up* the gradient. {hint('update_sign')}")
                _close(f"{call} {name}", p, twin.detach())
            if returned is not params or [id(p) for p in params] != ids:
                raise CheckFailed(f"{call}: return the same list, with its tensors updated in place")

        yield f"learning_rate={lr}", check


def checks_train_manual(train_manual: Callable):
    def check():
        X, y = _xor_data()
        torch.manual_seed(0)
        params, history = train_manual(X, y, h=10, learning_rate=0.1, epochs=SHORT_EPOCHS)
        call = f"train_manual(X {tuple(X.shape)}, y, epochs={SHORT_EPOCHS})"
        if len(history) != SHORT_EPOCHS or not all(isinstance(v, float) for v in history):
            raise CheckFailed(f"{call}: loss_history should hold one float per epoch ({SHORT_EPOCHS})")
        if not history[-1] < history[0]:
            raise CheckFailed(f"{call}: the loss did not fall ({history[0]:.4f} -> {history[-1]:.4f})")
        shapes = [_shape(p) for p in params]
        if shapes != [(2, 10), (10,), (10, 2), (2,)]:
            raise CheckFailed(f"{call}: trained parameters have shapes {shapes}")

    yield f"{SHORT_EPOCHS} epochs on a small XOR set", check


def checks_train_with_optimizer(train_with_optimizer: Callable):
    def check():
        X, y = _xor_data()
        runs = {name: train_with_optimizer(name, X, y, epochs=30, seed=7) for name in ("SGD", "Adam")}
        for name, history in runs.items():
            if len(history) != 30 or not all(isinstance(v, float) for v in history):
                raise CheckFailed(f'train_with_optimizer("{name}", epochs=30): expected 30 floats, one per epoch')
            if not history[-1] < history[0]:
                raise CheckFailed(f'train_with_optimizer("{name}", epochs=30): the loss did not fall')
        if not same_start(runs["SGD"][0], runs["Adam"][0], SAME_START_RTOL, SAME_START_ATOL):
            raise CheckFailed(f"SGD and Adam start from different losses. {hint('optimizers_start_apart')}")

    yield "SGD and Adam, 30 epochs", check


CHECKS = {
    "loss_fn": checks_loss_fn,
    "init_params": checks_init_params,
    "forward": checks_forward,
    "backward": checks_backward,
    "sgd_update": checks_sgd_update,
    "train_manual": checks_train_manual,
    "train_with_optimizer": checks_train_with_optimizer,
}


def _import_torch() -> None:
    global torch, F
    torch = _require("torch")
    F = _require("torch.nn.functional")


def rule_broken(item: str, function: Callable) -> str:
    """Why the grader scores `function` zero by the rubric's rule on its own code, or "" (as the grader reads it:
    the names it uses; the grader also watches what it runs and what it returns)."""
    if item not in RULE_IDENTIFIERS:
        return ""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return ""  # no source to read (defined by exec): the grader reads the notebook's text instead
    definition = next((node for node in tree.body if isinstance(node, ast.FunctionDef)), None)
    used = forbidden_identifiers(definition, RULE_IDENTIFIERS[item]) if definition else []
    if not used:
        return ""
    return f"{item} uses {', '.join(used)}: {RULE_REASONS[item]}. The grader scores it 0 for this."


def _not_defined(item: str, raised: dict[str, str]) -> str:
    if item in raised:
        return f"`{item}` is not defined: its cell raised {raised[item]}; fix that cell first"
    return f"`{item}` is not defined: run its cell first"


def _follows_from(namespace: dict, outcomes: list[Outcome], raised: dict[str, str]) -> list[str]:
    """The functions train_manual composes that fail their own checks (checked quietly when not checked here)."""
    checked = {o.item for o in outcomes}
    failing = {o.item for o in outcomes if not o.passed and o.item in TRAINING_NEEDS}
    quietly = [item for item in TRAINING_NEEDS if item not in checked]
    if quietly:
        failing |= {o.item for o in _run_item_checks(namespace, quietly, raised) if not o.passed}
    return [item for item in TRAINING_NEEDS if item in failing]


def run_checks(namespace: dict, items: list[str] | None = None, raised: dict[str, str] | None = None) -> list[Outcome]:
    """Every check of `items` (default: all) on the functions found in `namespace`.

    `raised`: the graded functions whose notebook cell raised, and what it raised. A train_manual that fails
    while a function it composes fails too is told to fix that one first."""
    raised = raised or {}
    outcomes = _run_item_checks(namespace, items or list(CHECKS), raised)
    failed_training = [o for o in outcomes if o.item == "train_manual" and not o.passed and o.case != "defined"]
    if failed_training and (first := _follows_from(namespace, outcomes, raised)):
        for outcome in failed_training:
            outcome.message += (
                f" (this follows from the failing {', '.join(f'`{item}`' for item in first)}: fix `{first[0]}` first)"
            )
    return outcomes


def _run_item_checks(namespace: dict, items: list[str], raised: dict[str, str]) -> list[Outcome]:
    _import_torch()
    outcomes = []
    for item in items:
        function = namespace.get(item)
        if not callable(function):
            outcomes.append(Outcome(item, "defined", False, _not_defined(item, raised)))
            continue
        if broken := rule_broken(item, function):
            outcomes.append(Outcome(item, "its own code", False, broken))
        breaches: list[str] = []
        for case, check in CHECKS[item](_recorded(item, function, breaches)):
            torch.manual_seed(0)
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # training progress would bury the verdicts
                    check()
                outcomes.append(Outcome(item, case, True))
            except CheckFailed as failure:
                outcomes.append(Outcome(item, case, False, str(failure)))
            except Exception as error:
                outcomes.append(Outcome(item, case, False, f"{item} raised {type(error).__name__}: {error}"))
        if breaches and not broken:
            outcomes.append(Outcome(item, "what it runs", False, f"{breaches[0]}. The grader scores it 0 for this."))
    return outcomes


def _span(text: str) -> str:
    return f"`{text}`"


def _recorded(item: str, function: Callable, breaches: list[str]) -> Callable:
    """`function`, recorded while it runs as the grader records it (the rule's `watch`, with the grader's own
    Recording, stamped below), and its returned tensors checked for an autograd history where the rule says
    so; the first breach is appended to `breaches`."""
    watch, history = RULE_WATCH.get(item, []), RULE_AUTOGRAD_HISTORY.get(item, False)
    if not watch and not history:
        return function
    import threading

    recording_class = _messmaster_recording(torch, sys, threading, os)

    def recorded(*args, **kwargs):
        breach = ""
        if watch:
            with recording_class(watch) as recording:
                value = function(*args, **kwargs)
            facts = recording.facts()
            breach = run_time_breach(item, facts["watched"], facts["recording"], watch, RULE_REASONS[item], _span)
        else:
            value = function(*args, **kwargs)
        returned = value if isinstance(value, (list, tuple)) else [value]
        if not breach and history and any(isinstance(v, torch.Tensor) and v.grad_fn is not None for v in returned):
            breach = autograd_history_breach(item, RULE_REASONS[item])
        if breach and not breaches:
            breaches.append(breach)
        return value

    return recorded


def _colour_wanted() -> bool:
    """Colour only for a terminal (and not when NO_COLOR is set): a file or a notebook gets plain text."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def report(outcomes: list[Outcome], seconds: float, colour: bool = False) -> str:
    lines = []
    for o in outcomes:
        mark = ("PASS", "FAIL")[not o.passed]
        if colour:
            mark = f"{GREEN if o.passed else RED}{mark}{RESET}"
        item = FEEDBACK_NAMES.get(o.item, o.item)
        lines.append(f"{mark} {item} [{o.case}]" + ("" if o.passed else f"\n     {o.message}"))
    passed = sum(o.passed for o in outcomes)
    items = sorted({o.item for o in outcomes}, key=list(CHECKS).index)
    worth = ", ".join(f"{item} {POINTS[item]}" for item in items)
    lines.append(f"\n{passed} of {len(outcomes)} checks passed in {seconds:.1f} s.")
    lines.append(
        f"Points: {worth} (written answers {WRITTEN_POINTS}). The grader also runs hidden tests "
        "(other shapes, one class only, large logits): passing here does not guarantee full marks."
    )
    return "\n".join(lines)


def _function(item: str) -> str:
    """The function of an item named as the feedback names it (optimizers -> train_with_optimizer)."""
    by_feedback = {name.split(" ")[0]: function for function, name in FEEDBACK_NAMES.items()}
    return by_feedback.get(item, item)


def check(item: str | None = None) -> None:
    """Check one graded function (by name) or all of them, in the notebook that calls this; prints the verdicts."""
    _check_and_report(inspect.currentframe().f_back.f_globals, item, _colour_wanted())


def _check_and_report(namespace: dict, item: str | None, colour: bool, raised: dict[str, str] | None = None) -> bool:
    if item is not None and _function(item) not in CHECKS:
        names = [FEEDBACK_NAMES.get(function, function).split(" ")[0] for function in CHECKS]
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
    """A warning for each training call in the cells' code that does not pass epochs=EPOCHS: the self-check's
    fewer epochs do not reach it, so it trains for as many as it says (the handout's 10,000 when it says none)."""
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
            count = given.value if isinstance(given, ast.Constant) else CONTRACT_EPOCHS if given is None else None
            if isinstance(count, (int, float)) and count <= epochs:
                continue
            says = f"epochs={count:g}" if count is not None else f"epochs={ast.unparse(given)}"
            says = "no epochs (the default, 10000)" if given is None else says
            warnings.append(
                f"warning: code cell {number} calls {_called_name(call)} with {says}, not epochs=EPOCHS: the "
                f"self-check's EPOCHS = {epochs} does not reach it, so it trains that long. Pass epochs=EPOCHS, "
                "as the handout does."
            )
    return warnings


class _Progress:
    """From the shell: the cell running, once it passes SLOW_CELL_SECONDS (and every as many seconds after)."""

    def __init__(self) -> None:
        import threading

        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def started(self, number: int, source: str) -> None:
        import threading

        self.finished()
        self.stop = threading.Event()
        started, stop = time.monotonic(), self.stop

        def report() -> None:
            while not stop.wait(SLOW_CELL_SECONDS):
                print(
                    f"  still running code cell {number} (`{_first_line(source)}`): {time.monotonic() - started:.0f} s",
                    flush=True,
                )

        self.thread = threading.Thread(target=report, daemon=True)
        self.thread.start()

    def finished(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None


def _transport() -> str:
    """IPC sockets where the system has them (nothing listens on the network), else TCP on loopback (Windows);
    SELFCHECK_TRANSPORT=tcp or ipc chooses."""
    import socket

    chosen = os.environ.get("SELFCHECK_TRANSPORT", "").lower()
    if chosen in ("tcp", "ipc"):
        return chosen
    return "ipc" if hasattr(socket, "AF_UNIX") and os.name != "nt" else "tcp"


def check_notebook(path: str, epochs: int = 100, item: str | None = None) -> bool:
    """Run a saved notebook (with EPOCHS overridden) in a fresh kernel, then the checks (of `item`) inside it."""
    from pathlib import Path

    started = time.monotonic()
    # Jupyter's notices about its own folders and transports are not the student's business
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    import warnings

    warnings.filterwarnings("ignore", module="jupyter_client|jupyter_core|zmq|traitlets")
    nbformat = _require("nbformat")
    NotebookClient = _require("nbclient").NotebookClient
    run_sync = _require("jupyter_core.utils").run_sync

    notebook = inject_parameters(nbformat.read(path, as_version=4), {"EPOCHS": epochs})
    own_cells = [
        c for c in notebook.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    for warning in epochs_bypassed([c.source for c in own_cells], epochs):
        print(warning, flush=True)
    here = str(Path(__file__).resolve().parent)
    colour = _colour_wanted()  # decided here, at the terminal: the kernel's output is never one
    check_cell = nbformat.v4.new_code_cell("# the checks: written when the notebook has run")
    notebook.cells.append(check_cell)
    raised: dict[str, str] = {}  # graded function -> what its cell raised
    progress = _Progress()

    def on_execute(cell, cell_index, **_) -> None:
        if cell is check_cell:  # by now every cell of the notebook has run: the checks learn which raised
            cell.source = (
                f"import sys\nsys.path.insert(0, {here!r})\nimport selfcheck\n"
                f"assert selfcheck._check_and_report(globals(), {item!r}, {colour!r}, {raised!r}), 'failed'"
            )
        elif cell in own_cells:
            progress.started(own_cells.index(cell) + 1, cell.source)

    def on_executed(cell, cell_index, **_) -> None:
        progress.finished()
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and cell is not check_cell:
            for function in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE):
                raised[function] = f"{errors[0]['ename']}: {errors[0]['evalue']}"

    folder = str(Path(path).resolve().parent)
    import tempfile

    manager_class = _require("jupyter_client.manager").AsyncKernelManager
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as sockets:
        transport = _transport()
        where = os.path.join(sockets, "kernel") if transport == "ipc" else "127.0.0.1"
        manager = manager_class(kernel_name="python3", transport=transport, ip=where)
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=600,
            allow_errors=True,
            resources={"metadata": {"path": folder}},
            on_cell_execute=on_execute,
            on_cell_executed=on_executed,
            # the kernel's own log (its transport, its parent) is not the student's business either
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        try:
            client.execute()
        finally:
            progress.finished()
            # the kernel stopped before the command returns: nothing of it prints after the prompt is back
            if run_sync(manager.is_alive)():
                run_sync(manager.shutdown_kernel)(now=False)
    notebook_seconds = time.monotonic() - started
    for number, cell in enumerate(own_cells, start=1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            print(
                f"note: code cell {number} (`{_first_line(cell.source)}`) raised {errors[0]['ename']}: "
                f"{errors[0]['evalue']}"
            )
    print("".join(o.get("text", "") for o in check_cell.outputs if o.get("output_type") == "stream"), end="")
    failures = [o for o in check_cell.outputs if o.get("output_type") == "error"]
    if failures and failures[0]["ename"] != "AssertionError":
        print(f"the self-check could not run: {failures[0]['ename']}: {failures[0]['evalue']}")
    print(
        f"The self-check took {time.monotonic() - started:.0f} s in all (running the notebook with EPOCHS = "
        f"{epochs}: {notebook_seconds:.0f} s, checks included)."
    )
    return not failures


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python selfcheck.py", description="Run a saved notebook with few epochs, then check its functions."
    )
    parser.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    names = [FEEDBACK_NAMES.get(function, function).split(" ")[0] for function in CHECKS]
    parser.add_argument("--item", choices=names, help="check one function only (default: all of them)")
    args = parser.parse_args(argv)
    try:
        return 0 if check_notebook(args.notebook, item=args.item) else 1
    except MissingPackage as missing:
        print(missing, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
