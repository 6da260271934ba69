"""MessMaster part 2's Gradescope autograder zip holds what grading it needs, and nothing of the tests.

How the zip grades (run_autograder, the sandbox under Gradescope's rules) is the engine's, tested on the small
assignment: tests/engine/test_gradescope.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import zipfile

from grader.items import generate_cases
from grader.judge.evidence import Evidence
from tools.build_gradescope import SCRIPTS, build_gradescope_zip
from tools.in_process import outcomes_in_process

from ..helpers import ROOT, graded_namespace


def test_the_zip_holds_the_assignment_its_secrets_and_the_engine(tmp_path):
    with zipfile.ZipFile(build_gradescope_zip(tmp_path / "autograder.zip")) as archive:
        names = set(archive.namelist())
    assert set(SCRIPTS) <= names
    assert {
        "secret/data/holdout.csv",
        "assignment/rubric.toml",
        "assignment/__init__.py",
        "reference/solutions.py",
        "reference/messmaster_part2_solution.ipynb",
        "student_template/messmaster_part2.ipynb",
        "student_template/util.py",
        "student_template/data/xor_pattern.csv",
        "grader/__main__.py",
    } <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/")) or "__pycache__" in n or n.endswith(".pyc")]


JUDGE_AND_DRAW = """
import sys
from pathlib import Path
from grader.assignment import current_assignment
from grader.items import generate_cases
from grader.judge.evidence import Evidence
from grader.judge.score import score_all
from grader.rubric import load_rubric
evidence, rubric = Evidence.from_bytes(Path(sys.argv[1]).read_bytes()), load_rubric()
cases = generate_cases(rubric.run.grading_epochs)
tests = score_all(cases, evidence.outcomes, rubric, evidence.breaches, evidence.ignored)
current_assignment().plot_data(cases, evidence.outcomes)
print(all(test.passed for test in tests), "torch" in sys.modules)
"""


def test_a_correct_submission_is_judged_and_drawn_from_what_prepare_kept_without_torch(tmp_path, rubric, solved):
    """Gradescope's setup.sh runs `prepare` into the image: a correct submission's container then computes none of
    the reference's numbers again, and its grader never imports torch (146 MiB of its own: the container's peak
    was 518 MiB of 768, now about 400)."""
    cache = tmp_path / "reference-cache"
    environment = {**os.environ, "GRADER_CACHE": str(cache)}
    prepare = subprocess.run(
        [sys.executable, "-m", "grader", "prepare"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert prepare.returncode == 0, prepare.stderr
    kept = len(list(cache.rglob("*.npz")))
    assert f"{rubric.automatic_total:g}/{rubric.automatic_total:g} automatic points; {kept} of the" in prepare.stdout
    # a correct submission's outcomes (the reference's functions, called by the grader's probe), judged and drawn
    # by a grader of its own, as a container's
    cases = generate_cases(rubric.run.grading_epochs)
    with contextlib.redirect_stdout(io.StringIO()):
        outcomes = outcomes_in_process(graded_namespace(solved), cases, tmp_path / "probe", rubric.watched)
    (tmp_path / "evidence").write_bytes(Evidence(outcomes, {}, {}).to_bytes())
    judged = subprocess.run(
        [sys.executable, "-c", JUDGE_AND_DRAW, str(tmp_path / "evidence")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert judged.stdout.split() == ["True", "False"], judged.stderr
