"""Simulated classes of any size for calibrating the integrity signals (tools/calibrate_similarity.py) and holding
them to it (tests/engine/test_similarity.py).

Each independent student writes each graded function in one of the corpus's styles (tests/engine/similarity_corpus.py)
and then varies it on their own, statement by statement, as students who did not copy differ: operands the
other way round, a method called as a function or back, an argument by keyword or by position, a value put in a
variable of its own, a return value named, a check or a print added. Each writes answers of their own. Some of
the class pasted the same snippet (a posted `sgd_update` and a tutorial's training loop). A few copied another
student, each in one of the ways copies are made: whole, renamed and commented, reordered, partly, lightly
edited, or the written answers only.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from grader.judge.similarity import Submission

from .similarity_corpus import ANSWERS, STYLES, TUTORIAL_TRAIN, disguised

FUNCTIONS = ("loss_fn", "forward", "backward", "sgd_update")
VARIED = 0.8  # the chance that an independent student writes a statement otherwise than its style does
EDITED = 0.25  # and that a copier who edits the copy changes one of its statements
REWRITTEN_AT_MOST = 3  # ways a varied statement is written otherwise, one over the other
ADDED = 0.2  # (times those) the chance of a check or a print of one's own before a statement
SNIPPET_SHARE = 0.5  # of the class pasted the posted snippet
COPY_KINDS = ("whole", "disguised", "reordered", "partial", "edited", "written")

POSTED_UPDATE = STYLES["sgd_update"][5]
TENSOR_METHODS = {"sum", "mean", "exp", "log", "clamp", "matmul", "softmax", "maximum", "where", "sqrt", "abs"}
WORDS = sorted({word for answers in ANSWERS.values() for text in answers for word in text.lower().split()})


@dataclass
class SimulatedClass:
    students: list[Submission]
    planted: dict[frozenset[str], str]  # each copied pair -> how it was copied


# ---- one student's own variations of a style --------------------------------------------------------------------


def _commuted(node: ast.AST, rng: random.Random) -> bool:
    for found in ast.walk(node):
        if isinstance(found, ast.BinOp) and isinstance(found.op, (ast.Add, ast.Mult)):
            found.left, found.right = found.right, found.left
            return True
    return False


def _method_swapped(node: ast.AST, rng: random.Random) -> bool:
    """`x.sum(1)` becomes `torch.sum(x, 1)`, or `torch.exp(x)` becomes `x.exp()`."""
    for found in ast.walk(node):
        if not (isinstance(found, ast.Call) and isinstance(found.func, ast.Attribute)):
            continue
        owner, name = found.func.value, found.func.attr
        if name not in TENSOR_METHODS:
            continue
        if isinstance(owner, ast.Name) and owner.id == "torch":
            if found.args:
                found.func = ast.Attribute(found.args[0], name, ast.Load())
                found.args = found.args[1:]
                return True
        else:
            found.func = ast.Attribute(ast.Name("torch", ast.Load()), name, ast.Load())
            found.args = [owner, *found.args]
            return True
    return False


def _keyword_swapped(node: ast.AST, rng: random.Random) -> bool:
    """`dim=1` (or `axis=1`) given by position, or a lone integer argument given as `dim=`."""
    for found in ast.walk(node):
        if not isinstance(found, ast.Call):
            continue
        dims = [k for k in found.keywords if k.arg in ("dim", "axis")]
        if dims and not found.args:
            found.keywords.remove(dims[0])
            found.args.append(dims[0].value)
            return True
        if not found.keywords and len(found.args) == 1 and isinstance(found.args[0], ast.Constant):
            if isinstance(found.args[0].value, int) and isinstance(found.func, ast.Attribute):
                found.keywords = [ast.keyword("dim", found.args.pop())]
                return True
    return False


def _divided(node: ast.AST, rng: random.Random) -> bool:
    """`a / b` written `a * (1 / b)` or `torch.div(a, b)`; `a - b` written `a + -b` or `torch.sub(a, b)`."""
    for found in ast.walk(node):
        for field in ("value", "left", "right", "args", "elts"):
            children = getattr(found, field, None)
            children = children if isinstance(children, list) else [children]
            for index, child in enumerate(children):
                if isinstance(child, ast.BinOp) and isinstance(child.op, (ast.Div, ast.Sub)):
                    name = "div" if isinstance(child.op, ast.Div) else "sub"
                    if rng.random() < 0.5:
                        other = ast.Call(
                            ast.Attribute(ast.Name("torch", ast.Load()), name, ast.Load()),
                            [child.left, child.right],
                            [],
                        )
                    elif name == "div":
                        other = ast.BinOp(child.left, ast.Mult(), ast.BinOp(ast.Constant(1), ast.Div(), child.right))
                    else:
                        other = ast.BinOp(child.left, ast.Add(), ast.UnaryOp(ast.USub(), child.right))
                    if isinstance(getattr(found, field), list):
                        getattr(found, field)[index] = other
                    else:
                        setattr(found, field, other)
                    return True
    return False


def _converted(node: ast.AST, rng: random.Random) -> bool:
    """A value made sure of: `.float()`, `.clone()` or `.contiguous()` after a call whose result is assigned."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        method = rng.choice(("float", "clone", "contiguous", "detach"))
        node.value = ast.Call(ast.Attribute(node.value, method, ast.Load()), [], [])
        return True
    return False


