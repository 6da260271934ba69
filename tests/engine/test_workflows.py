"""The CI workflows a course copies: valid for actionlint, in step with the rubric, and their shell steps run here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.rubric import load_rubric
from grader.run.sandbox import bubblewrap_works
from grader.selfcheck.bundle import build_bundle

from ..helpers import GRADED_FUNCTIONS, MESSMASTER, ROOT, SOLVED, TEMPLATE, TEMPLATE_SCORE, minimal_notebook, read

NOTEBOOK = "messmaster_part2.ipynb"

WORKFLOWS = ROOT / "ci" / "github"
LINT = ROOT / "ci" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"


def steps(workflow: str) -> list[dict]:
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    (job,) = document["jobs"].values()
    return job["steps"]


def actionlint(pattern: str) -> subprocess.CompletedProcess:
    assert shutil.which("node"), "Node.js is needed to run actionlint (make installs it from npm)"
    assert LINT.is_file(), "run `make install` (npm ci in ci/actionlint)"
    return subprocess.run(["node", str(LINT), pattern], capture_output=True, text=True, timeout=120)


def test_both_workflows_pass_actionlint():
    run = actionlint(str(WORKFLOWS / "*.yml"))
    assert run.returncode == 0 and "Checking 2 workflow file(s)" in run.stdout, run.stdout + run.stderr


def test_actionlint_flags_a_broken_and_an_outdated_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v1\n"
        "      - run: echo ${{ github.nothing }}\n"
    )
    run = actionlint(str(broken))
    assert run.returncode == 1 and "nothing" in run.stdout
    assert 'the runner of "actions/checkout@v1" action is too old' in run.stdout


# each action's maintained major (its runner: Node 24), checked against the tag in each `uses:` comment
MAINTAINED = {
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    "actions/upload-artifact": "v7",
    "actions/cache/restore": "v5",
    "actions/cache/save": "v5",
    "mikepenz/action-junit-report": "v6",
    "classroom-resources/autograding-command-grader": "v1",  # Classroom's only release
    "classroom-resources/autograding-grading-reporter": "v1",
}
USES = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w./-]+)@(?P<ref>\S+)(?: # (?P<tag>v[\d.]+))?$", re.MULTILINE)


@pytest.mark.parametrize("workflow", ["grade.yml", "classroom.yml"])
def test_actions_are_pinned_by_commit_on_maintained_majors_with_least_privilege(workflow):
    text = (WORKFLOWS / workflow).read_text()
    uses = list(USES.finditer(text))
    assert uses and len(uses) == text.count("uses:")
    for use in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", use["ref"]), f"{use['action']} is pinned by tag, not by commit"
        assert use["tag"] and use["tag"].split(".")[0] == MAINTAINED[use["action"]], use.group(0)
    document = yaml.safe_load(text)
    assert "permissions" in document and "write-all" not in text
    (job,) = document["jobs"].values()
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    for step in job["steps"]:
        if step.get("uses", "").startswith("actions/upload-artifact@"):
            assert 1 <= step["with"]["retention-days"] <= 14  # students' grades and names


def test_the_grading_workflow_keeps_the_class_store_and_publishes_the_tests():
    steps_by_use = {s.get("uses", "").split("@")[0]: s for s in steps("grade.yml")}
    restore, save = steps_by_use["actions/cache/restore"], steps_by_use["actions/cache/save"]
    assert restore["with"]["path"] == save["with"]["path"] == "grades" and save["if"] == "always()"
    assert restore["with"]["restore-keys"] in save["with"]["key"]
    junit = steps_by_use["mikepenz/action-junit-report"]
    assert junit["with"]["report_paths"] == "grades/junit.xml" and junit["if"] == "always()"
    (grade,) = [s for s in steps("grade.yml") if s.get("name") == "Grade"]
    assert "--report junit" in grade["run"] and "--out grades" in grade["run"]


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
    (reporter,) = [s for s in steps("classroom.yml") if "autograding-grading-reporter@" in s.get("uses", "")]
    assert reporter["with"]["runners"].split(",") == list(points)
    assert set(reporter["env"]) == {f"{name.upper()}_RESULTS" for name in points}


def test_classroom_runs_only_the_public_self_check():
    shell = [s.get("run", "") + s.get("with", {}).get("command", "") for s in steps("classroom.yml")]
    assert all("selfcheck.py" in c for c in shell if "--item" in c)
    for hidden in ("-m grader", "secret", "cases.toml", "holdout", "reference"):
        assert not [c for c in shell if hidden in c]


@pytest.mark.slow
def test_the_classroom_steps_as_written_give_the_reference_full_points_and_the_template_the_graders(tmp_path, rubric):
    """Each autograding step's command, run as written in a student's repository (the unzipped bundle), scored
    as Classroom's command grader scores it: its max-score when the command exits 0, else nothing. (A step
    once asked for an item the self-check refused: exit 2, and every student lost its 10 points.)"""
    with zipfile.ZipFile(build_bundle(MESSMASTER, tmp_path / "bundle.zip", load_rubric())) as archive:
        for name, notebook in (("reference", SOLVED), ("template", TEMPLATE)):
            archive.extractall(tmp_path / name)
            # the graded functions (the reference's, the template's as shipped) and nothing else: seconds a step
            nbformat.write(minimal_notebook(read(notebook)), tmp_path / name / MESSMASTER.SLUG / NOTEBOOK)
    graders = [s for s in steps("classroom.yml") if "autograding-command-grader@" in s.get("uses", "")]
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}  # setup-python's `python`

    def run(repository: Path, step: dict) -> tuple[dict, subprocess.CompletedProcess]:
        done = subprocess.run(
            step["with"]["command"],
            shell=True,
            cwd=repository / MESSMASTER.SLUG,
            env={**env, **step.get("env", {})},
            capture_output=True,
            text=True,
            timeout=step["with"]["timeout"] * 60,
        )
        return step, done

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = {
            name: list(pool.map(lambda step, name=name: run(tmp_path / name, step), graders))
            for name in ("reference", "template")
        }
    points = {
        name: sum(s["with"]["max-score"] for s, done in done_runs if done.returncode == 0)
        for name, done_runs in runs.items()
    }
    failed = {s["id"]: d.stdout[-600:] for s, d in runs["reference"] if d.returncode}
    assert points["reference"] == rubric.automatic_total, failed
    assert points["template"] == TEMPLATE_SCORE, {s["id"]: d.returncode for s, d in runs["template"]}
    # a failing step says why on its own output (the template's loss_fn is a TODO)
    (loss_fn,) = [d for s, d in runs["template"] if s["id"] == "loss_fn"]
    assert loss_fn.returncode == 1 and "NotImplementedError" in loss_fn.stdout
    # not a terminal: plain text; and nothing of Jupyter's own (transports, folders) around the verdicts
    everything = "".join(d.stdout + d.stderr for s, d in runs["reference"])
    assert "\033[" not in everything and "transport" not in everything.lower()


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
