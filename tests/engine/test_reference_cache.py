"""The reference's numbers kept on disk: read back for the same inputs, never for others, never stale."""

from __future__ import annotations

import numpy as np
import pytest

from grader import reference_cache
from grader.reference_cache import cache_folder, entry_key, remembered

from ..helpers import MESSMASTER


def test_the_same_inputs_are_computed_once_and_read_back_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    computed = []

    def compute() -> dict[str, np.ndarray]:
        computed.append(1)
        return {"losses": np.array([0.7, 0.5, 0.25])}

    first = remembered("training", (b"weights", 400, 0.1), compute)
    again = remembered("training", (b"weights", 400, 0.1), compute)
    other = remembered("training", (b"weights", 400, 0.2), compute)
    assert len(computed) == 2 and np.array_equal(first["losses"], again["losses"])
    assert np.array_equal(other["losses"], first["losses"])  # the same function: only the key differs
    assert len(list((tmp_path / "training").glob("*.npz"))) == 2 and not list(tmp_path.rglob("*.partial"))


def test_a_change_to_what_decides_a_grade_changes_every_key(monkeypatch):
    key = entry_key("optimizer", ("SGD", 400))
    monkeypatch.setitem(MESSMASTER.__dict__, "inputs_digest", "another reference")
    assert entry_key("optimizer", ("SGD", 400)) != key


def test_an_unreadable_entry_or_an_unwritable_folder_costs_only_the_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    path = tmp_path / "optimizer" / f"{entry_key('optimizer', ('SGD',))}.npz"
    path.parent.mkdir()
    path.write_bytes(b"not an npz")
    assert remembered("optimizer", ("SGD",), lambda: {"losses": np.ones(2)})["losses"].tolist() == [1.0, 1.0]
    blocked = tmp_path / "a file"
    blocked.write_text("")
    monkeypatch.setenv("GRADER_CACHE", str(blocked))  # a folder that cannot be made
    assert remembered("optimizer", ("SGD",), lambda: {"losses": np.zeros(1)})["losses"].tolist() == [0.0]


@pytest.mark.parametrize("setting,where", [("off", None), ("", "grader/reference")])
def test_the_cache_can_be_turned_off_and_defaults_to_the_users_cache_folder(setting, where, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_CACHE", setting)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == (tmp_path / where if where else None)
    assert reference_cache.ENVIRONMENT_VARIABLE == "GRADER_CACHE"


def test_messmasters_numbers_read_back_need_neither_the_reference_nor_torch(cases, monkeypatch):
    """What rescoring asks of the reference (each kind of number), computed once, then read back from the cache
    with the reference out of reach: a class that moves in points imports neither it nor torch."""
    from ..helpers import MM

    values = MM.reference_values
    expected = values.ReferenceExpected()
    case = cases["train_manual"][0]
    start = [p.numpy() for p in values.solutions.init_params(2, 10, 2)]
    params = [np.full(shape, 0.1, dtype=np.float32) for shape in ((2, 10), (10,), (10, 2), (2,))]

    def asked() -> list:
        return [
            expected.values(cases["backward"][0]),
            expected.training(case, start),
            expected.optimizer(cases["optimizers"][0], "Adam"),
            expected.holdout_correct(params),
            MM.cases.training_split(),
        ]

    first = asked()

    def refuse():
        raise AssertionError("the reference was run again")

    monkeypatch.setattr(values, "_solutions", refuse)
    monkeypatch.setattr(reference_cache, "_read", {})  # a new process: nothing in memory
    for cached in (values._training_losses, values._optimizer_history, MM.cases._notebook_split):
        cached.cache_clear()
    again = asked()
    assert np.array_equal(again[1], first[1]) and np.array_equal(again[2], first[2]) and again[3] == first[3]
    assert all(np.array_equal(again[0][name], first[0][name]) for name in first[0])
    assert all(np.array_equal(a, b) for a, b in zip(again[4], first[4], strict=True))


def test_without_a_home_nothing_is_kept_rather_than_a_folder_named_tilde(monkeypatch):
    for name in ("GRADER_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.path.expanduser", lambda path: path)  # as where no user database names a home
    assert cache_folder() is None
