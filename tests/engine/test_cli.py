"""The command line's wiring, without kernels: arguments reach the pipeline, each failure exits as promised."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader import cli, pipeline
from grader.intake import Identity
from grader.pipeline import ClassRun
from grader.result import SubmissionResult, SubmissionStatus
from grader.run.sandbox import SandboxMode
from grader.shared.verdicts import TestResult

from ..helpers import ROOT, RUBRIC_FILE


@pytest.fixture
def recorded(monkeypatch, rubric):
    """Replace the pipeline by a recorder that returns one result per call, with the status asked for."""
    calls = []
    status = {"value": SubmissionStatus.GRADED}

    def grade_class(paths, out, rubric, jobs, sandbox, force, roster, cluster, accept_older, change_rubric, extensions):
        calls.append(
            {
                "accept_older": accept_older,
                "change_rubric": change_rubric,
                "paths": paths,
                "out": out,
                "rubric": rubric,
                "jobs": jobs,
                "sandbox": sandbox,
                "force": force,
                "roster": roster,
                "cluster": cluster,
            }
        )
        result = SubmissionResult(Identity("ada"), rubric, status=status["value"])
        result.tests = [TestResult("loss_fn", "loss_fn.random", 2.5, 2.5)]
        return ClassRun(results=[result], errors=status.get("errors", []))

    monkeypatch.setattr(cli.grade, "grade_class", grade_class)
    monkeypatch.setattr(cli.common, "sandbox_works", lambda: True)
    return calls, status


def test_arguments_reach_the_pipeline(recorded, tmp_path, capsys):
    calls, _ = recorded
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\nada,Ada Lovelace\n")
    code = cli.main(
        [
            "grade",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--jobs",
            "2",
            "--timeout",
            "42",
            "--force",
            "--roster",
            str(roster),
            "--accept-older",
        ]
    )
    assert code == 0
    (call,) = calls
    assert call["accept_older"] is True
    assert call["paths"] == [tmp_path] and call["out"] == tmp_path / "out" and call["jobs"] == 2
    assert call["force"] is True and call["roster"][0].name == "Ada Lovelace"
    assert call["sandbox"] == SandboxMode.AUTO and call["rubric"].run.notebook_timeout == 42
    printed = capsys.readouterr().out
    assert "ada" in printed and "graded 1 student(s)" in printed and "automatic points mean 2.5" in printed


def test_a_grader_error_exits_1_and_names_the_submission_with_the_command_that_grades_it_again(
    recorded, tmp_path, capsys
):
    _, status = recorded
    status["value"] = SubmissionStatus.GRADER_ERROR
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--force"]) == 1
    said = capsys.readouterr().err
    assert "the grader failed on 1 submission(s), after trying again: ada" in said
    # a grader error is never reused, so the command without --force grades just those again
    again = said.split("to grade just these again (the others are kept as they are): ")[1].strip()
    assert again.endswith(f" -m grader grade {tmp_path} --out {tmp_path / 'out'}")


@pytest.mark.parametrize(
    "extra,says",
    [
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--timeout", "-5"], "--timeout must be a positive"),
        (["--rubric", "nowhere.toml"], "cannot use the rubric"),
        (["--roster", "nowhere.csv"], "cannot use the roster"),
    ],
)
def test_bad_arguments_exit_2_before_grading(recorded, tmp_path, capsys, extra, says):
    calls, _ = recorded
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), *extra]) == 2
    assert says in capsys.readouterr().err and calls == []


def test_an_unreadable_archive_exits_1_after_grading_the_rest(recorded, tmp_path, capsys):
    _, status = recorded
    status["errors"] = ["export.zip: cannot unpack the archive: it is not a readable zip archive"]
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "export.zip: cannot unpack" in captured.err and "ada" in captured.out


def test_a_class_folder_in_use_is_refused(rubric, tmp_path, capsys):
    from grader.store import ClassStore

    with ClassStore.open(tmp_path / "out", rubric):
        assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--sandbox", "off"]) == 2
        assert "is being graded by process" in capsys.readouterr().err
        assert cli.main(["export", "canvas", str(tmp_path / "out"), "--out", str(tmp_path / "c.csv")]) == 2


def test_a_missing_path_exits_2(recorded, tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_rubric_that_does_not_add_up_exits_2(recorded, tmp_path, capsys):
    bad = tmp_path / "rubric.toml"
    bad.write_text(RUBRIC_FILE.read_text().replace("total = 100", "total = 90"))
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--rubric", str(bad)]) == 2
    assert "add up to 100" in capsys.readouterr().err


def test_required_sandbox_without_any_sandbox_exits_2_and_auto_warns(recorded, monkeypatch, tmp_path, capsys):
    calls, _ = recorded
    monkeypatch.setattr(cli.common, "sandbox_works", lambda: False)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--sandbox", "required"]) == 2
    assert "--sandbox=required, but bubblewrap" in capsys.readouterr().err and calls == []
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert "WARNING: Submissions run with resource limits only" in capsys.readouterr().err


def test_usage_names_every_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    usage = capsys.readouterr().out
    for option in (
        "--out DIR",
        "--jobs N",
        "--timeout SECONDS",
        "--sandbox",
        "--rubric FILE",
        "PATH",
        "--force",
        "--roster FILE",
    ):
        assert option in usage


def test_the_module_entry_point_grades_an_unreadable_file_and_writes_every_file(tmp_path):
    """The real `python -m grader`, end to end, on input that needs no kernel."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.ipynb").write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(tmp_path / "in"), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr  # someone needs a look
    report = json.loads((tmp_path / "out" / "broken" / "results.json").read_text())
    assert report["score"] == 0 and "not valid JSON" in report["output"]
    assert "1 student(s) handed in nothing that can be graded (their feedback says why): broken" in result.stdout
    assert (tmp_path / "out" / "broken" / "feedback.md").exists()
    gradebook = (tmp_path / "out" / "gradebook.csv").read_text()
    assert gradebook.startswith("student,name,email,source,total,max,status,loss_fn") and "\nbroken,," in gradebook
    assert (tmp_path / "out" / "grades.sqlite").exists()


