"""Scoring, in process: the grader's probe calls our own functions (reference, mutants, odd returns), then scores.

No kernel here: what a kernel adds (the sandbox, timeouts of cells, a dead
kernel) is tested in test_end_to_end.py.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from examples.build_examples import fixed_template, replace_code
from grader.items import Rule, generate_cases
from grader.run.harvest import read_outcomes
from grader.shared.outcomes import CallStatus
from grader.shared.verdicts import Trouble
from tools.in_process import outcomes_in_process, watched

from ..helpers import (
    ITEMS,
    MM,
    MUTANTS,
    equivalents,
    graded_namespace,
    item_scores,
    mutant,
    only_items,
    outputs,
    score_in_process,
)


def full(rubric):
    return dict(rubric.points)


@pytest.fixture(scope="module")
def reference_tests(solved, test_rubric, cases, tmp_path_factory):
    return score_in_process(solved, test_rubric, cases, tmp_path_factory.mktemp("reference"))


def test_every_rubric_item_has_a_scorer_and_hidden_cases(rubric, cases):
    assert list(ITEMS) == list(rubric.items) == list(cases)


def test_reference_gets_full_marks_on_every_item(reference_tests, test_rubric):
    assert item_scores(reference_tests, test_rubric) == full(test_rubric), outputs(reference_tests)


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_reference_passes_the_trained_items_at_the_rubrics_epochs_with_margin(solved, rubric, tmp_path, share):
    """At the rubric's grading_epochs and at half of them: the fewest epochs, but not at the edge."""
    cases = generate_cases(int(rubric.run.grading_epochs * share))
    trained = {item: cases[item] for item in ("train_manual", "optimizers")}
    only_trained = only_items(rubric, list(trained))
    tests = score_in_process(solved, only_trained, trained, tmp_path)
    assert all(t.passed for t in tests), outputs(tests)


def test_test_names_follow_the_contract_and_points_add_up(reference_tests, test_rubric):
    names = [t.name for t in reference_tests]
    assert len(names) == len(set(names))
    assert {name.split(".")[0] for name in names} == set(test_rubric.items)
    assert "backward.dW1.relu_at_zero" in names and "train_manual.holdout_accuracy.training_split" in names
    for item, points in test_rubric.points.items():
        assert sum(t.max_score for t in reference_tests if t.name.startswith(f"{item}.")) == pytest.approx(points)


def test_template_loses_exactly_the_planted_bugs(template, test_rubric, cases, tmp_path):
    tests = score_in_process(template, test_rubric, cases, tmp_path)
    scores = item_scores(tests, test_rubric)
    assert scores["loss_fn"] == scores["init_params"] == scores["sgd_update"] == scores["train_manual"] == 0
    assert {k: scores[k] for k in ("forward", "backward", "optimizers")} == {
        k: test_rubric.points[k] for k in ("forward", "backward", "optimizers")
    }
    text = outputs(tests)
    assert "NotImplementedError: TODO: implement loss_fn" in text and "still a TODO" in text
    assert "W2 has shape (2, 10), not the one init_params' docstring gives it" in text
    assert "moved *up* the gradient" in text and "-=" not in text  # the symptom, never the fix


def test_template_with_its_bugs_fixed_gets_full_marks(template, test_rubric, cases, tmp_path):
    tests = score_in_process(fixed_template(template), test_rubric, cases, tmp_path)
    assert item_scores(tests, test_rubric) == full(test_rubric), outputs(tests)


