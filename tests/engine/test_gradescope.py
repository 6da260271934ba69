"""The Gradescope autograder: the zip as Gradescope unpacks it, `run_autograder` run against a temporary root.

The zip is the small assignment's (examples/assignments/logreg): what is tested is the builder, the scripts and
the grading under Gradescope's rules, for any assignment. MessMaster's own zip: tests/messmaster/test_gradescope_zip.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grader.rubric import load_rubric
from grader.run.sandbox import SandboxMode, SandboxPolicy, bubblewrap_works, forks_kernels
from tools.build_gradescope import SCRIPTS, build_gradescope_zip

from ..helpers import (
    CAN_DROP_CAP_SYS_ADMIN,
    LOGREG,
    LOGREG_TEMPLATE_SCORE,
    ROOT,
    WITHOUT_CAP_SYS_ADMIN,
    assignment_of_process,
    minimal_notebook,
)

HUNT = """
import json, os
found = {}
targets = {
    "hidden cases": ("secret", "cases.toml"),
    "rubric": ("rubric.toml",),
    "solved notebook": ("reference", "logreg_solution.ipynb"),
}
for label, parts in targets.items():
    try:
        open(os.path.join(ROOT, "source", *parts)).read()
        found[label] = "read"
    except OSError as error:
        found[label] = type(error).__name__
try:
    found["reference's numbers"] = str(os.listdir(os.path.join(ROOT, "reference-cache")))
except OSError as error:
    found["reference's numbers"] = type(error).__name__
try:
    with open(os.path.join(ROOT, "results", "results.json"), "w") as f:
        json.dump({"score": 100, "tests": []}, f)
    found["results"] = "written"
except OSError as error:
    found["results"] = type(error).__name__
