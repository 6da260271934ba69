"""`make mutation`: mutants of the reference's graded functions, scored as the grader scores them.

Each mutant changes one spot of one graded function in reference/solutions.py
(an operator, a comparison, a reduction or its axis, a transpose, a term, a
sign, a constant). Every mutant is first judged by an oracle that knows nothing
of the grader: autograd for `backward`, `F.nll_loss` for `loss_fn`, torch's own
layers for `forward`, the update rule for `sgd_update`, shapes and spread for
`init_params`, and for the two trainings a trainer written with autograd from
the same first weights. Then the grader's own probe and judges score it in
this process. A mutant the oracle calls equivalent must keep full marks on its
item; every other mutant must lose points on it. The report gives the kill
rate per item and lists every survivor and every equivalent mutant that lost
points (both are grader bugs).

Usage: .venv/bin/python tools/mutation.py [--item NAME] [--epochs N]   (a few minutes)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import inspect
import io
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignment import use_assignment  # noqa: E402
from grader.items import generate_cases  # noqa: E402
from grader.judge.score import score_item  # noqa: E402
from grader.rubric import Rubric, load_rubric  # noqa: E402
from reference import solutions  # noqa: E402
from tools.in_process import outcomes_in_process  # noqa: E402

MESSMASTER = use_assignment(ROOT)
GRADED_FUNCTIONS = MESSMASTER.graded_functions
training_split = MESSMASTER.module.cases.training_split
SOURCE = Path(inspect.getfile(solutions)).read_text()

# ---- mutation operators: each yields (description, mutated copy) for one node ---------------------------

SWAPPED_OPERATORS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.MatMult: ast.Mult}
SWAPPED_COMPARISONS = {ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt,), ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt,)}
SWAPPED_CALLS = {
    "sum": "mean",
    "mean": "sum",
    "max": "min",
    "min": "max",
    "relu": "abs",
    "log": "log1p",
    "softmax": "log_softmax",
    "zeros": "ones",
    "randn": "rand",
}


def _mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(node, ast.BinOp):
        if type(node.op) in SWAPPED_OPERATORS:
            new = SWAPPED_OPERATORS[type(node.op)]()
            yield f"{type(node.op).__name__} -> {type(new).__name__}", ast.BinOp(node.left, new, node.right)
        yield "keep only the left operand", node.left
        yield "keep only the right operand", node.right
    elif isinstance(node, ast.AugAssign) and type(node.op) in SWAPPED_OPERATORS:
        new = SWAPPED_OPERATORS[type(node.op)]()
        yield f"{type(node.op).__name__}= -> {type(new).__name__}=", ast.AugAssign(node.target, new, node.value)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPPED_COMPARISONS:
        for new in SWAPPED_COMPARISONS[type(node.ops[0])]:
            yield f"{type(node.ops[0]).__name__} -> {new.__name__}", ast.Compare(node.left, [new()], node.comparators)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "drop a minus sign", node.operand
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "drop a transpose", node.value
    elif isinstance(node, ast.Attribute) and node.attr in SWAPPED_CALLS:
        yield (
            f"{node.attr} -> {SWAPPED_CALLS[node.attr]}",
            ast.Attribute(node.value, SWAPPED_CALLS[node.attr], node.ctx),
        )
    elif isinstance(node, ast.keyword) and node.arg in ("dim", "axis") and isinstance(node.value, ast.Constant):
        other = 1 - node.value.value if node.value.value in (0, 1) else 0
        yield f"{node.arg}={node.value.value} -> {node.arg}={other}", ast.keyword(node.arg, ast.Constant(other))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
        for new in {node.value * 2, node.value + 1, 0} - {node.value}:
            yield f"{node.value!r} -> {new!r}", ast.Constant(new)


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target, self.replacement = target, replacement

    def visit(self, node: ast.AST) -> ast.AST:
        return self.replacement if node is self.target else self.generic_visit(node)


@dataclass
class Mutant:
    item: str
    line: int
    change: str
    source: str  # the whole module, mutated


def _is_docstring_or_annotation(node: ast.AST, function: ast.FunctionDef) -> bool:
    body = function.body[0]
    docstring = isinstance(body, ast.Expr) and isinstance(body.value, ast.Constant)
    annotations = {id(n) for arg in function.args.args if arg.annotation for n in ast.walk(arg.annotation)}
    annotations |= {id(n) for n in ast.walk(function.returns)} if function.returns else set()
    return (docstring and node is body.value) or id(node) in annotations


def generate_mutants(items: list[str]) -> list[Mutant]:
    """Every single-spot mutant of the graded functions of `items`, as whole modules."""
    module = ast.parse(SOURCE)
    original = ast.unparse(module)
    mutants, seen = [], {original}  # two changes may write the same code: it is one mutant
    for item in items:
        function = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == GRADED_FUNCTIONS[item])
        for node in ast.walk(function):
            if _is_docstring_or_annotation(node, function):
                continue
            for change, replacement in _mutations(node):
                mutated = _replace_at(module, node, replacement)
                source = ast.unparse(ast.fix_missing_locations(mutated))
                if source not in seen:
                    seen.add(source)
                    mutants.append(Mutant(item, getattr(node, "lineno", function.lineno), change, source))
    return mutants


def _replace_at(module: ast.Module, target: ast.AST, replacement: ast.AST) -> ast.Module:
    """A deep copy of `module` with the copy of `target` replaced by `replacement`."""
    memo: dict[int, object] = {}
    copied = copy.deepcopy(module, memo)
    return _Replace(memo[id(target)], copy.deepcopy(replacement)).visit(copied)


# ---- the oracles: is a mutant still right, judged without the grader? ------------------------------------


def _close(a: object, b: object) -> bool:
    try:
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        return True
    except (AssertionError, TypeError, ValueError, RuntimeError):
        return False


def _inputs(seed: int, n: int, d: int = 3, h: int = 5, k: int = 2, scale: float = 1.0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=generator)
    params = [torch.randn(*shape, generator=generator) * scale for shape in ((d, h), (h,), (h, k), (k,))]
    y = torch.randint(0, k, (n,), generator=generator)
    return {"X": X, "y": y, "params": params}


def _oracle_loss_fn(ns: dict) -> bool:
    for seed, n, scale in ((0, 16, 1.0), (1, 1, 1.0), (2, 8, 30.0)):
        logits = _inputs(seed, n)["X"][:, :2] * scale
        y = _inputs(seed, n)["y"]
        p = torch.softmax(logits, dim=1)
        if not _close(ns["loss_fn"](p.clone(), y.clone()), F.nll_loss(torch.log(p), y)):
            return False
    return True


def _reference_forward(X: torch.Tensor, W1, b1, W2, b2) -> tuple:
    z1 = F.linear(X, W1.T, b1)
    a1 = F.relu(z1)
    z2 = F.linear(a1, W2.T, b2)
    return z1, a1, z2, F.softmax(z2, dim=-1)


def _oracle_forward(ns: dict) -> bool:
    for seed, n, scale in ((0, 16, 1.0), (1, 1, 1.0), (2, 8, 20.0)):
        case = _inputs(seed, n, scale=scale)
        got = ns["forward"](case["X"].clone(), *(p.clone() for p in case["params"]))
        expected = _reference_forward(case["X"], *case["params"])
        if len(got) != 4 or not all(_close(g, e) for g, e in zip(got, expected, strict=True)):
            return False
    return True


def _oracle_backward(ns: dict) -> bool:
    for seed, n, zero_rows in ((0, 16, 0), (1, 1, 0), (2, 7, 3)):
        case = _inputs(seed, n)
        if zero_rows:  # z1 exactly 0, where autograd's ReLU has slope 0 (the handout's "1 if z1 > 0, else 0")
            case["X"][:zero_rows] = 0.0
            case["params"][1] = torch.zeros_like(case["params"][1])
        params = [p.clone().requires_grad_(True) for p in case["params"]]
        z1, a1, z2, p_hat = _reference_forward(case["X"], *params)
        F.cross_entropy(z2, case["y"]).backward()
        got = ns["backward"](case["X"], case["y"], z1.detach(), a1.detach(), p_hat.detach(), params[2].detach())
        if len(got) != 4 or not all(_close(g, p.grad) for g, p in zip(got, params, strict=True)):
            return False
    return True


def _oracle_sgd_update(ns: dict) -> bool:
    case = _inputs(0, 4)
    params = [p.clone() for p in case["params"]]
    grads = [torch.randn_like(p) for p in params]
    expected = [p - 0.3 * g for p, g in zip(params, grads, strict=True)]
    returned = ns["sgd_update"](params, grads, 0.3)
    return all(_close(p, e) for p, e in zip(params, expected, strict=True)) and all(
        _close(r, e) for r, e in zip(returned, expected, strict=True)
    )


def _oracle_init_params(ns: dict) -> bool:
    W1, b1, W2, b2 = ns["init_params"](40, 50, 30)
    shapes = [tuple(t.shape) for t in (W1, b1, W2, b2)]
    if shapes != [(40, 50), (50,), (50, 30), (30,)]:
        return False
    spread = all(abs(float(W.std()) - 0.01) < 0.0015 and abs(float(W.mean())) < 0.002 for W in (W1, W2))
    return spread and not b1.any() and not b2.any()


def _autograd_training(X: torch.Tensor, y: torch.Tensor, start: list[torch.Tensor], lr: float, epochs: int) -> tuple:
    params = [p.clone().requires_grad_(True) for p in start]
    history = []
    for _ in range(epochs):
        loss = F.cross_entropy(_reference_forward(X, *params)[2], y)
        history.append(loss.item())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    return [p.detach() for p in params], history


def _oracle_train_manual(ns: dict, epochs: int) -> bool:
    X, y = (torch.from_numpy(a) for a in training_split())
    torch.manual_seed(7)
    start = list(solutions.init_params(X.shape[1], 10, 2))
    expected_params, expected_history = _autograd_training(X, y, start, 0.1, epochs)
    torch.manual_seed(7)
    params, history = ns["train_manual"](X, y, epochs=epochs)
    same_params = len(params) == 4 and all(_close(p, e) for p, e in zip(params, expected_params, strict=True))
    return same_params and _close(history, expected_history)


def _oracle_optimizers(ns: dict, epochs: int) -> bool:
    X, y = (torch.from_numpy(a) for a in training_split())
    for name in ("SGD", "Adam"):
        torch.manual_seed(99)  # a function that ignores its seed draws from here, not from 1234
        got = ns["train_with_optimizer"](name, X, y, epochs=epochs, seed=1234)
        expected = solutions.train_with_optimizer(name, X, y, epochs=epochs, seed=1234)
        if not _close(got, expected):
            return False
    return True


ORACLES: dict[str, Callable[..., bool]] = {
    "loss_fn": _oracle_loss_fn,
    "init_params": _oracle_init_params,
    "forward": _oracle_forward,
    "backward": _oracle_backward,
    "sgd_update": _oracle_sgd_update,
    "train_manual": _oracle_train_manual,
    "optimizers": _oracle_optimizers,
}
TRAINED = ("train_manual", "optimizers")


def equivalent(item: str, namespace: dict, epochs: int) -> bool:
    """Whether the oracle finds the mutant's function still right (an exception or a hang means no)."""
    try:
        torch.manual_seed(0)
        oracle = ORACLES[item]
        return bool(oracle(namespace, epochs) if item in TRAINED else oracle(namespace))
    except Exception:
        return False