@pytest.mark.parametrize("name", MUTANTS)
def test_each_mutant_loses_points_on_its_own_item_only(solved, test_rubric, cases, tmp_path, name):
    item = MUTANTS[name][0]
    tests = score_in_process(mutant(solved, name), test_rubric, cases, tmp_path)
    scores = item_scores(tests, test_rubric)
    assert scores[item] < test_rubric.points[item]
    others = {k: v for k, v in scores.items() if k not in (item, "train_manual")}
    assert others == {k: test_rubric.points[k] for k in others}
    # charged once: a training that runs to the end as the handout's loop over these functions does keeps its
    # points (diverging, recording N times the loss, or learning no XOR); one the mistake makes raise does not
    if name in ("sign_flipped", "missing_1_over_N", "no_relu_mask", "loss_summed"):
        assert scores["train_manual"] == test_rubric.points["train_manual"], outputs(tests)
    else:
        training = [t for t in tests if t.item == "train_manual"]
        assert training and all(t.trouble == Trouble.RAISED for t in training)
        assert all(f"fail their own tests: `{item}`" in t.problem for t in training)


@pytest.mark.parametrize(
    "name,says",
    [
        ("dW1_transposed", "dL_dW1: shape (10, 2), expected (2, 10)"),
        ("missing_1_over_N", "N times too large"),
        ("no_relu_mask", "as if the ReLU were not there"),
        ("loss_summed", "grows with the number of examples"),
        ("W1_shape_hd", "W1 has shape (10, 2), not the one init_params' docstring gives it"),
        ("sign_flipped", "moved *up* the gradient"),
    ],
)
def test_mutant_feedback_names_the_mistake(solved, test_rubric, cases, tmp_path, name, says):
    item = MUTANTS[name][0]
    item_cases = {item: cases[item]}
    only = only_items(test_rubric, [item])
    assert says in outputs(score_in_process(mutant(solved, name), only, item_cases, tmp_path))


def test_indexing_slip_of_the_comments_gets_its_hint(template, test_rubric, cases, tmp_path):
    slip = replace_code(
        template,
        'raise NotImplementedError("TODO: implement loss_fn")',
        "return torch.mean(-torch.log(p_y_hat[range(y.shape[0])]))",
    )
    only = only_items(test_rubric, ["loss_fn"])
    assert "picks whole rows" in outputs(score_in_process(slip, only, {"loss_fn": cases["loss_fn"]}, tmp_path))


@pytest.mark.parametrize("name", ["mask_from_a1", "loss_via_log_softmax", "loss_via_nll_loss", "numpy_backward"])
def test_equivalent_forms_keep_full_marks(solved, test_rubric, cases, tmp_path, name):
    tests = score_in_process(equivalents(solved)[name], test_rubric, cases, tmp_path)
    assert item_scores(tests, test_rubric) == full(test_rubric), outputs(tests)


# ---- calls that give nothing to judge cost their own item only --------------------------------------------


def _early_items(rubric, cases):
    """The items without training: enough to see one item fail while the others pass, in milliseconds."""
    items = ("loss_fn", "init_params", "forward", "backward", "sgd_update")
    return only_items(rubric, items), {i: cases[i] for i in items}


@pytest.mark.parametrize(
    "extra,item,says",
    [
        ("del forward", "forward", "`forward` is not defined at the top level"),
        ("forward = 3", "forward", "`forward` is defined but is not a function"),
        (
            "def backward(*args):\n    raise ValueError('not today')",
            "backward",
            "`backward` raised ` ValueError: not today `",
        ),
        ("import time\ndef forward(*args):\n    time.sleep(10**6)", "forward", "`forward` did not return in time"),
        ("import sys\ndef loss_fn(*args):\n    sys.exit(0)", "loss_fn", "`loss_fn` raised ` SystemExit"),
        ("def loss_fn(p, y):\n    return 'low'", "loss_fn", "a ` str ` was returned, not numbers"),
        ("def loss_fn(p, y):\n    return torch.zeros(5_000_000)", "loss_fn", "far too large"),
        (
            "class Always(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
            "def loss_fn(p, y):\n    return torch.zeros(()).as_subclass(Always)",
            "loss_fn",
            "subclass of torch.Tensor",
        ),
    ],
)
def test_a_call_that_gives_nothing_to_judge_costs_its_own_item(solved, test_rubric, cases, tmp_path, extra, item, says):
    rubric, early = _early_items(test_rubric, cases)
    tests = score_in_process(solved, rubric, early, tmp_path, extra, call_timeout=0.5)
    scores = item_scores(tests, rubric)
    assert scores[item] == 0 and says in outputs(tests)
    assert {k: v for k, v in scores.items() if k != item} == {k: rubric.points[k] for k in scores if k != item}