raise RuntimeError(json.dumps(found))
"""


def test_the_zip_has_the_scripts_at_its_root_and_no_tests_or_caches(tmp_path):
    with zipfile.ZipFile(build_gradescope_zip(tmp_path / "autograder.zip", LOGREG)) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert set(SCRIPTS) <= set(names) and all(modes[s] & 0o111 for s in SCRIPTS)
    assert {"secret/cases.toml", "rubric.toml", "assignment.py", "reference/solutions.py"} <= set(names)
    assert "student_template/logreg.ipynb" in names  # what the self-check cell and the template's cells compare with
    assert "reference/logreg_solution.ipynb" in names  # setup.sh grades it once, for the reference's numbers
    assert not [name for name in names if name.startswith(("assignment/", "reference/messmaster"))]  # MessMaster's
    assert "grader/__main__.py" in names and "grader/run/kernel_probe.py" in names  # the engine grades it there
    assert not [n for n in names if n.startswith(("tests/", "examples/")) or "__pycache__" in n or n.endswith(".pyc")]


def test_setup_sh_installs_what_grading_needs_without_a_third_party_repository():
    setup = (ROOT / "integrations" / "gradescope" / "setup.sh").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    torch = "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0"
    assert torch in setup and torch in docker
    assert "install --quiet -r requirements-runtime.txt" in setup  # not the development tools
    assert "install --no-cache-dir -r requirements-cluster.txt" in docker  # the runtime and Dask, for workers
    assert (ROOT / "requirements-cluster.txt").read_text().count("-r requirements-runtime.txt") == 1
    assert "torch==2.13.0\n" in (ROOT / "requirements-runtime.txt").read_text()
    runtime = (ROOT / "requirements-runtime.txt").read_text()
    assert not [tool for tool in ("pytest", "ruff", "dask", "hypothesis") if f"\n{tool}=" in runtime]
    assert "ppa" not in setup.lower() and "add-apt-repository" not in setup
    assert re.search(r"^UV_VERSION=\d+\.\d+\.\d+$", setup, re.MULTILINE) and "uv==$UV_VERSION" in setup
    check = subprocess.run(["bash", "-n", str(ROOT / "integrations" / "gradescope" / "setup.sh")], capture_output=True)
    assert check.returncode == 0, check.stderr


@pytest.fixture(scope="module")
def autograder(tmp_path_factory, logreg_solved, logreg_template):
    """Each submission graded by run_autograder under its own /autograder stand-in, two at a time, each with a copy
    of the reference's numbers setup.sh computed into the image (each container starts from it): by name, the
    results and what the command printed."""
    solved, template = logreg_solved, logreg_template
    zip_path = build_gradescope_zip(tmp_path_factory.mktemp("dist") / "autograder.zip", LOGREG)
    # a root nobody can walk into, so that only run_autograder's permissions keep the sources from the kernel
    base = Path(tempfile.mkdtemp(prefix="autograder-", dir="/tmp"))
    base.chmod(0o755)
    # setup.sh's last step, in the unpacked zip: the solved notebook graded once, its reference's numbers kept
    image = base / "image"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(image / "source")
    prepare = subprocess.run(
        [sys.executable, "-m", "grader", "prepare"],
        cwd=image / "source",
        env={**os.environ, "GRADER_CACHE": str(image / "reference-cache")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert prepare.returncode == 0, prepare.stderr
    assert "the solved notebook: " in prepare.stdout  # this assignment's judges keep nothing: MessMaster's do
    (image / "reference-cache").mkdir(exist_ok=True)
    submissions = {
        # the reference's graded functions (its own training adds nothing here); the template's with a cell that
        # hunts for the sources and the results (None)
        "reference": (minimal_notebook(solved), "auto"),
        "hunter": (None, "auto"),
        # as in Docker's default profile, root without CAP_SYS_ADMIN: no namespace for a sandbox (else: none asked)
        "hunter_without_bubblewrap": (None, "auto" if CAN_DROP_CAP_SYS_ADMIN else "off"),
    }
    if CAN_DROP_CAP_SYS_ADMIN:
        submissions["refused_without_bubblewrap"] = (minimal_notebook(solved), "required")

    def grade(name: str) -> tuple[dict, str]:
        notebook, sandbox = submissions[name]
        root = base / name
        (root / "submission").mkdir(parents=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(root / "source")
        if notebook is None:
            notebook = minimal_notebook(template, f"ROOT = {str(root)!r}\n" + HUNT)
        nbformat.write(notebook, root / "submission" / "whatever_they_called_it.ipynb")
        shutil.copytree(image / "reference-cache", root / "reference-cache")
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "MESSMASTER_SANDBOX": sandbox}
        env["GRADER_CACHE"] = str(root / "reference-cache")
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        prefix = WITHOUT_CAP_SYS_ADMIN if name.endswith("without_bubblewrap") and CAN_DROP_CAP_SYS_ADMIN else []
        run = subprocess.run(
            [*prefix, "bash", str(root / "source" / "run_autograder")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert (run.returncode == 0) == (sandbox != "required"), run.stderr
        return json.loads((root / "results" / "results.json").read_text()), run.stdout

    with ThreadPoolExecutor(max_workers=2) as pool:
        graded = dict(zip(submissions, pool.map(grade, submissions), strict=True))
    yield graded
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_the_reference_gets_every_automatic_point_with_markdown_output(autograder, logreg_rubric):
    rubric = logreg_rubric
    results, _ = autograder["reference"]
    assert results["score"] == rubric.automatic_total
    assert results["output_format"] == results["test_output_format"] == "md"
    assert all(t["visibility"] == rubric.gradescope.visibility for t in results["tests"])
    assert not [t for t in results["tests"] if t["name"].startswith("written.")], "written items are manual questions"
    assert "Isolation: " in results["output"]


@pytest.mark.slow
@pytest.mark.skipif(not CAN_DROP_CAP_SYS_ADMIN, reason="only root can run without CAP_SYS_ADMIN")
def test_where_no_sandbox_can_be_made_the_results_say_so_and_a_refusal_still_writes_results(autograder):
    """Root without CAP_SYS_ADMIN: the sandbox check once passed there and every kernel then failed (0/75,
    "Isolation: bubblewrap"); and a refusal at start wrote no results.json at all."""
    graded, _ = autograder["hunter_without_bubblewrap"]
    assert graded["score"] == LOGREG_TEMPLATE_SCORE  # graded as the template it is, not zeroed by the machine
    assert "Isolation: an unprivileged user of its own" in graded["output"] and "bubblewrap (" not in graded["output"]
    refused, _ = autograder["refused_without_bubblewrap"]
    assert refused["score"] == 0 and refused["tests"] == []
    assert "could not grade this submission" in refused["output"] and "CAP_SYS_ADMIN" in refused["output"]


@pytest.mark.slow
def test_the_template_loses_its_planted_bug_whatever_a_later_cell_raises(autograder):
    results, _ = autograder["hunter"]
    assert results["score"] == LOGREG_TEMPLATE_SCORE
    failed = {t["name"].split(".")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert failed == {"step", "train"}, results["output"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hunter", "hunter_without_bubblewrap"])
def test_student_code_can_neither_read_the_sources_nor_write_the_results(autograder, name):
    if name == "hunter_without_bubblewrap" and os.geteuid() != 0:
        pytest.skip("without bubblewrap, only a root grader can run the kernel as another user")
    if name == "hunter" and not bubblewrap_works():
        pytest.skip("bubblewrap cannot run here")
    results, _ = autograder[name]
    assert results["score"] <= LOGREG_TEMPLATE_SCORE, "the grader's results, not the student's"
    problems = [p for p in results["output"].split("\n\n") if "RuntimeError" in p]
    assert len(problems) == 1, results["output"]
    assert "{" in problems[0], problems[0]
    found = json.loads(problems[0][problems[0].index("{") : problems[0].rindex("}") + 1])  # in a code span
    assert set(found.values()) <= {"FileNotFoundError", "PermissionError"}, found
    with assignment_of_process(LOGREG):
        forked = forks_kernels(SandboxPolicy.from_limits(load_rubric().limits, SandboxMode.AUTO))
    expected = ("namespaces of its own" if forked else "bubblewrap") if name == "hunter" else "unprivileged user"
    assert expected in results["output"]