def test_a_script_calling_the_grader_unguarded_ends_with_the_reason_instead_of_starting_workers_forever(tmp_path):
    """Each grading worker imports the script that started the grading again: unguarded, the script's call ran again
    in every worker as it started, each died, and fresh workers were started forever (121 in a minute). Now the
    call refuses inside a starting worker, saying why, and workers that keep dying as they start end the run: the
    student's results say so, and the script goes on."""
    notebook = tmp_path / "alice.ipynb"
    notebook.write_bytes((ROOT / "examples" / "submissions" / "alice_correct.ipynb").read_bytes())
    script = tmp_path / "grade.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from grader.assignment import use_assignment\n"
        f"use_assignment(Path({str(ROOT)!r}))\n"
        "from grader.pipeline import grade_class\n"
        "from grader.rubric import load_rubric\n"
        f"grade_class([Path({str(notebook)!r})], Path({str(tmp_path / 'out')!r}), load_rubric(), jobs=2)\n"
        "print('returned')\n"
    )
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.count("returned") == 1, done.stderr[-2000:]
    assert pipeline.UNGUARDED_SCRIPT in done.stderr
    assert f"the grading workers died as they started, {pipeline.WORKER_ATTEMPTS} times" in done.stderr
    results = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    assert results["score"] == 0 and "died as they started" in results["output"]


