"""The data makes the lesson true: XOR-shaped, balanced, reproducible, not linearly separable."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from reference import solutions
from secret.generate_data import HOLDOUT_CSV, STUDENT_CSV, write_datasets

from ..helpers import MM

holdout, training_split = MM.cases.holdout, MM.cases.training_split


def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path):
    write_datasets(tmp_path / "students.csv", tmp_path / "holdout.csv")
    assert (tmp_path / "students.csv").read_bytes() == STUDENT_CSV.read_bytes()
    assert (tmp_path / "holdout.csv").read_bytes() == HOLDOUT_CSV.read_bytes()


@pytest.mark.parametrize("path,rows", [(STUDENT_CSV, 1000), (HOLDOUT_CSV, 2000)])
def test_files_have_the_promised_shape_and_balance(path, rows):
    df = pd.read_csv(path)
    assert list(df.columns) == ["x1", "x2", "y"]
    assert len(df) == rows
    assert df["y"].value_counts().to_dict() == {0: rows // 2, 1: rows // 2}
    # XOR: muffins exactly where the coordinates' signs differ
    assert ((df["x1"] * df["x2"] < 0).astype(int) == df["y"]).all()


def test_holdout_is_not_the_students_data():
    students = set(map(tuple, pd.read_csv(STUDENT_CSV)[["x1", "x2"]].values))
    assert not students & set(map(tuple, pd.read_csv(HOLDOUT_CSV)[["x1", "x2"]].values))


def test_the_holdout_is_read_once_a_process_and_each_caller_gets_its_own_copy(monkeypatch):
    """Judging train_manual read the holdout's CSV again for every submission (13 ms of a worker's each)."""
    import numpy as np

    reads = []
    real_genfromtxt = np.genfromtxt
    monkeypatch.setattr(np, "genfromtxt", lambda *a, **k: reads.append(a[0]) or real_genfromtxt(*a, **k))
    MM.cases._holdout_read.cache_clear()
    X, y = holdout()
    X[:] = 0
    again, _ = holdout()
    assert len(reads) == 1 and again.any() and again.shape == (2000, 2) and y.shape == (2000,)


def test_a_linear_model_stays_at_chance_on_the_holdout():
    X, y = training_split()
    Xh, yh = holdout()
    assert LogisticRegression().fit(X, y).score(Xh, yh) <= 0.60


@pytest.mark.slow
def test_the_reference_mlp_learns_the_holdout_as_in_the_handout():
    """h = 10, SGD, lr 0.1, 10,000 epochs: the handout's settings."""
    X, y = training_split()
    Xh, yh = holdout()
    torch.manual_seed(10011)
    (W1, b1, W2, b2), _ = solutions.train_manual(torch.from_numpy(X), torch.from_numpy(y), epochs=10000)
    p_hat = solutions.forward(torch.from_numpy(Xh), W1, b1, W2, b2)[3]
    assert (p_hat.argmax(dim=1).numpy() == yh).mean() >= 0.97
