"""What the self-check shares with the grader: one comparison, one parameter check, one injection, one rubric."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.selfcheck.bundle import BundleError, selfcheck_source, shared_constants
from grader.shared.catalogue import inject_parameters, value_mismatch
from student_template import selfcheck

from ..helpers import GRADED_FUNCTIONS, MESSMASTER, MM, ROOT, TEMPLATE, read

SELFCHECK = MESSMASTER.template_dir / "selfcheck.py"

parameter_problem, same_start = MM.catalogue.parameter_problem, MM.catalogue.same_start


def test_committed_selfcheck_is_stamped_from_the_current_rubric_and_shared_code(rubric):
    assert SELFCHECK.read_text() == selfcheck_source(MESSMASTER, rubric), "run `make student-bundle`"


def test_every_stamped_constant_matches_the_rubric(rubric):
    import dataclasses

    constants = shared_constants(MESSMASTER, rubric)
    assert constants["POINTS"]["train_with_optimizer"] == rubric.items["optimizers"].points
    assert constants["RTOL"] == rubric.tolerance.rtol and constants["ATOL"] == rubric.tolerance.atol
    init_params = constants["ITEM_OPTIONS"]["init_params"]
    assert tuple(init_params["weight_std"]) == rubric.items["init_params"].weight_std
    assert constants["ITEM_OPTIONS"]["backward"] == json.loads(json.dumps(dataclasses.asdict(rubric.items["backward"])))
    for name, value in constants.items():
        assert getattr(selfcheck, name) == value, name


def test_the_self_check_judges_with_the_graders_own_code():
    """Every function and class of grader/shared, and the probe's calling code, is in the self-check word for word:
    the same checks, tolerances, messages and hints."""
    import inspect

    from grader.selfcheck.bundle import KERNEL_FUNCTIONS, SHARED_MODULES

    compared = 0
    for module in (*SHARED_MODULES, MM.catalogue, MM.judges, MM.shipped):
        for name, value in vars(module).items():
            if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__:
                assert inspect.getsource(getattr(selfcheck, name)) == inspect.getsource(value), name
                compared += 1
    assert compared > 40
    stamped = SELFCHECK.read_text()
    for path, names in KERNEL_FUNCTIONS.items():
        for name in names:
            assert inspect.getsource(getattr(selfcheck, name)) in path.read_text() and name in stamped


def test_the_self_checks_kernel_starts_with_the_graders_kernel_arguments():
    """The self-check's runner ships without the grader, so it names the kernel's arguments itself: the grader's
    (no IPython history in SQLite) must be among them, or a check's kernel would differ from a grading's."""
    from grader.run.kernel import KERNEL_ARGUMENTS

    assert set(KERNEL_ARGUMENTS) <= set(selfcheck.KERNEL_ARGUMENTS)


def test_the_shipped_public_cases_are_what_the_definitions_and_the_reference_give_now(rubric):
    """selfcheck_cases.npz is rebuilt by `make student-bundle`: a change of the public cases' definitions, the
    rubric's epochs or the reference shows here until it is."""
    from grader.selfcheck.bundle import CASES_DATA, differences, public_cases_data

    fresh = public_cases_data(MESSMASTER, rubric)
    with np.load(MESSMASTER.template_dir / CASES_DATA, allow_pickle=False) as stored:
        kept = {name: stored[name] for name in stored.files}
    assert differences(fresh, kept) == [], "run `make student-bundle`"
    kept["expected/loss_fn/random/loss"] = kept["expected/loss_fn/random/loss"] + 1
    del kept["holdout/y"]
    assert differences(fresh, kept) == ["holdout/y", "expected/loss_fn/random/loss"]


def test_a_rubric_change_reaches_the_stamped_selfcheck(rubric):
    import dataclasses

    looser = dataclasses.replace(rubric, tolerance=dataclasses.replace(rubric.tolerance, rtol=0.5))
    assert "RTOL = 0.5\n" in selfcheck_source(MESSMASTER, looser)


def test_an_assignment_without_selfcheck_sources_is_told_what_it_lacks(rubric, monkeypatch):
    monkeypatch.delattr(MESSMASTER.module, "SELFCHECK_SOURCES")
    with pytest.raises(BundleError, match="names no SELFCHECK_SOURCES"):
        selfcheck_source(MESSMASTER, rubric)
    monkeypatch.setattr(MESSMASTER.module, "SELFCHECK_SOURCES", ("assignment/gone.py",), raising=False)
    with pytest.raises(BundleError, match="do not exist: .*gone.py"):
        selfcheck_source(MESSMASTER, rubric)


