"""Integrity signals: which pairs of submissions a person should compare, and why. Never an accusation.

Three kinds of evidence, each a score in [0, 1], combined as independent signs
are (1 - the product of what each leaves unexplained):

- **Code.** Each graded function is parsed and cut into its statements; each
  statement's tokens are normalised (every name a student chose becomes `V`,
  numbers `N`, strings `S`; comments, docstrings and layout are gone; what comes
  after a `.` stays, since `torch.relu` is not a student's choice) and its k-grams
  are hashed and winnowed (the smallest hash of each window, as MOSS does).
  Statements are fingerprinted apart, so the order of independent statements does
  not matter. The template's and the reference's own fingerprints are subtracted,
  since every correct answer shares them. What is left counts by how distinctive
  it is: a fingerprint only two submissions hold weighs 1, one held by more weighs
  less, down to 0 for one held by the whole corpus (however small the class: code
  a posted snippet or a tutorial gave everyone is no evidence between two of them)
  or by more than COMMON submissions (an idiom, not a copy; MOSS's cut). The
  score is the distinctive weight the two share, as a share of the smaller
  one's own, damped while that is small (a function written almost as the
  reference leaves little to compare).
- **Identical wrong outputs.** Two functions that return the same wrong numbers,
  bit for bit, on a hidden case are rare by chance; catalogued mistakes (the
  common ones) are left out when grading, and a wrong answer counts by how
  distinctive it is, as a fingerprint does. Each shared wrong case adds
  evidence, the rarer the more; one alone is not enough to flag a pair.
- **Written answers.** Words lowercased, 4-word shingles, the question's and the
  model answer's own shingles subtracted; per question the distinctive weight of
  the shorter answer's shingles the two have in common, for answers long enough
  to tell.

The corpus is this class, the earlier terms given and the known sources (files a
copy may come from: a posted solution, a public notebook). A submission that
shares distinctive code with a known source is reported as a pair with it, named
as the source it is.

Fingerprints are kept in an index (fingerprint -> submissions): only pairs that
share something are ever compared, never all pairs of whole files.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import math
import re
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

K = 5  # tokens per k-gram
WINDOW = 4  # k-grams per winnowing window
SHINGLE = 4  # words per shingle
COMMON = 10  # a fingerprint more submissions than this share is common, not evidence (MOSS's -m 10)
MIN_PRINTS = 12  # below this many own fingerprints a code score is damped
MIN_SHINGLES = 8  # an answer with fewer own shingles is too short to tell
FLAG = 0.7  # a pair scoring this or more is worth a person's look: chosen by tools/calibrate_similarity.py
# one wrong case shared by two alone leaves 60% unexplained (0.4: not flagged by itself); two leave 36% (0.64)
UNEXPLAINED_BY_A_WRONG_CASE = 0.6
BUILTINS = frozenset(dir(builtins))  # names no student chose: kept as they are


@dataclass
class Submission:
    """What the signals read of one submission (from the class store)."""

    key: str  # unique across the classes compared: "student", or "OLD_FOLDER/student" for an earlier term
    code: dict[str, str]  # function -> source
    wrong: dict[str, str]  # item.case -> digest of the wrong numbers it returned
    written: dict[str, str]  # question -> answer
    current: bool = True  # of this term's class (pairs of two earlier submissions are not reported)
    source: bool = False  # a known source a copy may come from (a posted solution, a public notebook)


@dataclass
class Pair:
    a: str
    b: str
    code: float
    outputs: float
    written: float
    shared_code: dict[str, int] = field(default_factory=dict)  # function -> fingerprints in common
    shared_wrong: list[str] = field(default_factory=list)  # item.case with the same wrong numbers
    shared_written: dict[str, float] = field(default_factory=dict)  # question -> share in common
    common_code: int = 0  # fingerprints in common that many others hold too (little evidence, shown apart)
    source: bool = False  # b is a known source, not a student: a is shown as a copy of it

    @property
    def score(self) -> float:
        unexplained = (1 - self.code) * (1 - self.outputs) * (1 - self.written)
        return round(1 - unexplained, 4)

    @property
    def evidence(self) -> str:
        said = [f"like {self.b}"] if self.source else []
        if self.shared_code:
            functions = ", ".join(f"{f} ({n})" for f, n in sorted(self.shared_code.items()))
            many = f"; {self.common_code} more shared with many others" if self.common_code else ""
            said.append(f"code {self.code:.2f}: distinctive fingerprints in common in {functions}{many}")
        if self.shared_wrong:
            said.append(f"identical wrong outputs {self.outputs:.2f}: {', '.join(sorted(self.shared_wrong))}")
        if self.shared_written:
            questions = ", ".join(f"{q} ({s:.0%})" for q, s in sorted(self.shared_written.items()))
            said.append(f"written {self.written:.2f}: {questions}")
        return "; ".join(said)


# ---- code ----------------------------------------------------------------------------------------------------


def _normalised(source: str) -> list[str]:
    """The tokens of one statement, with every name a student chose as V."""
    tokens, after_dot = [], False
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                continue
            if kind == tokenize.ENDMARKER:
                break
            if kind == tokenize.NAME:
                kept = after_dot or keyword.iskeyword(text) or text in BUILTINS
                tokens.append(text if kept else "V")
            elif kind == tokenize.NUMBER:
                tokens.append("N")
            elif kind == tokenize.STRING:
                tokens.append("S")
            else:
                tokens.append(text)
            after_dot = text == "."
    except (tokenize.TokenError, SyntaxError, RecursionError, MemoryError):
        pass  # what was read so far (the source parsed once as a cell: this is only a second wall)
    return tokens


def statements(source: str) -> list[tuple[int, int, str]]:
    """The function's statements (nested blocks inside theirs), each as (first line, last line, its source);
    docstrings left out. Lines count from the function's first."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if function is None:
        return []
    found = []
    for node in function.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        segment = ast.get_source_segment(source, node) or ""
        found.append((node.lineno, node.end_lineno or node.lineno, segment))
    return found


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big")


