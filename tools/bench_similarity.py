"""The integrity signals' cost: a class of 1,000 with two earlier terms of 1,000 each, compared in one run.

    python tools/bench_similarity.py [--students 1000] [--terms 2]

Each synthetic student writes the graded functions in one of the corpus's styles (tests/engine/similarity_corpus.py)
with names of their own and a statement or two no one else wrote, answers the nine written questions in
words of their own, and returns a wrong number or two of their own; one in fifty copies a classmate (disguised).
The stores are written first (not timed); then `python -m grader similarity` runs on them, timed, as an
instructor runs it. Prints the figures and the time per submission.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import cli  # noqa: E402
from grader.intake import Identity, Submission  # noqa: E402
from grader.result import SubmissionResult  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.store import ClassStore, current_versions  # noqa: E402
from tests.engine.similarity_corpus import STYLES, disguised  # noqa: E402

QUESTIONS = ("q1a", "split", "q1b", "q1c", "q1d", "linear", "q2a", "q2b", "q2c")


def student_work(rng: random.Random, vocabulary: list[str]) -> tuple[dict, dict, dict]:
    code = {}
    for function, styles in STYLES.items():
        source = styles[rng.randrange(len(styles))]
        lines = source.splitlines()
        call = rng.choice(["len", "max", "min"])
        own = f"    check_{rng.randrange(10**6)} = {call}([{rng.randrange(99)}, x_{rng.randrange(99)}])"
        lines.insert(rng.randrange(1, len(lines)), own)
        code[function] = "\n".join(lines) + "\n"
    written = {q: " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(25, 70))) for q in QUESTIONS}
    wrong = {f"backward.case{rng.randrange(6)}": f"{rng.getrandbits(64):x}"} if rng.random() < 0.3 else {}
    return code, wrong, written


def write_class(folder: Path, prefix: str, count: int, rng: random.Random, vocabulary: list[str]) -> None:
    rubric = load_rubric()
    with ClassStore.open(folder, rubric) as store:
        versions = current_versions(rubric)
        run = store.begin_run(versions)
        made: list[tuple[dict, dict, dict]] = []
        for n in range(count):
            if made and rng.random() < 0.02:  # a copy of a classmate, disguised
                code, wrong, written = rng.choice(made)
                code = {f: disguised(s, {"p_y_hat": "probs", "X": "inputs"}) for f, s in code.items()}
            else:
                code, wrong, written = student_work(rng, vocabulary)
            made.append((code, wrong, written))
            identity = Identity(f"{prefix}{n:05d}")
            result = SubmissionResult(identity, rubric, written=written, code=code, wrong_outputs=wrong)
            store.record(run, Submission(identity, None), f"c{prefix}{n}", versions, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--terms", type=int, default=2, help="earlier terms compared with (--against)")
    args = parser.parse_args()
    rng = random.Random(10011)
    vocabulary = [f"w{rng.randrange(10**5)}" for _ in range(3000)]
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as scratch:
        folders = [Path(scratch) / f"term{t}" for t in range(args.terms + 1)]
        started = time.perf_counter()
        for t, folder in enumerate(folders):
            write_class(folder, f"t{t}-", args.students, rng, vocabulary)
        print(f"wrote {len(folders)} class stores of {args.students} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        argv = ["similarity", str(folders[0])] + (["--against", *map(str, folders[1:])] if args.terms else [])
        assert cli.main(argv) == 0
        took = time.perf_counter() - started
        total = args.students * (args.terms + 1)
        print(
            f"similarity: {args.students} students against {args.terms} earlier term(s) ({total} submissions) in "
            f"{took:.1f} s ({took / total * 1000:.1f} ms a submission)"
        )


if __name__ == "__main__":
    main()
