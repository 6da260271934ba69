"""The grader's promises where a kernel is what is tested, proved on one batch graded once, two at a time.

The batch holds the bundled examples and the solved notebook (whole notebooks,
as `make grade` grades them), files that are not notebooks, notebooks that
break their kernel (a syntax error, an endless loop, a kernel that dies), and a
corpus of hostile submissions, each trying one thing. Those are minimal
notebooks: the template's or the reference's graded functions and one more
cell, so each costs a kernel's start and the hidden cases, not three trainings.
Scoring itself is tested in process (test_scoring.py).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from examples.build_examples import OUT as EXAMPLES
from examples.build_examples import replace_code
from grader.pipeline import grade_class
from grader.result import SubmissionStatus
from grader.rubric import AUTOMATIC_ITEMS
from grader.run.sandbox import SandboxMode, bubblewrap_works
from grader.views.feedback import feedback_markdown
from grader.views.gradescope import gradescope_results

from .helpers import ROOT, minimal_notebook, mutant, with_run

pytestmark = pytest.mark.slow
SANDBOXED = bubblewrap_works()
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap cannot run here (CI installs it)")
TEMPLATE_SCORE = 40  # forward, backward and optimizers: what the untouched template earns

GRADER_LOOKALIKE = '{"score": 100, "tests": [{"name": "loss_fn.random", "score": 10, "max_score": 10}]}'


def attacks(out: str, port: int) -> dict[str, str]:
    """Attack name -> the cell added to the template's functions. Paths are filled in at run time."""
    return {
        "read_secret_absolute": f"holdout = open({str(ROOT / 'secret' / 'data' / 'holdout.csv')!r}).read()",
        "read_secret_relative": "import glob\nfound = glob.glob('../**/secret/**', recursive=True)\n"
        "holdout = open('../../secret/data/holdout.csv').read()",
        "import_reference": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom reference.solutions import *",
        "import_grader": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport grader.judge.score",
        "patch_comparisons": "import torch, numpy, json, builtins\n"
        "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
        "json.dumps = lambda *a, **k: '{\"score\": 100}'\nbuiltins.print = lambda *a, **k: None",
        "print_result_markers": f"print({GRADER_LOOKALIKE!r})\nprint('All tests passed! Score: 75/75')",
        "write_output_folder": f"import os\nos.makedirs({out!r} + '/bob', exist_ok=True)\n"
        f"open({out!r} + '/gradebook.csv', 'w').write('name,total\\nbob,100\\n')",
        "write_parent_folder": "open('../results.json', 'w').write('{\"score\": 100}')",
        "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        "os.killpg(os.getpgid(0), signal.SIGKILL)",
        "allocate_30gb": "hog = bytearray(30 * 1024**3)",
        "huge_output": "print('x' * 100_000_000)",
        "open_network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
        "sys_exit": "import sys\nsys.exit(0)",
        "os_exit": "import os\nos._exit(0)",
        "sleeping_function": "import time\ndef forward(X, W1, b1, W2, b2):\n    time.sleep(10**6)",
        "tensor_with_patched_eq": "import torch\nclass Always(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "def loss_fn(p_y_hat, y):\n    return torch.zeros(()).as_subclass(Always)",
        "huge_array": "import torch\ndef loss_fn(p_y_hat, y):\n    return torch.zeros(50_000_000)",
        "infinite_loop": "while True:\n    pass",
    }


BAD_FILES = {
    "not_json": "this is not a notebook\n",
    "empty": "",
    "nbformat3": json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}),
}


