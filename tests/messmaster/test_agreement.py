"""The self-check tells each student what the grader will say: on notebooks as students leave them
(tests/messmaster/agreement_corpus.py), a function passes the self-check exactly when the grader gives it full marks.

Both judge in this process, on the notebooks' own functions: the grader with its probe on the hidden cases
and the real rubric's epochs, the self-check with its own code on its public cases. A function's verdict
depends only on its source and on those of the functions it composes, so each distinct one is judged once.
"""

from __future__ import annotations

import hashlib

import nbformat
import pytest

from examples.build_examples import replace_code
from grader.intake.notebooks import function_sources
from grader.items import generate_cases
from grader.judge.rules import forbidden_uses, ignored_arguments_of
from grader.judge.score import score_item
from student_template import selfcheck
from tools.in_process import outcomes_in_process

from ..helpers import GRADED_FUNCTIONS, ITEMS, copy_notebook, graded_namespace
from .agreement_corpus import CORPUS, NOTEBOOK_GLOBALS, Variant

COMPOSES = {item: entry.composes for item, entry in ITEMS.items() if entry.composes}


def _notebook(variant: Variant, solved, template) -> nbformat.NotebookNode:
    notebook = copy_notebook(solved if variant.base == "solved" else template)
    for edit in variant.edits:
        notebook = replace_code(notebook, *edit)
    return notebook


@pytest.fixture(scope="module")
def real_cases(rubric):
    return generate_cases(rubric.run.grading_epochs)


class Judged:
    """Each distinct function's verdicts, by the grader and by the self-check, computed once for the corpus."""

    def __init__(self, rubric, cases, folder):
        self.rubric, self.cases, self.folder = rubric, cases, folder
        self.grader: dict[str, bool] = {}
        self.selfcheck: dict[str, bool] = {}

    def key(self, item: str, sources: dict[str, str]) -> str:
        involved = [item, *COMPOSES.get(item, ())] + (
            list(ITEMS)[: list(ITEMS).index(item)] if item in COMPOSES else []
        )
        text = "\n".join(f"{name}:{sources.get(GRADED_FUNCTIONS[name], '')}" for name in dict.fromkeys(involved))
        return hashlib.sha256(text.encode()).hexdigest()

    def verdicts(self, notebook: nbformat.NotebookNode) -> dict[str, tuple[bool, bool]]:
        """By function: (full marks at the grader, a pass at the self-check)."""
        sources = function_sources(notebook, set(GRADED_FUNCTIONS.values()), 100_000)
        namespace = graded_namespace(notebook, NOTEBOOK_GLOBALS)
        with_globals = copy_notebook(notebook)
        breaches, ignored = forbidden_uses(with_globals, self.rubric), ignored_arguments_of(with_globals, self.rubric)
        found, failing = {}, set()
        for item in self.rubric.items:
            key = self.key(item, sources)
            if key not in self.grader:
                folder = self.folder / f"{item}-{len(self.grader)}"
                # the grader's own bound on a call (60 s), not the tool's 10 s: a slow variant (an N x N loss, 400
                # epochs) outlived 10 s on a busy machine and lost its points only there
                outcomes = outcomes_in_process(
                    namespace, {item: self.cases[item]}, folder, self.rubric.watched, self.rubric.run.call_timeout
                )
                tests = score_item(
                    item,
                    self.cases[item],
                    outcomes,
                    self.rubric,
                    breaches.get(item, ""),
                    frozenset(failing),
                    None,
                    ignored.get(item, ()),
                )
                self.grader[key] = all(test.passed for test in tests)
                function = GRADED_FUNCTIONS[item]
                self.selfcheck[key] = all(o.passed for o in selfcheck.run_checks(namespace, [function]))
            failing |= set() if self.grader[key] else {item}
            found[GRADED_FUNCTIONS[item]] = (self.grader[key], self.selfcheck[key])
        return found


@pytest.fixture(scope="module")
def judged(rubric, real_cases, tmp_path_factory):
    return Judged(rubric, real_cases, tmp_path_factory.mktemp("agreement"))


def test_the_corpus_is_large_and_holds_every_planted_bug_and_catalogued_mistake():
    from grader.shared.catalogue import MISCONCEPTIONS

    from .test_misconceptions import PLANTED

    assert len(CORPUS) >= 40
    assert set(PLANTED) == set(MISCONCEPTIONS)  # each catalogued mistake is planted there too


@pytest.mark.parametrize("name", list(CORPUS))
def test_a_function_passes_the_self_check_exactly_when_the_grader_gives_it_full_marks(name, judged, solved, template):
    verdicts = judged.verdicts(_notebook(CORPUS[name], solved, template))
    disagree = {function: pair for function, pair in verdicts.items() if pair[0] != pair[1]}
    assert disagree == {}, f"(full marks at the grader, a pass at the self-check): {disagree}"