def statement_prints(function: str, statement: str) -> set[int]:
    """The winnowed fingerprints of one statement of `function`."""
    tokens = _normalised(statement)
    if not tokens:
        return set()
    if len(tokens) <= K:
        return {_hash(function, *tokens)}
    grams = [_hash(function, *tokens[i : i + K]) for i in range(len(tokens) - K + 1)]
    if len(grams) <= WINDOW:
        return {min(grams)}
    return {min(grams[i : i + WINDOW]) for i in range(len(grams) - WINDOW + 1)}


def code_prints(code: dict[str, str]) -> dict[str, set[int]]:
    """Each function's fingerprints."""
    return {
        function: set().union(*(statement_prints(function, text) for _, _, text in statements(source)))
        for function, source in code.items()
    }


# ---- written answers -------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def shingles(text: str) -> set[int]:
    found = words(text)
    return {_hash(*found[i : i + SHINGLE]) for i in range(len(found) - SHINGLE + 1)}


# ---- the index -------------------------------------------------------------------------------------------------


def _index(prints: dict[int, set]) -> dict:
    """fingerprint -> the submissions (by index) that have it."""
    index: dict = defaultdict(list)
    for who, found in prints.items():
        for fingerprint in found:
            index[fingerprint].append(who)
    return index


def distinctiveness(holders: int, population: int) -> float:
    """How much a fingerprint held by `holders` of `population` submissions tells of a pair: 1 when two hold it,
    falling (as its rarity's logarithm) to 0 when the whole corpus does, and 0 past COMMON holders."""
    if holders <= 2:
        return 1.0
    if holders > COMMON or holders >= population:
        return 0.0
    return math.log(population / holders) / math.log(population / 2)


def _weights(index: dict, population: int) -> dict:
    """How much each fingerprint weighs for the pairs that hold it: its distinctiveness, shared among the pairs of
    its holders past two (three who hold it wrote it independently at least once: it is a form students find)."""
    return {
        fingerprint: distinctiveness(len(owners), population) / max(1, len(owners) - 1)
        for fingerprint, owners in index.items()
    }