@pytest.fixture(scope="session")
def graded_class(solved, template, test_rubric, tmp_path_factory):
    """Grade every notebook these tests need in one batch, two at a time, as an instructor would."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    folder = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    notebooks = {
        "reference": solved,
        "syntax_error": minimal_notebook(
            replace_code(solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = torch.mean((")
        ),
        "repeat_a": minimal_notebook(mutant(solved, "loss_summed")),
        "repeat_b": minimal_notebook(mutant(solved, "loss_summed")),
    }
    # other bytes, the same code: a repeat that the store's cache cannot answer, so it really runs twice
    notebooks["repeat_b"].metadata["repeat"] = "b"
    if SANDBOXED:  # the attacks include an endless cell and a kernel that exits
        notebooks |= {"alice": minimal_notebook(solved), "bob": minimal_notebook(template)}
        for name, code in attacks(str(out), server.getsockname()[1]).items():
            notebooks[f"attack_{name}"] = minimal_notebook(template, code)
    else:
        notebooks["attack_infinite_loop"] = minimal_notebook(template, attacks("", 0)["infinite_loop"])
        notebooks["attack_os_exit"] = minimal_notebook(template, attacks("", 0)["os_exit"])
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    for name, text in BAD_FILES.items():
        (folder / f"{name}.ipynb").write_text(text)
    sandbox = SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    run = grade_class([folder, EXAMPLES], out, test_rubric, jobs=2, sandbox=sandbox)
    try:
        server.accept()
        contacted = True
    except OSError:
        contacted = False
    server.close()
    assert run.errors == [] and run.reused == 0
    return {r.identity.student: r for r in run.results}, out, contacted


def item_scores(result):
    return {item: result.item_score(item) for item in AUTOMATIC_ITEMS}


# ---- whole notebooks, as `make grade` grades them ---------------------------------------------------------


def test_reference_notebook_gets_full_marks_and_runs_cleanly(graded_class, test_rubric):
    result = graded_class[0]["reference"]
    assert item_scores(result) == test_rubric.points, feedback_markdown(result)
    assert result.problems == []


def test_examples_score_as_their_mistakes_say(graded_class, test_rubric):
    out = graded_class[1]
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["alice_correct"]["total"]) == test_rubric.automatic_total
    assert float(rows["bob_untouched_template"]["total"]) == TEMPLATE_SCORE
    assert TEMPLATE_SCORE < float(rows["carol_forgot_sign"]["total"]) < test_rubric.automatic_total
    assert float(rows["dave_summed_loss"]["loss_fn"]) < 10 and float(rows["erin_no_relu_mask"]["backward"]) < 20
    assert "every automatic test passed" in json.loads((out / "alice_correct" / "results.json").read_text())["output"]


def test_written_answers_are_in_the_results_for_reviewers(graded_class, test_rubric):
    report = gradescope_results(graded_class[0]["reference"])
    written = {t["name"]: t for t in report["tests"] if t["name"].startswith("written.")}
    assert set(written) == {f"written.{q}" for q in test_rubric.written}
    assert all(t["score"] == 0 for t in written.values())
    assert "validation set" in written["written.q1a"]["output"]


def test_the_untouched_template_runs_on_past_its_failing_cells(graded_class):
    result = graded_class[0]["bob_untouched_template"]
    assert any("mat1 and mat2 shapes cannot be multiplied" in p for p in result.problems)
    assert result.item_score("optimizers") == 10, "the cells after the failing one must still run"


# ---- what breaks a kernel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_unreadable_files_get_results_with_a_reason(graded_class, name):
    results, out, _ = graded_class
    report = json.loads((out / name / "results.json").read_text())
    assert report["score"] == 0 and "Could not grade" in report["output"]
    assert {t["name"].split(".")[0] for t in report["tests"]} >= set(AUTOMATIC_ITEMS)
    assert results[name].status == SubmissionStatus.UNREADABLE


def test_a_syntax_error_costs_only_what_depends_on_the_cell(graded_class, test_rubric):
    result = graded_class[0]["syntax_error"]
    scores = item_scores(result)
    assert scores["loss_fn"] == 0 and "`loss_fn` is not defined" in feedback_markdown(result)
    assert scores["backward"] == test_rubric.points["backward"]
    assert any("SyntaxError" in p for p in result.problems)


def test_an_endless_cell_is_interrupted_and_the_rest_is_graded(graded_class):
    result = graded_class[0]["attack_infinite_loop"]
    assert result.score == TEMPLATE_SCORE, "the template's functions, defined before the endless cell, are graded"
    assert any("interrupted" in p for p in result.problems)


def test_a_dead_kernel_gives_zero_with_the_reason(graded_class):
    result = graded_class[0]["attack_os_exit"]
    assert result.score == 0
    assert any("kernel died" in p for p in result.problems)
    assert "kernel had died" in gradescope_results(result)["tests"][0]["output"]


def test_grading_the_same_notebook_twice_gives_the_same_results(graded_class):
    _, out, _ = graded_class
    a = json.loads((out / "repeat_a" / "results.json").read_text())
    b = json.loads((out / "repeat_b" / "results.json").read_text())
    assert a["tests"] == b["tests"] and a["score"] == b["score"] < 75


def test_every_submission_has_its_files_and_a_gradebook_row(graded_class):
    results, out, _ = graded_class
    for name in results:
        report = json.loads((out / name / "results.json").read_text())
        assert set(report) >= {"score", "execution_time", "output", "tests"}
        for test in report["tests"]:
            assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
            assert test["name"].split(".")[0] in set(AUTOMATIC_ITEMS) | {"written"}
        assert (out / name / "feedback.md").read_text().startswith("# MessMaster part 2")
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert gradebook[0].startswith("student,name,email,source,total,max,status," + ",".join(AUTOMATIC_ITEMS))
    assert len(gradebook) == 1 + len(results)


def test_a_canvas_zip_of_the_same_notebooks_is_graded_under_canvas_ids_from_the_store(
    graded_class, test_rubric, tmp_path
):
    """The examples handed in through Canvas: same bytes, so the store's results, under each student's user id."""
    import zipfile

    _, out, _ = graded_class
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(EXAMPLES / "alice_correct.ipynb", "alicecorrect_2001_9001_messmaster_part2.ipynb")
        z.write(EXAMPLES / "bob_untouched_template.ipynb", "bobtemplate_LATE_2002_9002_messmaster_part2.ipynb")
    run = grade_class(
        [archive], out, test_rubric, jobs=2, sandbox=SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO
    )
    assert run.reused == 2 and [r.identity.student for r in run.results] == ["2001", "2002"]
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["2001"]["total"]) == test_rubric.automatic_total and rows["2002"]["late"] == "late"
    assert rows["2001"]["name"] == "alicecorrect" and "submissions.zip" in rows["2001"]["source"]
    assert float(rows["2002"]["total"]) == TEMPLATE_SCORE and "reference" in rows


def test_grading_the_class_again_reuses_every_result_without_a_kernel(graded_class, test_rubric):
    """Run last in this module's batch tests: the whole class again, nothing changed, in seconds."""
    results, out, _ = graded_class
    before = (out / "gradebook.csv").read_bytes()
    folder = Path(results["reference"].identity.source).parent
    started = time.monotonic()
    run = grade_class(
        [folder, EXAMPLES],
        out,
        test_rubric,
        jobs=2,
        sandbox=SandboxMode.REQUIRED if SANDBOXED else SandboxMode.AUTO,
    )
    assert run.reused == len(results) and time.monotonic() - started < 60
    assert (out / "gradebook.csv").read_bytes() == before