def test_a_function_that_changes_its_inputs_is_told_so(solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    extra = "_forward = forward\ndef forward(X, *params):\n    X.mul_(2)\n    return _forward(X, *params)"
    tests = score_in_process(solved, rubric, early, tmp_path, extra)
    assert item_scores(tests, rubric)["forward"] == 0
    assert "Note: it changed its input X in place" in outputs(tests)


# ---- the rubric's rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "old,new,item,says",
    [
        (
            "nll = torch.mean(-torch.log(correct_class_prob))",
            "nll = F.cross_entropy(torch.log(p_y_hat), y)",
            "loss_fn",
            "loss_fn uses cross_entropy",
        ),
        (
            "    W1, b1, W2, b2 = params\n",
            "    torch.optim.SGD(params, lr=learning_rate)\n    W1, b1, W2, b2 = params\n",
            "sgd_update",
            "sgd_update uses optim",
        ),
        (
            "    y_one_hot = torch.nn",
            "    leaves = [t.detach().requires_grad_(True) for t in (z1,)]\n    y_one_hot = torch.nn",
            "backward",
            "backward uses requires_grad_",
        ),
    ],
)
def test_a_function_breaking_its_rule_scores_zero_with_the_reason(
    solved, test_rubric, cases, tmp_path, old, new, item, says
):
    rubric, early = _early_items(test_rubric, cases)
    tests = score_in_process(replace_code(solved, old, new), rubric, early, tmp_path)
    scores = item_scores(tests, rubric)
    assert scores[item] == 0 and says in outputs(tests)
    assert scores["forward"] == rubric.points["forward"]


AUTOGRAD_IN_A_HELPER = """
def _chain(X, z1, W2, dL_dz2):
    W1 = torch.zeros(X.shape[1], z1.shape[1], requires_grad=True)
    b1 = torch.zeros(z1.shape[1], requires_grad=True)
    W2 = W2.clone().requires_grad_(True)
    b2 = torch.zeros(W2.shape[1], requires_grad=True)
    z2 = torch.relu(X @ W1 + b1 + z1) @ W2 + b2
    return torch.autograd.grad((z2 * dL_dz2).sum(), (W1, b1, W2, b2), create_graph=True)
def backward(X, y, z1, a1, p_hat, W2):
    return _chain(X, z1, W2, (p_hat - F.one_hot(y, p_hat.shape[1]).float()) / y.shape[0])
"""


def test_autograd_history_on_what_is_returned_is_a_layer_of_its_own(solved, test_rubric, cases, tmp_path):
    # right values, with autograd in a helper the static check does not read; with the run-time recording
    # off in the rubric, the returned history still gives it away
    helper = AUTOGRAD_IN_A_HELPER
    rubric = only_items(test_rubric, ["backward"])
    for watch, expected in ((("autograd",), "it ran ` torch.zeros(requires_grad=True) `"), ((), "autograd history")):
        rule = dataclasses.replace(rubric.items["backward"].rule, watch=watch)
        ruled = dataclasses.replace(
            rubric, items={"backward": dataclasses.replace(rubric.items["backward"], rule=rule)}
        )
        tests = score_in_process(solved, ruled, {"backward": cases["backward"]}, tmp_path / str(watch), helper)
        assert all(t.score == 0 for t in tests) and expected in tests[0].output, outputs(tests)


