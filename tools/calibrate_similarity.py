"""The integrity signals' precision and recall on simulated classes of 6, 30 and 300
(tests/engine/simulated_classes.py): for each class size, over several classes, at each flag threshold; then the
recall by kind of copy at the threshold in use (grader/judge/similarity.py's FLAG). docs/instructors.md
records its figures.

Usage: python tools/calibrate_similarity.py [--classes N]   (N classes of each size but 300, which gets N // 4)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.integrity import baselines  # noqa: E402
from grader.judge.similarity import FLAG, find_pairs  # noqa: E402
from tests.engine.simulated_classes import COPY_KINDS, simulated_class  # noqa: E402

SIZES = (6, 30, 300)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def scored_pairs(size: int, seed: int) -> tuple[dict[frozenset[str], float], dict[frozenset[str], str]]:
    """Every pair's score in one simulated class, and its planted pairs with their kinds."""
    simulated = simulated_class(size, seed)
    code, texts = baselines()
    return {frozenset({p.a, p.b}): p.score for p in find_pairs(simulated.students, code, texts)}, simulated.planted


def measure(classes: int) -> dict[int, list[tuple[dict[frozenset[str], float], dict[frozenset[str], str]]]]:
    return {
        size: [
            scored_pairs(size, 1000 * size + seed) for seed in range(classes if size < 300 else max(1, classes // 4))
        ]
        for size in SIZES
    }


def precision_recall(runs: list, threshold: float) -> tuple[float, float, int, int]:
    """Over the runs: flagged planted / flagged, flagged planted / planted; and the false flags, the misses."""
    flagged = right = planted = 0
    for scores, truth in runs:
        hits = {pair for pair, score in scores.items() if score >= threshold}
        flagged, right, planted = flagged + len(hits), right + len(hits & set(truth)), planted + len(truth)
    precision = right / flagged if flagged else 1.0
    return precision, right / planted, flagged - right, planted - right


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=20, help="simulated classes of each size (default 20)")
    args = parser.parse_args()
    runs = measure(args.classes)
    print("class size | classes | threshold | precision | recall | false flags | missed copies")
    for size, found in runs.items():
        for threshold in THRESHOLDS:
            precision, recall, false, missed = precision_recall(found, threshold)
            mark = "  <- FLAG" if threshold == FLAG else ""
            print(
                f"{size:>10} | {len(found):>7} | {threshold:>9.2f} | {precision:>9.3f} | {recall:>6.3f} | "
                f"{false:>11} | {missed:>13}{mark}"
            )
    print(f"\nrecall by kind of copy at FLAG = {FLAG} (all sizes):")
    caught, made = Counter(), Counter()
    for found in runs.values():
        for scores, truth in found:
            for pair, kind in truth.items():
                made[kind] += 1
                caught[kind] += scores.get(pair, 0.0) >= FLAG
    for kind in COPY_KINDS:
        print(f"  {kind:<10} {caught[kind]:>3} of {made[kind]:>3}")
    independent = [s for found in runs.values() for scores, truth in found for p, s in scores.items() if p not in truth]
    planted = [scores.get(p, 0.0) for found in runs.values() for scores, truth in found for p in truth]
    print(f"\nhighest independent pair {max(independent):.3f}; lowest planted pair {min(planted):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