def _named(statement: ast.stmt, rng: random.Random) -> list[ast.stmt] | None:
    """A return value or a sub-expression put in a variable of its own first."""
    name = rng.choice(("out", "result", "value", "tmp", "res", "answer", "ret", "r"))
    if isinstance(statement, ast.Return) and statement.value is not None and not isinstance(statement.value, ast.Name):
        kept = ast.Assign([ast.Name(name, ast.Store())], statement.value)
        return [kept, ast.Return(ast.Name(name, ast.Load()))]
    if isinstance(statement, ast.Assign):
        parts = [
            n for n in ast.walk(statement.value) if isinstance(n, (ast.Call, ast.BinOp)) and n is not statement.value
        ]
        if parts:
            part = rng.choice(parts)
            kept = ast.Assign([ast.Name(name, ast.Store())], part)
            replaced = _Replace(part, ast.Name(name, ast.Load())).visit(statement)
            return [kept, replaced]
    return None


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def generic_visit(self, node: ast.AST) -> ast.AST:
        return self.new if node is self.old else super().generic_visit(node)


def _added_check(arguments: list[str], rng: random.Random) -> ast.stmt:
    name = rng.choice(arguments)
    index = rng.randint(0, 1)
    forms = (
        f"assert {name}.shape[{index}] > 0",
        f"print({name}.shape)",
        f"assert {name}.dim() >= 1",
        f"n_{index} = {name}.shape[{index}]",
        f"assert not torch.isnan({name}).any()",
        f"print({rng.choice(WORDS)!r}, {name}.dtype)",
    )
    return ast.parse(rng.choice(forms)).body[0]


REWRITES = {
    "commute": _commuted,
    "method": _method_swapped,
    "keyword": _keyword_swapped,
    "divide": _divided,
    "convert": _converted,
}