# ---- hostile submissions, in the sandbox ------------------------------------------------------------------


@needs_sandbox
def test_honest_submissions_beside_attacks_score_as_they_do_alone(graded_class, test_rubric):
    results, out, _ = graded_class
    assert results["alice"].score == test_rubric.automatic_total
    assert results["bob"].score == TEMPLATE_SCORE
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == TEMPLATE_SCORE
    assert "bob,100" not in (out / "gradebook.csv").read_text()


@needs_sandbox
@pytest.mark.parametrize("attack", list(attacks("", 0)))
def test_no_attack_earns_a_point(graded_class, attack):
    result = graded_class[0][f"attack_{attack}"]
    assert result.status == SubmissionStatus.GRADED
    assert result.score <= TEMPLATE_SCORE, feedback_markdown(result)


@needs_sandbox
def test_attacks_fail_for_the_reasons_expected(graded_class):
    results, _, contacted = graded_class
    problems = {name: " ".join(r.problems) for name, r in results.items()}
    assert "FileNotFoundError" in problems["attack_read_secret_absolute"]
    assert "FileNotFoundError" in problems["attack_read_secret_relative"]
    assert "ModuleNotFoundError" in problems["attack_import_reference"]
    assert "ModuleNotFoundError" in problems["attack_import_grader"]
    assert "MemoryError" in problems["attack_allocate_30gb"]
    assert "PermissionError" in problems["attack_write_parent_folder"]
    assert (
        "PermissionError" in problems["attack_write_output_folder"]
        or "FileNotFound" in problems["attack_write_output_folder"]
    )
    assert "interrupted" in problems["attack_infinite_loop"]
    assert "too much" in problems["attack_huge_output"]
    assert "kernel died" in problems["attack_os_exit"]
    assert "PermissionError" in problems["attack_kill_parent"]  # its parent is outside its reach
    assert "messages the grader cannot read" in problems["attack_patch_comparisons"]
    assert not contacted, "a kernel reached a server on the grader's loopback"
    outputs = {t.name: t.output for t in results["attack_sleeping_function"].tests}
    assert "did not return in time" in outputs["forward.random"]


@needs_sandbox
def test_fork_bomb_is_contained(test_rubric, tmp_path):
    """Graded alone (two kernels at once share two cores: a bomb would starve its neighbour)."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(bomb)])
    nbformat.write(notebook, tmp_path / "bomb.ipynb")
    rubric = with_run(test_rubric, cell_timeout=5)  # the bomb's cell runs until this timeout
    (result,) = grade_class([tmp_path], tmp_path / "out", rubric, jobs=1, sandbox=SandboxMode.REQUIRED).results
    assert result.score == 0 and any("interrupted" in p or "kernel" in p for p in result.problems)
    if os.geteuid() == 0:  # kernels run as nobody: after grading not one of the bomb's processes is left
        leftover = subprocess.run(["pgrep", "-u", "nobody"], capture_output=True, text=True).stdout.split()
        assert leftover == []
