"""Check your MessMaster part 2 functions before you submit.

In the notebook, after running your cells:

    from selfcheck import check
    check("loss_fn")   # one function
    check()            # all of them

From a shell, on a saved notebook (runs it with few epochs first):

    python selfcheck.py messmaster_part2.ipynb

These checks use public cases and independent oracles (PyTorch's own loss,
autograd, torch.optim); the grader also runs hidden cases, so passing here is
necessary, not sufficient.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# torch is imported when the checks run (`_import_torch`), not here: the shell entry point only drives
# a kernel, and importing torch there too would cost seconds for nothing.
torch = F = None

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"
SHORT_EPOCHS = 150

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
            hint = "Step 2 takes the mean over examples, so the loss is one number (shape ())."
            if _shape(out) == (n,) or _shape(out) == (n, 2):
                raise CheckFailed(f"loss_fn(p_y_hat {tuple(p.shape)}, y {tuple(y.shape)}): shape {_shape(out)}. {hint}")
            _close(f"loss_fn(p_y_hat {tuple(p.shape)}, y {tuple(y.shape)})", out, F.nll_loss(torch.log(p), y), hint)

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
                raise CheckFailed(f"init_params({d}, {h}, {k}): " + "; ".join(p for p in problems if p))

        yield f"d={d}, h={h}, k={k}", check


def checks_forward(forward: Callable):
    for n, d, h in [(16, 2, 10), (1, 2, 1), (4, 5, 16)]:

        def check(n=n, d=d, h=h):
            X, _, params = _problem(n, d, h, seed=n + h)
            z1, a1, z2, p_hat = forward(X.clone(), *[p.clone() for p in params])
            call = f"forward(X {tuple(X.shape)}, W1 {tuple(params[0].shape)}, ...)"
            _close(f"{call} z1", z1, X @ params[0] + params[1], "First layer: z1 = X @ W1 + b1.")
            _close(f"{call} a1", a1, torch.clamp(torch.as_tensor(z1), min=0), "a1 = ReLU(z1).")
            _close(f"{call} z2", z2, torch.as_tensor(a1) @ params[2] + params[3], "Second layer: z2 = a1 @ W2 + b2.")
            _close(f"{call} p_hat", p_hat, torch.softmax(torch.as_tensor(z2), dim=1), "p_hat = softmax(z2, dim=1).")

        yield f"N={n}, d={d}, h={h}", check


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
                _close(f"{call} {name}", mine, leaf.grad, f"Hint: {GRADIENT_HINTS[name]}.")

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
                if torch.allclose(p, old + lr * grad):
                    raise CheckFailed(
                        f"{call}: {name} moved *up* the gradient. SGD steps against it: theta <- theta - eta * grad."
                    )
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
            raise CheckFailed("SGD and Adam must start from the same loss: seed, then initialise, in the function")

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
    import torch
    import torch.nn.functional as F


def run_checks(namespace: dict, items: list[str] | None = None) -> list[Outcome]:
    """Every check of `items` (default: all) on the functions found in `namespace`."""
    _import_torch()
    outcomes = []
    for item in items or list(CHECKS):
        function = namespace.get(item)
        if not callable(function):
            outcomes.append(Outcome(item, "defined", False, f"`{item}` is not defined: run its cell first"))
            continue
        for case, check in CHECKS[item](function):
            torch.manual_seed(0)
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # training progress would bury the verdicts
                    check()
                outcomes.append(Outcome(item, case, True))
            except CheckFailed as failure:
                outcomes.append(Outcome(item, case, False, str(failure)))
            except Exception as error:
                outcomes.append(Outcome(item, case, False, f"{item} raised {type(error).__name__}: {error}"))
    return outcomes


def report(outcomes: list[Outcome], seconds: float) -> str:
    lines = []
    for o in outcomes:
        mark = f"{GREEN}PASS{RESET}" if o.passed else f"{RED}FAIL{RESET}"
        lines.append(f"{mark} {o.item} [{o.case}]" + ("" if o.passed else f"\n     {o.message}"))
    passed = sum(o.passed for o in outcomes)
    items = sorted({o.item for o in outcomes}, key=list(CHECKS).index)
    worth = ", ".join(f"{item} {POINTS[item]}" for item in items)
    lines.append(f"\n{passed} of {len(outcomes)} checks passed in {seconds:.1f} s.")
    lines.append(
        f"Points: {worth} (written answers {WRITTEN_POINTS}). The grader also runs hidden tests "
        "(other shapes, one class only, large logits): passing here does not guarantee full marks."
    )
    return "\n".join(lines)


def check(item: str | None = None) -> bool:
    """Check one graded function (by name) or all of them, in the notebook that calls this."""
    if item is not None and item not in CHECKS:
        raise ValueError(f"unknown item {item!r}; choose one of {', '.join(CHECKS)}")
    namespace = inspect.currentframe().f_back.f_globals
    started = time.perf_counter()
    outcomes = run_checks(namespace, [item] if item else None)
    print(report(outcomes, time.perf_counter() - started))
    return all(o.passed for o in outcomes)


def check_notebook(path: str, epochs: int = 100, item: str | None = None) -> bool:
    """Run a saved notebook (with EPOCHS overridden) in a fresh kernel, then the checks (of `item`) inside it."""
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    notebook = inject_parameters(nbformat.read(path, as_version=4), {"EPOCHS": epochs})
    here = str(Path(__file__).resolve().parent)
    run_checks_cell = (
        f"import sys\nsys.path.insert(0, {here!r})\nfrom selfcheck import check\nassert check({item!r}), 'failed'"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(run_checks_cell))
    folder = str(Path(path).resolve().parent)
    client = NotebookClient(notebook, timeout=600, allow_errors=True, resources={"metadata": {"path": folder}})
    client.execute()
    own_cells = [
        c
        for c in notebook.cells[:-1]
        if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    for number, cell in enumerate(own_cells, start=1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            print(f"note: code cell {number} raised {errors[0]['ename']}: {errors[0]['evalue']}")
    last = notebook.cells[-1]
    print("".join(o.get("text", "") for o in last.outputs if o.get("output_type") == "stream"), end="")
    failures = [o for o in last.outputs if o.get("output_type") == "error"]
    if failures and failures[0]["ename"] != "AssertionError":
        print(f"the self-check could not run: {failures[0]['ename']}: {failures[0]['evalue']}")
    return not failures


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python selfcheck.py", description="Run a saved notebook with few epochs, then check its functions."
    )
    parser.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    parser.add_argument("--item", choices=list(CHECKS), help="check one function only (default: all of them)")
    args = parser.parse_args(argv)
    return 0 if check_notebook(args.notebook, item=args.item) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