def _varied_body(body: list[ast.stmt], chance: float, arguments: list[str], rng: random.Random) -> list[ast.stmt]:
    changed: list[ast.stmt] = []
    for statement in body:
        for field in ("body", "orelse"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(statement, field, _varied_body(inner, chance, arguments, rng))
        if rng.random() < chance * ADDED:
            changed.append(_added_check(arguments, rng))
        if rng.random() >= chance or isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            changed.append(statement)
            continue
        changed += _rewritten(statement, rng.randint(1, REWRITTEN_AT_MOST), rng)
    return changed


def _rewritten(statement: ast.stmt, times: int, rng: random.Random) -> list[ast.stmt]:
    """The statement rewritten `times` times over, each time in a way chosen at random among those that apply (a
    value put in a variable of its own makes two statements, each rewritten further)."""
    if times == 0:
        return [statement]
    ways = [*REWRITES, "named"]
    rng.shuffle(ways)
    for way in ways:
        if way == "named" and (split := _named(statement, rng)) is not None:
            return [piece for part in split for piece in _rewritten(part, times - 1, rng)]
        if way in REWRITES and REWRITES[way](statement, rng):
            return _rewritten(statement, times - 1, rng)
    return [statement]


def varied(source: str, chance: float, rng: random.Random) -> str:
    """The function written otherwise, statement by statement, each with probability `chance`."""
    definition = ast.parse(source).body[0]
    arguments = [a.arg for a in definition.args.args] or ["x"]
    definition.body = _varied_body(definition.body, chance, arguments, rng)
    return ast.unparse(ast.fix_missing_locations(definition)) + "\n"


def own_answer(rng: random.Random) -> str:
    """Forty words of one's own (no two students' texts share a run of words but by chance)."""
    return " ".join(rng.choice(WORDS) for _ in range(40))


# ---- copies -------------------------------------------------------------------------------------------------


def _reordered(source: str, rng: random.Random) -> str:
    definition = ast.parse(source).body[0]
    body = definition.body
    movable = [i for i, s in enumerate(body[:-1]) if not isinstance(s, ast.Expr)]
    if len(movable) >= 2:
        i, j = rng.sample(movable, 2)
        body[i], body[j] = body[j], body[i]
    return ast.unparse(definition) + "\n"


def copied(original: Submission, kind: str, own: Submission, rng: random.Random, key: str) -> Submission:
    """A copy of `original` made in way `kind`; `own` is what the copier would have written alone."""
    code, written = dict(original.code), dict(own.written)
    if kind == "disguised":
        code = {f: disguised(s, {"X": "inputs", "y": "labels"}, "# did this myself") for f, s in code.items()}
    elif kind == "reordered":
        code = {f: _reordered(s, rng) for f, s in code.items()}
    elif kind == "partial":
        kept = rng.sample(sorted(code), 2)
        code = {f: (s if f in kept else own.code[f]) for f, s in code.items()}
    elif kind == "edited":
        code = {f: varied(s, EDITED, rng) for f, s in code.items()}
    elif kind == "written":
        code, written = dict(own.code), dict(original.written)
    if kind in ("whole", "disguised"):
        written = dict(original.written)
    return Submission(key, code, {}, written)


# ---- a class --------------------------------------------------------------------------------------------------


def independent_student(key: str, rng: random.Random, snippet: bool) -> Submission:
    code = {f: varied(rng.choice(STYLES[f]), VARIED, rng) for f in FUNCTIONS}
    if snippet:
        code |= {"sgd_update": POSTED_UPDATE, "train_manual": TUTORIAL_TRAIN}
    return Submission(key, code, {}, {question: own_answer(rng) for question in ANSWERS})


def simulated_class(size: int, seed: int) -> SimulatedClass:
    """`size` students, of whom size // 15 (at least one) copied another, each copy made in the next of
    COPY_KINDS (from a random start); half the class pasted the posted snippet."""
    rng = random.Random(seed)
    copies = max(1, size // 15)
    students = [independent_student(f"s{n}", rng, rng.random() < SNIPPET_SHARE) for n in range(size - copies)]
    originals = rng.sample(students, copies)
    first = rng.randrange(len(COPY_KINDS))
    planted = {}
    for number, original in enumerate(originals):
        kind = COPY_KINDS[(first + number) % len(COPY_KINDS)]
        own = independent_student("own", rng, "train_manual" in original.code)
        copy = copied(original, kind, own, rng, f"c{number}")
        students.append(copy)
        planted[frozenset({original.key, copy.key})] = kind
    order = list(range(len(students)))
    rng.shuffle(order)
    return SimulatedClass([students[i] for i in order], planted)
