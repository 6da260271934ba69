"""MessMaster part 2's Gradescope autograder zip holds what grading it needs, and nothing of the tests.

How the zip grades (run_autograder, the sandbox under Gradescope's rules) is the engine's, tested on the small
assignment: tests/engine/test_gradescope.py.
"""

from __future__ import annotations

import zipfile

from tools.build_gradescope import SCRIPTS, build_gradescope_zip


def test_the_zip_holds_the_assignment_its_secrets_and_the_engine(tmp_path):
    with zipfile.ZipFile(build_gradescope_zip(tmp_path / "autograder.zip")) as archive:
        names = set(archive.namelist())
    assert set(SCRIPTS) <= names
    assert {
        "secret/data/holdout.csv",
        "assignment/rubric.toml",
        "assignment/__init__.py",
        "reference/solutions.py",
        "student_template/messmaster_part2.ipynb",
        "student_template/util.py",
        "student_template/data/xor_pattern.csv",
        "grader/__main__.py",
    } <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/")) or "__pycache__" in n or n.endswith(".pyc")]
