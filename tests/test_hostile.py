"""A corpus of hostile submissions, each trying one thing, graded in the sandbox beside honest ones.

Each is the untouched template (which earns a known, partial score) plus one
attack. The batch must complete, the honest submissions' scores must be what
they are alone, and no attack may earn a point the template does not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import nbformat
import pytest

from examples.build_examples import replace_code
from grader.pipeline import grade_batch
from grader.sandbox import bubblewrap_works

from .conftest import ROOT, append_code

pytestmark = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap cannot run here (CI installs it)")

GRADER_LOOKALIKE = '{"score": 100, "tests": [{"name": "loss_fn.random", "score": 10, "max_score": 10}]}'


def attacks(out: str, port: int) -> dict[str, str]:
    """Attack name -> code appended to the template as its last cell. Paths are filled in at run time."""
    return {
        "read_secret_absolute": f"holdout = open({str(ROOT / 'secret' / 'data' / 'holdout.csv')!r}).read()",
        "read_secret_relative": "import glob\nfound = glob.glob('../**/secret/**', recursive=True)\n"
        "holdout = open('../../secret/data/holdout.csv').read()",
        "import_reference": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom reference.solutions import *",
        "import_grader": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport grader.scoring",
        "patch_comparisons": "import torch, numpy, json, builtins\n"
        "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\njson.dumps = lambda *a, **k: '{\"score\": 100}'\n"
        "builtins.print = lambda *a, **k: None",
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


@pytest.fixture(scope="module")
def hostile_batch(template, solved, quick_rubric, tmp_path_factory):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    folder = tmp_path_factory.mktemp("hostile")
    out = tmp_path_factory.mktemp("hostile-grades")
    nbformat.write(template, folder / "bob.ipynb")
    nbformat.write(solved, folder / "alice.ipynb")
    for name, code in attacks(str(out), server.getsockname()[1]).items():
        nbformat.write(append_code(template, code), folder / f"attack_{name}.ipynb")
    results = {r.name: r for r in grade_batch([folder], out, jobs=2, rubric=quick_rubric, sandbox="required")}
    try:
        server.accept()
        contacted = True
    except OSError:
        contacted = False
    server.close()
    return results, out, contacted


def test_every_submission_was_graded_and_reported(hostile_batch):
    results, out, _ = hostile_batch
    assert len(results) == 2 + len(attacks("", 0))
    for name in results:
        assert json.loads((out / name / "results.json").read_text())["tests"]
    assert results["alice"].status == "graded"


def test_honest_submissions_score_as_they_do_alone(hostile_batch, rubric):
    results, out, _ = hostile_batch
    assert results["alice"].score == rubric.automatic_total
    assert results["bob"].score == 40
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == 40
    assert "bob,100" not in (out / "gradebook.csv").read_text()


@pytest.mark.parametrize("attack", list(attacks("", 0)))
def test_no_attack_earns_a_point(hostile_batch, attack):
    results, _, _ = hostile_batch
    result = results[f"attack_{attack}"]
    assert result.score <= results["bob"].score, result.feedback_markdown()


def test_attacks_fail_for_the_reasons_expected(hostile_batch):
    results, _, contacted = hostile_batch
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
    assert not contacted, "a kernel reached a server on the grader's loopback"
    outputs = {t.name: t.output for t in results["attack_sleeping_function"].tests}
    assert "did not return in time" in outputs["forward.random"]
    assert "subclass of torch.Tensor" in results["attack_tensor_with_patched_eq"].feedback_markdown()
    assert "far too large" in results["attack_huge_array"].feedback_markdown()


def test_fork_bomb_is_contained(template, solved, quick_rubric, tmp_path):
    """Alone with an honest notebook (two kernels at once share two cores: a bomb would starve its neighbour)."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    nbformat.write(append_code(template, bomb), tmp_path / "bomb.ipynb")
    nbformat.write(solved, tmp_path / "alice.ipynb")
    out = tmp_path / "out"
    results = {r.name: r for r in grade_batch([tmp_path], out, jobs=1, rubric=quick_rubric, sandbox="required")}
    assert results["alice"].score == quick_rubric.automatic_total
    assert results["bomb"].score <= 40
    if os.geteuid() == 0:  # kernels run as nobody: after grading not one of the bomb's processes is left
        leftover = subprocess.run(["pgrep", "-u", "nobody"], capture_output=True, text=True).stdout.split()
        assert leftover == []


def test_autograd_in_backward_and_library_loss_earn_nothing(solved, quick_rubric, tmp_path):
    """Rules in the rubric: a hand-written function may not hand its work to PyTorch."""
    autograd = replace_code(
        solved,
        "    y_one_hot = torch.nn",
        "    leaves = [t.detach().requires_grad_(True) for t in (z1,)]\n    y_one_hot = torch.nn",
    )
    library_loss = replace_code(
        solved, "nll = torch.mean(-torch.log(correct_class_prob))", "nll = F.cross_entropy(torch.log(p_y_hat), y)"
    )
    optimizer = replace_code(
        solved,
        "    W1, b1, W2, b2 = params\n",
        "    torch.optim.SGD(params, lr=learning_rate)\n    W1, b1, W2, b2 = params\n",
    )
    for name, notebook in [("autograd", autograd), ("library_loss", library_loss), ("optimizer", optimizer)]:
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    results = {r.name: r for r in grade_batch([tmp_path], tmp_path / "out", jobs=2, rubric=quick_rubric)}
    assert results["autograd"].item_score("backward") == 0
    assert "backward uses requires_grad_" in results["autograd"].feedback_markdown()
    assert results["library_loss"].item_score("loss_fn") == 0
    assert "cross_entropy" in results["library_loss"].feedback_markdown()
    assert results["optimizer"].item_score("sgd_update") == 0
    assert results["autograd"].item_score("forward") == quick_rubric.points["forward"]
