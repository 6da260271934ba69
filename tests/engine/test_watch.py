"""Helpers a notebook starts before the grader's call (a worker thread, a forked server) are heard or seen
while a watched function runs; what a notebook legitimately leaves running is not a breach.

In this process, with the watch installed as a kernel installs it when it starts (the kernel's side is
tested in the graded class: tests/engine/test_end_to_end.py)."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from ..helpers import (
    BENIGN_THREADS,
    HELPERS_STARTED_EARLIER,
    fork_server,
    item_scores,
    only_items,
    outputs,
    score_in_process,
)

HELPERS = HELPERS_STARTED_EARLIER | {"fork_server": fork_server(autograd=False)}

EARLY = ("loss_fn", "init_params", "forward", "backward", "sgd_update")
# what each helper's breach says: autograd heard in a hooked thread is named as if the call ran it
SAYS = {
    "worker_thread": "while the grader called backward, it ran ` requires_grad_ `",
    "worker_thread_unhooked": "a thread (Thread-",
    "fork_server": "a process (pid ",
}


@pytest.fixture
def early(test_rubric, cases):
    return only_items(test_rubric, EARLY), {item: cases[item] for item in EARLY}


@pytest.fixture
def reap_servers():
    """The fork server's children, ended and reaped once the test is done (their parent is this process)."""
    before = set(_children())
    yield
    for pid in set(_children()) - before:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _children() -> list[int]:
    mine = []
    for entry in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{entry}/stat", "rb").read() if entry.isdigit() else b""
        except OSError:
            continue
        if stat and int(stat[stat.rindex(b")") + 2 :].split()[1]) == os.getpid():
            mine.append(int(entry))
    return mine


@pytest.mark.parametrize("helper", HELPERS)
def test_work_handed_to_a_helper_started_before_the_call_is_a_breach(helper, solved, early, tmp_path, reap_servers):
    rubric, cases = early
    cases = {**cases, "backward": cases["backward"][:2]}
    tests = score_in_process(solved, rubric, cases, tmp_path, HELPERS[helper])
    assert item_scores(tests, rubric)["backward"] == 0, outputs(tests)
    backward = [t for t in tests if t.item == "backward"]
    assert all(SAYS[helper] in t.output for t in backward), outputs(backward)
    # before backward the helper waits, idle: nothing else is charged. (What it does after handing back
    # backward's answer may fall into the next call on a busy machine: a thread that hides from the watch is
    # charged where it is seen running.)
    before = EARLY[: EARLY.index("backward")]
    assert all(t.passed for t in tests if t.item in before), outputs(tests)
    # the helper's values are right: without the watch on backward it would have kept every point
    spec = rubric.items["backward"]
    blind = dataclasses.replace(spec, rule=dataclasses.replace(spec.rule, watch=(), identifiers=("autograd_",)))
    blind_rubric = dataclasses.replace(rubric, items=rubric.items | {"backward": blind})
    unseen = score_in_process(solved, blind_rubric, cases, tmp_path / "blind", HELPERS[helper])
    assert item_scores(unseen, blind_rubric)["backward"] == rubric.points["backward"], outputs(unseen)


def test_what_a_notebook_leaves_running_is_no_breach(solved, early, tmp_path):
    rubric, cases = early
    tests = score_in_process(solved, rubric, cases, tmp_path, BENIGN_THREADS)
    assert all(t.passed for t in tests), outputs(tests)