# Each dodges the static check (the forbidden names never appear in the function's code) and returns
# detached, right values: only the recording of what runs can tell. (item, code, what the feedback names)
_ONE_HOT_GRADIENT = "(p_hat - F.one_hot(y, p_hat.shape[1]).float()) / y.shape[0]"
RUN_TIME_DODGES = {
    "autograd_by_built_name": (
        "backward",
        f"""
def backward(X, y, z1, a1, p_hat, W2):
    leaves = [X.new_zeros(X.shape[1], z1.shape[1]), X.new_zeros(z1.shape[1]), W2.clone(), X.new_zeros(W2.shape[1])]
    for leaf in leaves:
        setattr(leaf, "requires" + "_grad", True)
    z2 = torch.relu(X @ leaves[0] + leaves[1] + z1) @ leaves[2] + leaves[3]
    engine = getattr(torch, "auto" + "grad")
    grads = getattr(engine, "gr" + "ad")((z2 * {_ONE_HOT_GRADIENT}).sum(), leaves)
    return tuple(g.detach() for g in grads)
""",
        "torch.Tensor.requires_grad.__set__",
    ),
    "autograd_in_a_thread": (
        "backward",
        f"""
import threading
def backward(X, y, z1, a1, p_hat, W2):
    found = {{}}
    def work():
        leaves = [X.new_zeros(X.shape[1], z1.shape[1]), X.new_zeros(z1.shape[1]), W2.clone(),
                  X.new_zeros(W2.shape[1])]
        z2 = X @ leaves[0]
        for leaf in leaves:
            getattr(leaf, "requires_grad" + "_")()
        z2 = torch.relu(X @ leaves[0] + leaves[1] + z1) @ leaves[2] + leaves[3]
        getattr((z2 * {_ONE_HOT_GRADIENT}).sum(), "back" + "ward")()
        found["grads"] = tuple(leaf.grad.detach() for leaf in leaves)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return found["grads"]
""",
        "requires_grad_",
    ),
    "recording_switched_off": (
        "backward",
        """
import sys
def backward(X, y, z1, a1, p_hat, W2):
    sys.setprofile(None)
    return _reference_backward(X, y, z1, a1, p_hat, W2)
""",
        "switched off the grader's record",
    ),
    "cross_entropy_by_built_name": (
        "loss_fn",
        """
def loss_fn(p_y_hat, y):
    return getattr(F, "cross_" + "entropy")(torch.log(p_y_hat), y)
""",
        "cross_entropy",
    ),
    "optimizer_by_built_name": (
        "sgd_update",
        """
def sgd_update(params, grads, learning_rate):
    step = getattr(torch, "op" + "tim").SGD(params, lr=learning_rate)
    for weight, gradient in zip(params, grads):
        weight.grad = gradient
    step.step()
    return params
""",
        "(torch)",
    ),
}


@pytest.mark.parametrize("dodge", RUN_TIME_DODGES)
def test_machinery_reached_at_run_time_costs_its_item_and_only_it(dodge, solved, test_rubric, cases, tmp_path):
    item, code, named = RUN_TIME_DODGES[dodge]
    rubric, early = _early_items(test_rubric, cases)
    keep_reference = "_reference_backward = backward\n"
    tests = score_in_process(solved, rubric, early, tmp_path, keep_reference, code)
    scores = item_scores(tests, rubric)
    assert scores[item] == 0, outputs(tests)
    assert named in next(t.output for t in tests if t.name.startswith(f"{item}.")), outputs(tests)
    assert {i: s for i, s in scores.items() if i != item} == {i: p for i, p in rubric.points.items() if i != item}
    # right values, dodging the other layers: without the recording the item would keep its points
    unwatched = {
        name: dataclasses.replace(spec, rule=dataclasses.replace(spec.rule, watch=())) if spec.rule else spec
        for name, spec in rubric.items.items()
    }
    blind = dataclasses.replace(rubric, items=unwatched)
    tests = score_in_process(solved, blind, early, tmp_path / "blind", keep_reference, code)
    assert item_scores(tests, blind)[item] == blind.points[item], outputs(tests)