def _held_by_many(index: dict, population: int) -> set[int]:
    """The fingerprints many in the corpus hold (distinctiveness under a half): shown apart, as little evidence."""
    return {f for f, owners in index.items() if distinctiveness(len(owners), population) < 0.5}


def _shared_pairs(index: dict, weights: dict, many: set[int], wanted: set[int]) -> tuple[defaultdict, Counter]:
    """The distinctive weight each pair shares, and how many of its shared fingerprints are held by many (`many`),
    for pairs with at least one submission in `wanted`."""
    shared: defaultdict = defaultdict(float)
    with_many: Counter = Counter()
    for fingerprint, owners in index.items():
        if not 2 <= len(owners) <= COMMON:  # held by more, it weighs nothing: its pairs are not even listed
            continue
        weight = weights[fingerprint]
        for a, b in combinations(sorted(owners), 2):
            if a in wanted or b in wanted:
                if weight > 0:
                    shared[a, b] += weight
                if fingerprint in many:
                    with_many[a, b] += 1
    return shared, with_many


def _mass(found: set, weights: dict) -> float:
    return sum(weights[fingerprint] for fingerprint in found)


def _code_evidence(submissions: list[Submission], baseline_code: list[dict[str, str]]) -> tuple[dict, dict, dict]:
    """Each submission's fingerprints by function (the template's and the reference's taken out), the index of who
    holds each, and how much each weighs in the corpus."""
    base = set().union(*(p for code in baseline_code for p in code_prints(code).values()))
    prints = {i: {f: found - base for f, found in code_prints(s.code).items()} for i, s in enumerate(submissions)}
    index = _index({i: set().union(*found.values()) for i, found in prints.items()})
    return prints, index, _weights(index, len(submissions))


def common_code(submissions: list[Submission], baseline_code: list[dict[str, str]]) -> set[int]:
    """The fingerprints many in the corpus hold (weighing under a half): shown apart where a pair shares them."""
    _, index, _ = _code_evidence(submissions, baseline_code)
    return _held_by_many(index, len(submissions))


def find_pairs(
    submissions: list[Submission], baseline_code: list[dict[str, str]], baseline_text: list[str]
) -> list[Pair]:
    """Every pair with a current submission that shares any distinctive evidence, highest score first.

    `baseline_code`: the template's and the reference's graded functions (subtracted from every student's);
    `baseline_text`: the questions and the model answers (subtracted from every written answer)."""
    population = len(submissions)
    wanted = {i for i, s in enumerate(submissions) if s.current}
    prints, code_index, code_weights = _code_evidence(submissions, baseline_code)
    own = {i: _mass(set().union(*found.values()), code_weights) for i, found in prints.items()}
    code_many = _held_by_many(code_index, population)
    code_shared, code_with_many = _shared_pairs(code_index, code_weights, code_many, wanted)

    wrong_index = _index(
        {i: {f"{case}\x1f{digest}" for case, digest in s.wrong.items()} for i, s in enumerate(submissions)}
    )
    wrong_shared: dict[tuple[int, int], list[str]] = defaultdict(list)
    weight: dict[tuple[int, int], float] = defaultdict(float)
    for key, owners in wrong_index.items():
        rarity = distinctiveness(len(owners), population)
        if len(owners) >= 2 and rarity > 0:
            for a, b in combinations(sorted(owners), 2):
                if a in wanted or b in wanted:
                    wrong_shared[a, b].append(key.split("\x1f")[0])
                    weight[a, b] += rarity / (len(owners) - 1)  # shared by two: 1; by three: less than 1/2 ...

    base_text = set().union(*(shingles(t) for t in baseline_text))
    answers = {
        i: {q: {_hash(q, str(h)) for h in shingles(text) - base_text} for q, text in s.written.items()}
        for i, s in enumerate(submissions)
    }
    text_index = _index({i: set().union(*found.values()) for i, found in answers.items()})
    text_weights = _weights(text_index, population)
    text_shared, _ = _shared_pairs(text_index, text_weights, set(), wanted)

    pairs = []
    for key in set(code_shared) | set(wrong_shared) | set(text_shared):
        a, b = key[::-1] if submissions[key[0]].source else key  # a student first, a known source second
        pair = Pair(submissions[a].key, submissions[b].key, 0.0, 0.0, 0.0, source=submissions[b].source)
        smaller = min(own[a], own[b])
        if code_shared.get(key) and smaller:
            share = code_shared[key] / smaller
            pair.code = round(min(1.0, share) * min(1.0, smaller / MIN_PRINTS), 4)
            pair.common_code = code_with_many.get(key, 0)
            for function in set(prints[a]) & set(prints[b]):
                together = prints[a][function] & prints[b][function]
                if distinctive := sum(1 for fingerprint in together if fingerprint not in code_many):
                    pair.shared_code[function] = distinctive
        if key in wrong_shared:
            pair.shared_wrong = wrong_shared[key]
            pair.outputs = round(1 - UNEXPLAINED_BY_A_WRONG_CASE ** weight[key], 4)
        for question in set(answers[a]) & set(answers[b]):
            left, right = answers[a][question], answers[b][question]
            smaller_answer = min(_mass(left, text_weights), _mass(right, text_weights))
            if min(len(left), len(right)) >= MIN_SHINGLES and smaller_answer > 0:
                if share := round(_mass(left & right, text_weights) / smaller_answer, 4):
                    pair.shared_written[question] = min(1.0, share)
        if pair.shared_written:
            pair.written = max(pair.shared_written.values())
        if pair.score > 0:
            pairs.append(pair)
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


