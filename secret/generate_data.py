"""Generate the XOR-shaped embedding of Chihuahuas (0) and blueberry muffins (1).

Four Gaussian blobs at (+-1, +-1): a point is a muffin when its two coordinates
have opposite signs. Points that stray within MARGIN of an axis are redrawn, so
the classes are separable (as the handout promises) but not linearly.

Writes the students' file and the grader's holdout; the same seeds give the
same bytes, so `make data` is a no-op on a clean checkout. The holdout's seed
lives here, under secret/, because it must not reach students.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CENTRES = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
LABELS = np.array([0, 0, 1, 1])  # same-sign corners are Chihuahuas
STD = 0.3
MARGIN = 0.1

STUDENT_SEED = 20250211
HOLDOUT_SEED = 91107
STUDENT_ROWS = 1000
HOLDOUT_ROWS = 2000

ROOT = Path(__file__).resolve().parent.parent
STUDENT_CSV = ROOT / "student_template" / "data" / "xor_pattern.csv"
HOLDOUT_CSV = ROOT / "secret" / "data" / "holdout.csv"


def sample_xor(rows: int, seed: int) -> pd.DataFrame:
    """`rows` points (a multiple of 4), balanced, each blob equally often, shuffled."""
    if rows % 4:
        raise ValueError(f"rows must be a multiple of 4, got {rows}")
    rng = np.random.default_rng(seed)
    blob = np.repeat(np.arange(4), rows // 4)
    points = np.empty((rows, 2))
    for i, b in enumerate(blob):
        while True:
            p = CENTRES[b] + rng.normal(0.0, STD, 2)
            # keep only points that stay in their blob's quadrant, clear of the axes
            if np.all(np.sign(p) == np.sign(CENTRES[b])) and np.all(np.abs(p) > MARGIN):
                break
        points[i] = p
    order = rng.permutation(rows)
    return pd.DataFrame({"x1": points[order, 0].round(6), "x2": points[order, 1].round(6), "y": LABELS[blob][order]})


def write_datasets(student_csv: Path = STUDENT_CSV, holdout_csv: Path = HOLDOUT_CSV) -> None:
    for path, rows, seed in [(student_csv, STUDENT_ROWS, STUDENT_SEED), (holdout_csv, HOLDOUT_ROWS, HOLDOUT_SEED)]:
        path.parent.mkdir(parents=True, exist_ok=True)
        sample_xor(rows, seed).to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
        print(f"wrote {path} ({rows} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    write_datasets()


if __name__ == "__main__":
    main()