@pytest.mark.parametrize(
    "actual,expected,says",
    [
        (np.ones((2, 3)), np.ones((3, 2)), "shape (2, 3), expected (3, 2)"),
        (np.array([1.0, np.nan]), np.array([1.0, 1.0]), "contains NaN or infinity"),
        (np.array([1.0, 2.0]), np.array([1.0, 2.1]), "wrong values (shape (2,) is right; max abs error 0.1)"),
        (np.array([1.0 + 5e-5]), np.array([1.0]), ""),  # within rtol
        (np.array([1e-7]), np.array([0.0]), ""),  # within atol
        (np.array(3.0), np.array(3.0), ""),
    ],
)
def test_value_mismatch_checks_shape_then_finiteness_then_tolerance(actual, expected, says):
    assert value_mismatch(actual, expected, rtol=1e-4, atol=1e-6) == says


RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "name,value,shape,says",
    [
        ("W2", np.full((2, 10), 0.01), (10, 2), "W2 has shape (2, 10), not the one init_params' docstring gives it"),
        ("b1", np.ones(10), (10,), "b1 is not all zeros"),
        ("b1", np.zeros(10), (10,), ""),
        ("W1", np.zeros((2, 10)), (2, 10), "not small random numbers"),
        ("W1", np.full((2, 10), 0.5), (2, 10), "not small random numbers"),
        ("W1", RNG.normal(0, 0.02, (40, 500)), (40, 500), "W1 has standard deviation 0.0"),
        ("W2", RNG.normal(0, 0.02, (500, 2)), (500, 2), "standard deviation"),
        ("W1", RNG.normal(0, 0.01, (40, 500)), (40, 500), ""),
        ("W1", RNG.normal(0, 0.01, (2, 10)), (2, 10), ""),
    ],
)
def test_parameter_problem_checks_shape_zeros_and_both_weights_scale(rubric, name, value, shape, says):
    item = rubric.items["init_params"]
    problem = parameter_problem(name, value, shape, item.weight_std, item.weight_std_min_size, item.weight_max_abs)
    assert (says in problem) if says else problem == ""


def test_same_start_is_relative_to_the_loss():
    assert same_start(0.6931, 0.6931 + 5e-6, rtol=1e-4, atol=1e-5)
    assert not same_start(0.6931, 0.70, rtol=1e-4, atol=1e-5)


def test_parameters_are_injected_after_the_parameters_cell_once():
    template = read(TEMPLATE)
    once = inject_parameters(template, {"EPOCHS": 5})
    twice = inject_parameters(once, {"EPOCHS": 7})
    tagged = [i for i, c in enumerate(twice.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    parameters = next(i for i, c in enumerate(twice.cells) if "parameters" in c.metadata.get("tags", []))
    assert tagged == [parameters + 1] and twice.cells[tagged[0]].source == "EPOCHS = 7"
    assert len(twice.cells) == len(template.cells) + 1 and len(template.cells) == len(read(TEMPLATE).cells)


def test_each_hint_points_to_the_question_under_which_the_template_asks_for_its_function(template):
    """The hints' question references come from one table (QUESTION_OF); here, the template decides it: each
    graded function's cell follows its question's heading, and each heading is the handout's (whose text
    reference/assignment.py carries)."""
    import re

    from grader.shared.catalogue import MISCONCEPTIONS, hint

    QUESTION_OF = MM.catalogue.QUESTION_OF

    handout = (ROOT / "reference" / "assignment.py").read_text()
    asked_under, heading = {}, None
    for cell in template.cells:
        if cell.cell_type == "markdown" and (found := re.findall(r"\b(Q\d[a-e]?)\.", cell.source)):
            heading = found[-1]
        for function in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE) if cell.cell_type == "code" else []:
            asked_under[function] = heading
    for item, question in QUESTION_OF.items():
        assert asked_under[GRADED_FUNCTIONS[item]].startswith(question), (item, asked_under[GRADED_FUNCTIONS[item]])
        assert re.search(rf"(^|\*\*){question}[a-e]?\.", handout, re.MULTILINE), question
    for name, mistake in MISCONCEPTIONS.items():
        assert f"({QUESTION_OF[mistake.item]}, " in hint(name) if mistake.item else "(Q" not in hint(name)