# ---- what a person compares: the shared passages of one pair ------------------------------------------------


@dataclass
class Passages:
    """Each function's lines (counted from 1) and each answer's words (by position) that the pair shares; and,
    of those lines, the ones whose every shared fingerprint many others hold too (little evidence)."""

    lines: dict[str, tuple[set[int], set[int]]] = field(default_factory=dict)
    words: dict[str, tuple[set[int], set[int]]] = field(default_factory=dict)
    common_lines: dict[str, tuple[set[int], set[int]]] = field(default_factory=dict)


def _marked_lines(
    function: str, source: str, theirs: set[int], base: set[int], common: set[int]
) -> tuple[set[int], set[int]]:
    """The lines of statements the other holds too, and those of them shared with many others only."""
    marked, with_many = set(), set()
    for first, last, text in statements(source):
        if shared := (statement_prints(function, text) - base) & theirs:
            marked |= set(range(first, last + 1))
            if shared <= common:
                with_many |= set(range(first, last + 1))
    return marked, with_many


def _marked_words(text: str, theirs: set[int], base: set[int]) -> set[int]:
    found = words(text)
    marked = set()
    for i in range(len(found) - SHINGLE + 1):
        fingerprint = _hash(*found[i : i + SHINGLE])
        if fingerprint in theirs and fingerprint not in base:
            marked |= set(range(i, i + SHINGLE))
    return marked


def passages(
    a: Submission,
    b: Submission,
    baseline_code: list[dict[str, str]],
    baseline_text: list[str],
    common: set[int] = frozenset(),
) -> Passages:
    """What to mark when `a` and `b` are shown side by side: their statements and answers' words in common;
    `common`: the fingerprints many in the corpus hold (`common_code`), whose lines are marked apart."""
    base = set().union(*(p for code in baseline_code for p in code_prints(code).values()))
    base_text = set().union(*(shingles(t) for t in baseline_text))
    found = Passages()
    prints_a, prints_b = code_prints(a.code), code_prints(b.code)
    for function in sorted(set(a.code) & set(b.code)):
        left, left_many = _marked_lines(function, a.code[function], prints_b.get(function, set()), base, common)
        right, right_many = _marked_lines(function, b.code[function], prints_a.get(function, set()), base, common)
        if left or right:
            found.lines[function] = (left, right)
            found.common_lines[function] = (left_many, right_many)
    for question in sorted(set(a.written) & set(b.written)):
        left = _marked_words(a.written[question], shingles(b.written[question]), base_text)
        right = _marked_words(b.written[question], shingles(a.written[question]), base_text)
        if left or right:
            found.words[question] = (left, right)
    return found
