"""`make mutation`'s machinery: mutants of the reference, an oracle apart from the grader, the grader's verdict."""

from __future__ import annotations

import ast

from tools.mutation import ORACLES, equivalent, generate_mutants, judge_mutant

from ..helpers import graded_namespace


def test_mutants_cover_every_item_and_change_one_spot_each(rubric):
    mutants = generate_mutants(list(rubric.items))
    assert {m.item for m in mutants} == set(rubric.items) == set(ORACLES)
    assert len({m.source for m in mutants}) == len(mutants)
    for mutant in mutants[::10]:
        ast.parse(mutant.source)


def test_the_oracles_accept_the_reference_and_known_right_variants(solved):
    reference = graded_namespace(solved)
    assert all(equivalent(item, reference, 100) for item in ORACLES)
    # the ReLU mask from a1 is right, the slope 1 at z1 == 0 is not (the handout: 1 if z1 > 0, else 0)
    from ..helpers import replace_code

    assert equivalent("backward", graded_namespace(replace_code(solved, "(z1 > 0).float()", "(a1 > 0).float()")), 0)
    assert not equivalent(
        "backward", graded_namespace(replace_code(solved, "(z1 > 0).float()", "(z1 >= 0).float()")), 0
    )


def test_no_mutant_fools_the_grader(test_rubric, cases, tmp_path):
    """Every wrong mutant loses points on its item, every equivalent one keeps them (the trainings sampled)."""
    mutants = generate_mutants(list(test_rubric.items))
    trained = [m for m in mutants if m.item in ("train_manual", "optimizers")]
    sample = [m for m in mutants if m not in trained] + trained[::3]
    verdicts = [judge_mutant(m, test_rubric, cases, tmp_path / str(i)) for i, m in enumerate(sample)]
    fooled = [f"{v.mutant.item}:{v.mutant.line} {v.mutant.change}" for v in verdicts if v.grader_bug]
    assert fooled == []
    assert sum(v.equivalent for v in verdicts) >= 5 and sum(v.killed for v in verdicts) >= 90