# ---- scoring and the report ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    mutant: Mutant
    equivalent: bool
    score: float
    points: float

    @property
    def killed(self) -> bool:
        return self.score < self.points

    @property
    def grader_bug(self) -> bool:
        return self.killed == self.equivalent  # a wrong mutant that kept its marks, or a right one that lost them


def judge_mutant(mutant: Mutant, rubric: Rubric, cases: dict, folder: Path) -> Verdict:
    """The oracle's verdict and the grader's score for one mutant (its own item, at the cases' epochs)."""
    namespace: dict = {"__name__": "mutant"}
    try:
        exec(compile(mutant.source, f"<mutant {mutant.item}:{mutant.line}>", "exec"), namespace)  # our own code
    except Exception:
        return Verdict(mutant, False, 0.0, rubric.items[mutant.item].points)
    epochs = cases["train_manual"][0].calls[0].kwargs["epochs"]
    # the trainings report their progress, and mutants warn about what they do wrong: neither is a verdict
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        is_equivalent = equivalent(mutant.item, namespace, epochs)
        item_cases = {mutant.item: cases[mutant.item]}
        outcomes = outcomes_in_process(namespace, item_cases, folder, rubric.watched, call_timeout=60)
    tests = score_item(mutant.item, cases[mutant.item], outcomes, rubric)
    return Verdict(mutant, is_equivalent, sum(t.score for t in tests), rubric.items[mutant.item].points)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--item", action="append", choices=list(GRADED_FUNCTIONS), help="only this item (repeatable)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the rubric's grading_epochs)")
    args = parser.parse_args()
    rubric = load_rubric()
    epochs = args.epochs or rubric.run.grading_epochs
    items = args.item or list(GRADED_FUNCTIONS)
    cases = generate_cases(epochs)
    mutants = generate_mutants(items)
    print(f"{len(mutants)} mutants of {', '.join(items)}; trainings at {epochs} epochs", flush=True)
    started = time.monotonic()
    verdicts: list[Verdict] = []
    with tempfile.TemporaryDirectory(prefix="grader-mutation-") as scratch:
        for index, mutant in enumerate(mutants):
            verdicts.append(judge_mutant(mutant, rubric, cases, Path(scratch) / str(index)))
            if sys.stderr.isatty():
                print(f"\r{index + 1}/{len(mutants)}", end="", file=sys.stderr, flush=True)
    print(f"\n{'item':<12} {'mutants':>7} {'equivalent':>10} {'killed':>6} {'kill rate':>9} {'grader bugs':>11}")
    for item in items:
        mine = [v for v in verdicts if v.mutant.item == item]
        wrong = [v for v in mine if not v.equivalent]
        killed = sum(v.killed for v in wrong)
        rate = f"{killed / len(wrong):.0%}" if wrong else "-"
        bugs = sum(v.grader_bug for v in mine)
        print(f"{item:<12} {len(mine):>7} {len(mine) - len(wrong):>10} {killed:>6} {rate:>9} {bugs:>11}")
    wrong = [v for v in verdicts if not v.equivalent]
    total_rate = sum(v.killed for v in wrong) / len(wrong) if wrong else 1.0
    print(
        f"all: {len(verdicts)} mutants, {len(wrong)} not equivalent, kill rate {total_rate:.1%}, "
        f"{time.monotonic() - started:.0f} s"
    )
    bugs = [v for v in verdicts if v.grader_bug]
    for v in bugs:
        kind = "SURVIVED (wrong, full marks)" if v.equivalent is False else "LOST POINTS (equivalent)"
        print(f"  {kind}: {v.mutant.item} line {v.mutant.line}: {v.mutant.change} ({v.score:g}/{v.points:g})")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