def _fork_servers_of(pid: int) -> list[str]:
    """The command lines of `pid`'s children that are multiprocessing fork servers."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and "multiprocessing.forkserver" in command:
            found.append(command)
    return found


def test_a_grade_command_starts_its_workers_fork_server_before_its_own_imports(tmp_path):
    """`python -m grader grade` starts the fork server that forks its workers first thing (it imports the grader
    on another core while the command does): even a class with nothing to run has had one, preloading what the
    pipeline asks for. Seen from /proc while the command runs (the server lives as long as the command)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.ipynb").write_text("{not json")
    command = [sys.executable, "-m", "grader", "grade", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[str] = []
    while process.poll() is None and not seen:
        seen = _fork_servers_of(process.pid)
    process.wait(timeout=120)
    assert seen and "['grader.pipeline']" in seen[0], seen
    assert pipeline.__name__ == "grader.pipeline"  # what _grade_in_workers preloads: the server is the same


def test_ctrl_c_says_what_was_kept_and_exits_130(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.grade, "grade_class", interrupted)
    monkeypatch.setattr(cli.common, "sandbox_works", lambda: True)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 130
    assert "run the same command again" in capsys.readouterr().err


def test_version_names_the_package_and_what_decides_grades(capsys):
    import tomllib

    from grader import __version__
    from grader.rubric import load_rubric
    from grader.store import current_versions

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    versions = current_versions(load_rubric())
    assert capsys.readouterr().out == (
        f"messmaster-grader {__version__} (grader {versions.grader}, default rubric {versions.rubric}, "
        f"hidden cases {versions.cases})\n"
    )
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == __version__


def test_every_error_of_the_grader_has_one_base_and_the_cli_catches_it_once(monkeypatch, tmp_path, capsys):
    """One GraderError base carries each error's exit code; the command line prints and exits with it."""
    import ast
    import importlib
    import inspect

    from grader.errors import GraderError, SubmissionError

    apart = {"kernel_probe.py", "zygote.py", "recording.py", "runner.py"}  # run apart from the grader: none of ours
    found = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        if path.name in apart:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.bases:
                module = "grader." + ".".join(path.relative_to(ROOT / "grader").with_suffix("").parts)
                cls = getattr(importlib.import_module(module.removesuffix(".__init__")), node.name)
                if inspect.isclass(cls) and issubclass(cls, BaseException):
                    found.append(cls)
    assert len(found) >= 12 and all(issubclass(cls, GraderError) for cls in found), found

    class Refused(SubmissionError):
        says = "refused: "

    def refuse(args):
        raise Refused("the reason")

    monkeypatch.setattr(cli.history, "history", refuse)
    assert cli.main(["history", str(tmp_path), "ada"]) == 1
    assert capsys.readouterr().err == "error: refused: the reason\n"


def test_a_points_only_change_of_rubric_needs_no_submissions(recorded, tmp_path, capsys):
    calls, _ = recorded
    assert cli.main(["grade", "--out", str(tmp_path / "out")]) == 2
    assert "name the submissions to grade (PATH...)" in capsys.readouterr().err and calls == []
    assert cli.main(["grade", "--out", str(tmp_path / "out"), "--change-rubric"]) == 0
    assert calls[0]["paths"] == [] and calls[0]["change_rubric"] is True
    assert "under the new rubric (no kernel)" in capsys.readouterr().out


def test_prepare_needs_a_cache_and_fails_when_the_solved_notebook_loses_points(monkeypatch, tmp_path, capsys):
    """`prepare` (Gradescope's setup.sh) keeps the reference's numbers for every later grading: with the cache off
    there is nothing to do, and a solved notebook short of full marks is a broken assignment, said at setup."""
    from grader.assignment import current_assignment
    from grader.cli import prepare

    monkeypatch.setenv("GRADER_CACHE", "off")
    assert cli.main(["prepare"]) == 2
    assert "the reference cache is off" in capsys.readouterr().err
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))

    def graded(folder, rubric, sandbox):
        assert [path.name for path in folder.iterdir()] == [current_assignment().solved_notebook.name]
        result = SubmissionResult(Identity("submission"), rubric)
        result.tests = [TestResult("loss_fn", "loss_fn.random", 0.0, rubric.automatic_total, problem="wrong")]
        return result

    monkeypatch.setattr(prepare, "grade_one_folder", graded)
    assert cli.main(["prepare", "--sandbox", "off"]) == 1
    said = capsys.readouterr()
    assert "the solved notebook: 0/" in said.out and "0 of the reference's numbers kept" in said.out
    assert "the assignment is broken: loss_fn.random: wrong" in said.err