def test_a_rule_added_to_the_rubric_for_any_item_is_enforced(solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    ruled = dataclasses.replace(
        rubric.items["forward"], rule=Rule(identifiers=("relu",), reason="write the ReLU with clamp")
    )
    rubric = dataclasses.replace(rubric, items=rubric.items | {"forward": ruled})
    tests = score_in_process(solved, rubric, early, tmp_path)
    assert item_scores(tests, rubric)["forward"] == 0
    assert "forward uses relu: write the ReLU with clamp" in outputs(tests)
    assert item_scores(tests, rubric)["backward"] == rubric.points["backward"]


# ---- what the probe wrote is read defensively -------------------------------------------------------------


def test_damaged_or_forged_probe_files_never_pass_for_results(tmp_path):
    stem = tmp_path / "outputs"
    assert read_outcomes(stem, ["a"])["a"].status == CallStatus.NOT_RUN
    np.savez(stem.with_suffix(".npz"))
    stem.with_suffix(".json").write_text("{broken")
    assert read_outcomes(stem, ["a"])["a"].status == CallStatus.ERROR
    stem.with_suffix(".json").write_text(json.dumps({"a": {"status": "passed"}, "b": "ok"}))
    found = read_outcomes(stem, ["a", "b", "c"])
    assert [found[k].status for k in "abc"] == [CallStatus.ERROR, CallStatus.NOT_RUN, CallStatus.NOT_RUN]


def test_optimizers_that_ignore_their_seed_do_not_start_together(solved, test_rubric, cases, tmp_path):
    """The handout's slip: seeding outside train_with_optimizer, or not at all."""
    ignores_seed = replace_code(solved, "    torch.manual_seed(seed)\n", "")
    only = only_items(test_rubric, ["optimizers"])
    tests = score_in_process(ignores_seed, only, {"optimizers": cases["optimizers"]}, tmp_path)
    outcome = {t.name: t for t in tests}
    assert (
        not outcome["optimizers.same_start.training_split"].passed
        and "Hint (optimizers_start_apart)" in outcome["optimizers.same_start.training_split"].output
    )
    assert outcome["optimizers.loss_history.training_split"].passed


@pytest.mark.parametrize(
    "example,item,expected",
    [
        ("alice_correct", None, "full"),
        ("bob_untouched_template", "loss_fn", 0),
        ("carol_forgot_sign", "sgd_update", 0),
        ("dave_summed_loss", "loss_fn", "less"),
        ("erin_no_relu_mask", "backward", "less"),
    ],
)
def test_the_bundled_examples_score_as_their_mistakes_say(test_rubric, cases, tmp_path, example, item, expected):
    """What `make grade` shows for each example (the whole notebooks of three of them: test_end_to_end.py)."""
    from examples.build_examples import OUT as EXAMPLES

    from ..helpers import read

    scores = item_scores(
        score_in_process(read(EXAMPLES / f"{example}.ipynb"), test_rubric, cases, tmp_path), test_rubric
    )
    if expected == "full":
        assert scores == full(test_rubric)
    elif expected == 0:
        assert scores[item] == 0
    else:
        assert 0 < scores[item] < test_rubric.points[item]


# ---- the rules judge what code means: tracking switched off is no autograd; a process started is a breach -----

TRACKING_OFF = """
_hand_written = backward
def backward(X, y, z1, a1, p_hat, W2):
    for tensor in (X, z1, a1, p_hat):
        tensor.requires_grad_(False)
    W2.requires_grad = False
    spare = torch.zeros(1, requires_grad=False)
    with torch.no_grad():
        return tuple(g.detach() for g in _hand_written(X, y, z1, a1, p_hat, W2))
"""
# the same lines turning tracking on: autograd, caught by the source and by the recording
TRACKING_ON = {
    "requires_grad_()": "    X.requires_grad_()\n",
    "requires_grad_(True)": "    X.requires_grad_(True)\n",
    "requires_grad = True": "    W2.requires_grad = True\n",
}


def test_switching_tracking_off_in_a_hand_written_backward_keeps_full_marks(solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    tests = score_in_process(solved, rubric, early, tmp_path, TRACKING_OFF)
    assert item_scores(tests, rubric) == rubric.points, outputs(tests)


@pytest.mark.parametrize("switch", TRACKING_ON)
@pytest.mark.parametrize("layer", ["source", "run time"])
def test_switching_tracking_on_is_autograd_in_either_layer(switch, layer, solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    if layer == "run time":  # the source layer blinded: the recording alone must see it
        spec = rubric.items["backward"]
        blind = dataclasses.replace(spec, rule=dataclasses.replace(spec.rule, identifiers=("autograd",)))
        rubric = dataclasses.replace(rubric, items=rubric.items | {"backward": blind})
    code = TRACKING_OFF.replace("    for tensor in (X, z1, a1, p_hat):\n", TRACKING_ON[switch] + "    if False:\n")
    tests = score_in_process(solved, rubric, early, tmp_path, code)
    assert item_scores(tests, rubric)["backward"] == 0, outputs(tests)


CHILD_PROCESS_DODGES = {
    # the dodge: the numbers go to a child Python as numpy arrays, autograd runs there, gradients come back
    "subprocess": """
import io, subprocess, sys
import numpy as np
CHILD = '''
import io, sys, numpy as np, torch
given = np.load(io.BytesIO(sys.stdin.buffer.read()))
X, z1, W2, p_hat = (torch.tensor(given[k]) for k in ("X", "z1", "W2", "p_hat"))
y = torch.tensor(given["y"])
W1 = torch.zeros(X.shape[1], z1.shape[1], requires_grad=True)
b1 = torch.zeros(z1.shape[1], requires_grad=True)
W2 = W2.clone().requires_grad_()
b2 = torch.zeros(W2.shape[1], requires_grad=True)
z2 = torch.relu(X @ W1 + b1 + z1) @ W2 + b2
g = (p_hat - torch.nn.functional.one_hot(y, p_hat.shape[1]).float()) / y.shape[0]
grads = torch.autograd.grad((z2 * g).sum(), [W1, b1, W2, b2])
out = io.BytesIO(); np.savez(out, *[t.numpy() for t in grads]); sys.stdout.buffer.write(out.getvalue())
'''
def backward(X, y, z1, a1, p_hat, W2):
    given = io.BytesIO()
    np.savez(given, X=X.numpy(), y=y.numpy(), z1=z1.numpy(), W2=W2.numpy(), p_hat=p_hat.numpy())
    done = subprocess.run([sys.executable, "-c", CHILD], input=given.getvalue(), capture_output=True, check=True)
    found = np.load(io.BytesIO(done.stdout))
    return tuple(torch.from_numpy(found[f"arr_{i}"]) for i in range(4))
""",
    "os.fork": """
import os
_hand_written = backward
def backward(X, y, z1, a1, p_hat, W2):
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    return _hand_written(X, y, z1, a1, p_hat, W2)
""",
}


@pytest.mark.parametrize("dodge", CHILD_PROCESS_DODGES)
def test_a_process_started_by_a_watched_function_is_a_breach_of_its_rule(dodge, solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    early = {**early, "backward": early["backward"][:1]}  # one case: a child Python per call costs seconds
    tests = score_in_process(solved, rubric, early, tmp_path, CHILD_PROCESS_DODGES[dodge])
    assert item_scores(tests, rubric)["backward"] == 0, outputs(tests)
    assert "it started a process" in next(t.output for t in tests if t.name.startswith("backward."))
    # right values: without the recording the child would have kept every point
    unwatched = dataclasses.replace(rubric.items["backward"].rule, watch=())
    blind = dataclasses.replace(
        rubric, items=rubric.items | {"backward": dataclasses.replace(rubric.items["backward"], rule=unwatched)}
    )
    tests = score_in_process(solved, blind, early, tmp_path / "blind", CHILD_PROCESS_DODGES[dodge])
    assert item_scores(tests, blind)["backward"] == blind.points["backward"], outputs(tests)


def test_a_function_without_a_watch_rule_may_start_a_process(solved, test_rubric, cases, tmp_path):
    rubric, early = _early_items(test_rubric, cases)
    forking_forward = (
        CHILD_PROCESS_DODGES["os.fork"]
        .replace("backward", "forward")
        .replace("(X, y, z1, a1, p_hat, W2)", "(X, W1, b1, W2, b2)")
    )
    tests = score_in_process(solved, rubric, early, tmp_path, forking_forward)
    assert item_scores(tests, rubric)["forward"] == rubric.points["forward"], outputs(tests)


TRAINING_ON_GLOBALS = """
from grader.assignment import current_assignment
training_split = current_assignment().module.cases.training_split
X_train_tensor, y_train_tensor = (torch.from_numpy(a) for a in training_split())
_train_manual, _train_with_optimizer = train_manual, train_with_optimizer
def train_manual(X, y, h=10, learning_rate=0.1, epochs=10000):
    return _train_manual(X_train_tensor, y_train_tensor, h, learning_rate, epochs)
def train_with_optimizer(optimizer_name, X, y, h=10, learning_rate=0.1, epochs=10000, seed=RANDOM_SEED):
    return _train_with_optimizer(optimizer_name, X_train_tensor, y_train_tensor, h, learning_rate, epochs, seed)
"""


def test_trainings_that_ignore_their_arguments_lose_the_data_they_never_had(solved, test_rubric, cases, tmp_path):
    """Called on the training split, a training on the notebook's globals is right; on other data it is not."""
    items = ("train_manual", "optimizers")
    rubric = only_items(test_rubric, items)
    tests = score_in_process(solved, rubric, {item: cases[item] for item in items}, tmp_path, TRAINING_ON_GLOBALS)
    failed = {t.name: t for t in tests if not t.passed}
    assert set(failed) == {"train_manual.loss_history.other_data", "optimizers.loss_history.other_data"}, outputs(tests)
    assert all(
        t.mistake == "globals_for_arguments" and "Hint (globals_for_arguments)" in t.output for t in failed.values()
    )
    assert (
        "XOR data of another size that the notebook never had" in failed["train_manual.loss_history.other_data"].output
    )
    # the reference itself: every test of both, on both data
    assert all(t.passed for t in score_in_process(solved, rubric, {i: cases[i] for i in items}, tmp_path / "ok"))


def test_feedback_shows_the_numbers_it_compared(solved, test_rubric, cases, tmp_path):
    """A learning rate written in: epoch 0 is right, so the first epoch named is a later one, with the reference's
    own (unscaled) loss there; the holdout in points of points, and the bar in points too."""
    fast = replace_code(solved, "sgd_update(params, grads, learning_rate)", "sgd_update(params, grads, 0.5)")
    rubric = only_items(test_rubric, ["train_manual"])
    tests = score_in_process(fast, rubric, {"train_manual": cases["train_manual"][:1]}, tmp_path)
    history = next(t for t in tests if t.name == "train_manual.loss_history.training_split")
    found = re.search(r"at epoch (\d+) the loss is ([\d.]+), where ([\d.]+) was expected", history.output)
    assert found and int(found[1]) > 0 and found[2] != found[3], history.output
    assert "where" in history.output and "(the handout's full-batch loop" in history.output


def test_the_holdout_is_told_in_points_with_the_bar_in_points(solved, test_rubric, cases, tmp_path):
    flipped = mutant(solved, "sign_flipped")
    rubric = only_items(test_rubric, ["train_manual"])
    tests = score_in_process(flipped, rubric, {"train_manual": cases["train_manual"][:1]}, tmp_path)
    holdout = next(t for t in tests if t.name == "train_manual.holdout_accuracy.training_split")
    assert re.search(
        r"classifies \d+ of the 2000 points .* correctly \([\d.]+%\); at least 1900 \(95%\)", holdout.output
    )


def test_numbers_shown_apart_are_told_apart():
    _apart = MM.judges._apart

    assert _apart(0.949500001, 0.95) == ("0.9495", "0.95")
    assert _apart(0.69314718, 0.69314719) == ("0.69314718", "0.69314719")


def test_the_handouts_column_slip_is_named_once(solved, test_rubric, cases, tmp_path):
    slip = replace_code(solved, "p_y_hat[correct_class_loc, y]", "p_y_hat[:, y]")
    rubric = only_items(test_rubric, ["loss_fn"])
    tests = score_in_process(slip, rubric, {"loss_fn": cases["loss_fn"]}, tmp_path)
    assert {t.mistake for t in tests if not t.passed} - {""} == {"loss_whole_columns"}, outputs(tests)


def test_a_wrong_gradient_costs_the_training_on_either_data(solved, test_rubric, cases, tmp_path):
    """The other data's training runs as long as the training split's: a gradient without the ReLU mask stays
    within the tolerance for a few dozen epochs (at 60 it kept the other data's points)."""
    rubric = only_items(test_rubric, ["train_manual"])
    tests = score_in_process(mutant(solved, "no_relu_mask"), rubric, {"train_manual": cases["train_manual"]}, tmp_path)
    assert {t.name for t in tests if not t.passed} == {t.name for t in tests}, outputs(tests)


# ---- the evidence a grading is rescored from ------------------------------------------------------------------


def _old_evidence_bytes(outcomes: dict, breaches: dict) -> bytes:
    """Evidence as stores made before this format kept it: one `.npz` entry an array."""
    import io
    import json

    arrays, calls = {}, {}
    for number, (key, outcome) in enumerate(outcomes.items()):
        for index, leaf in enumerate(outcome.leaves):
            if leaf.value is not None:
                arrays[f"{number}/leaf/{index}"] = leaf.value
        for position, value in outcome.inputs_after.items():
            arrays[f"{number}/input/{position}"] = value
        calls[key] = {
            "number": number,
            "status": str(outcome.status),
            "reason": outcome.reason,
            "leaves": [{"path": x.path, "facts": x.facts, "has_value": x.value is not None} for x in outcome.leaves],
            "inputs_after": sorted(outcome.inputs_after),
            "watched": outcome.watched,
            "recording": outcome.recording,
        }
    arrays["meta"] = np.array(json.dumps({"calls": calls, "breaches": breaches}))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_evidence_reads_back_what_was_scored_in_its_format_and_in_the_one_before(solved, test_rubric, cases, tmp_path):
    from grader.judge.evidence import Evidence
    from grader.judge.score import score_all

    namespace = graded_namespace(mutant(solved, "no_relu_mask"))
    with watched():
        outcomes = outcomes_in_process(namespace, cases, tmp_path, test_rubric.watched)
    breaches, ignored = {"sgd_update": "it used optim"}, {"train_manual": ["learning_rate"]}
    scored = score_all(cases, outcomes, test_rubric, breaches, ignored)
    kept = Evidence(outcomes, breaches, ignored).to_bytes()
    for data, with_ignored in ((kept, ignored), (_old_evidence_bytes(outcomes, breaches), {})):
        back = Evidence.from_bytes(data)
        assert back.breaches == breaches and back.ignored == with_ignored
        assert back.to_bytes() == data  # stored again as it was read
        assert list(back.outcomes) == list(outcomes)
        for key, outcome in outcomes.items():
            again = back.outcomes[key]
            assert (again.status, again.reason, again.watched, again.recording) == (
                outcome.status,
                outcome.reason,
                outcome.watched,
                outcome.recording,
            )
            assert [(x.path, x.facts) for x in again.leaves] == [(x.path, x.facts) for x in outcome.leaves]
            for mine, theirs in zip(again.leaves, outcome.leaves, strict=True):
                assert (mine.value is None) == (theirs.value is None)
                if theirs.value is not None:
                    assert mine.value.dtype == theirs.value.dtype and np.array_equal(mine.value, theirs.value)
            assert sorted(again.inputs_after) == sorted(outcome.inputs_after)
            assert all(np.array_equal(again.inputs_after[i], v) for i, v in outcome.inputs_after.items())
        assert score_all(cases, back.outcomes, test_rubric, back.breaches, back.ignored) == (
            scored if with_ignored else score_all(cases, outcomes, test_rubric, breaches)
        )
