"""The students' self-check agrees with the grader, and their bundle holds everything they need and nothing more."""

from __future__ import annotations

import linecache
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import numpy as np
import pandas as pd
import pytest

from examples.build_examples import replace_code
from grader.rubric import load_rubric
from grader.selfcheck.bundle import build_bundle
from reference.build_notebooks import SOURCE, build_notebook
from student_template import selfcheck

from ..helpers import GRADED_FUNCTIONS, MESSMASTER, MM, MUTANTS, ROOT, graded_namespace, mutant, read


def failing_items(notebook: nbformat.NotebookNode) -> set[str]:
    return {o.item for o in selfcheck.run_checks(graded_namespace(notebook)) if not o.passed}


def test_reference_passes_every_check(solved):
    outcomes = selfcheck.run_checks(graded_namespace(solved))
    assert [o for o in outcomes if not o.passed] == []
    assert {o.item for o in outcomes} == set(GRADED_FUNCTIONS.values())


@pytest.mark.parametrize("name", MUTANTS)
def test_every_grader_mutant_fails_the_selfcheck_on_its_item(solved, name):
    function = GRADED_FUNCTIONS[MUTANTS[name][0]]
    outcomes = selfcheck.run_checks(graded_namespace(mutant(solved, name)), [function])
    assert not all(o.passed for o in outcomes)


def test_template_fails_exactly_where_the_planted_bugs_are(template):
    failing = failing_items(template)
    assert {"loss_fn", "init_params", "sgd_update"} <= failing
    assert not {"forward", "backward", "train_with_optimizer"} & failing


def test_messages_name_each_planted_bug_without_giving_its_fix(template):
    """The symptom and where to look, never the corrected code: the fixes are the assignment's to find."""
    messages: dict[str, str] = {}
    for o in selfcheck.run_checks(graded_namespace(template)):
        messages[o.item] = messages.get(o.item, "") + o.message
    assert "W2 has shape (2, 10), not the one init_params' docstring gives it" in messages["init_params"]
    assert "moved *up* the gradient" in messages["sgd_update"]
    assert "NotImplementedError" in messages["loss_fn"] and "still a TODO" in messages["loss_fn"]
    fixes = {
        "init_params": ("(10, 2)", "(h, k)", "randn(h"),
        "sgd_update": ("-=", "theta -"),
        "loss_fn": ("range(N), y",),
    }
    for function, said in fixes.items():
        assert not [fix for fix in said if fix in messages[function]], messages[function]


def test_report_lists_each_check_and_warns_of_hidden_tests(solved):
    text = selfcheck.report(selfcheck.run_checks(graded_namespace(solved), ["backward"]), 0.1)
    assert text.startswith("PASS backward: 20 checks passed") and "hidden tests" in text and "backward 20" in text


def test_optimizers_that_start_apart_fail_the_same_start_check(solved):
    namespace = graded_namespace(solved)
    train = namespace["train_with_optimizer"]
    namespace["train_with_optimizer"] = lambda name, *args, **kwargs: train(
        name, *args, **{**kwargs, "seed": 1 if name == "SGD" else 2}
    )
    messages = [o.message for o in selfcheck.run_checks(namespace, ["train_with_optimizer"]) if not o.passed]
    assert any("Hint (optimizers_start_apart)" in m for m in messages)


def test_a_w2_of_the_wrong_scale_fails_like_w1(solved):
    from examples.build_examples import replace_code

    loud = replace_code(solved, "W2 = torch.randn(h, k, requires_grad=False) * 0.01", "W2 = torch.randn(h, k) * 0.02")
    messages = [o.message for o in selfcheck.run_checks(graded_namespace(loud), ["init_params"]) if not o.passed]
    assert any("W2 has standard deviation" in m for m in messages)


# ---- the bundle --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    path = build_bundle(MESSMASTER, tmp_path_factory.mktemp("dist") / "student.zip", load_rubric())
    unpacked = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(unpacked)
    return path, unpacked / "messmaster-part2"


def solution_lines() -> set[str]:
    """Lines that only the solved notebook has: model answers and fixed code."""
    source = SOURCE.read_text()
    template = {line.strip() for c in build_notebook(source, "template").cells for line in c.source.splitlines()}
    solved = {line.strip() for c in build_notebook(source, "solution").cells for line in c.source.splitlines()}
    return {line for line in solved - template if len(line) > 12 and not line.startswith("#")}


def test_bundle_holds_exactly_the_students_files(bundle):
    path, _ = bundle
    with zipfile.ZipFile(path) as archive:
        names = ["messmaster_part2.ipynb", "util.py", "data/xor_pattern.csv", "selfcheck.py", "selfcheck_cases.npz"]
        names += ["README.md", "Makefile", "requirements.txt"]
        assert sorted(archive.namelist()) == sorted(f"messmaster-part2/{name}" for name in names)


def test_bundle_has_no_hidden_material(bundle):
    path, _ = bundle
    with zipfile.ZipFile(path) as archive:
        texts = {name: archive.read(name).decode() for name in archive.namelist() if not name.endswith(".npz")}
    everything = "\n".join(texts.values())
    lines = solution_lines()
    assert len(lines) > 20
    leaked = [line for line in lines if line in everything]
    assert leaked == []
    holdout = pd.read_csv(ROOT / "secret" / "data" / "holdout.csv").head(50)
    assert not any(f"{r.x1:.6f},{r.x2:.6f}" in everything for r in holdout.itertuples())
    for secret in (
        "BEGIN SOLUTION",
        "cases.toml",
        "holdout.csv",
        "secret/",
        "reference/",
        "import grader",
        "from grader",
    ):
        assert secret not in everything


def test_the_public_cases_hold_values_only_and_none_of_the_hidden_ones(bundle, cases):
    """The shipped numbers: no pickle, no hidden case's inputs, no point of the secret holdout; the only arrays the
    hidden cases share are the notebook's own training split, which the students have."""
    holdout, training_split = MM.cases.holdout, MM.cases.training_split

    _, folder = bundle
    with np.load(folder / "selfcheck_cases.npz", allow_pickle=False) as stored:
        shipped = {name: stored[name] for name in stored.files}
    public = {training_split()[0].tobytes(), training_split()[1].tobytes()}
    hidden = {
        value.tobytes()
        for item_cases in cases.values()
        for case in item_cases
        for value in case.arrays.values()
        if value.tobytes() not in public and value.size >= 8  # a few labels are no secret
    }
    assert hidden and not [name for name, value in shipped.items() if value.tobytes() in hidden]
    secret_points = {tuple(point) for point in holdout()[0]}
    assert not [
        name
        for name, value in shipped.items()
        if value.ndim == 2 and value.shape[1] == 2 and any(tuple(row) in secret_points for row in value)
    ]


def run_selfcheck(folder, notebook: str) -> subprocess.CompletedProcess:
    """The self-check from a shell, as a student runs it: a kernel, the notebook, then every check."""
    return subprocess.run(
        [sys.executable, "selfcheck.py", notebook], cwd=folder, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_unzipped_template_runs_until_its_bug_and_selfcheck_fails_it(bundle):
    _, folder = bundle
    result = run_selfcheck(folder, "messmaster_part2.ipynb")
    assert result.returncode == 1, result.stderr
    assert "mat1 and mat2 shapes cannot be multiplied (800x10 and 2x10)" in result.stdout
    assert "FAIL" in result.stdout and "PASS" in result.stdout and "hidden tests" in result.stdout
    # train_manual's failure is the composed functions': the student is sent to the first of them
    assert "(functions it composes fail their own tests: `init_params`, `loss_fn`, `sgd_update`; fix those first)" in (
        result.stdout
    )
    assert "warning:" not in result.stdout  # every training call of the template passes epochs=EPOCHS
    assert "The self-check took" in result.stdout


def test_the_selfcheck_kernel_starts_as_the_graders_watched_and_collecting_less_often(bundle):
    """The self-check's first cell in its kernel installs the grader's watch and collector setting: at Python's own
    thresholds, the notebook's imports set off six full collections (0.8 s of a 5 s check)."""
    _, folder = bundle
    first_cell = (
        "import gc, sys, _thread, selfcheck; before = _thread.start_new_thread; selfcheck._enter_kernel('.'); "
        "print(gc.get_threshold(), _thread.start_new_thread is not before, '_grader_watch' in sys.modules)"
    )
    seen = subprocess.run([sys.executable, "-c", first_cell], cwd=folder, capture_output=True, text=True)
    assert seen.stdout.split("\n")[0] == "(10000, 10, 10) True True", seen.stderr


@pytest.mark.slow
def test_make_check_runs_with_the_environment_the_readme_sets_up(bundle, tmp_path):
    """After the README's setup steps, `make check` uses .venv's Python, whatever `python` the shell has."""
    import shutil

    folder = shutil.copytree(bundle[1], tmp_path / "student")
    venv_python = folder / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # the environment with the packages
    venv_python.chmod(0o755)
    shell = tmp_path / "shell"
    shell.mkdir()
    (shell / "python").write_text("#!/bin/sh\necho 'the self-check needs `nbformat`' >&2\nexit 3\n")  # none of them
    (shell / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{shell}:/usr/bin:/bin"}
    result = subprocess.run(
        ["make", "check", "NB=messmaster_part2.ipynb"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert "FAIL init_params" in result.stdout and "PASS forward" in result.stdout, result.stdout + result.stderr
    assert "needs" not in result.stderr and result.returncode != 0  # the template fails its checks


def _verdicts(output: str) -> str:
    """The self-check's verdicts, without the seconds it took."""
    kept = [line for line in output.splitlines() if not line.startswith("The self-check took")]
    return re.sub(r"every check, in [\d.]+ s", "every check", "\n".join(kept))


def _wait_until_gone(pid: int) -> None:
    """Wait for a process that is not our child to end (its pidfd turns readable), as long as it takes."""
    import select

    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([descriptor], [], [])
    finally:
        os.close(descriptor)


def _kept_kernels(folder) -> dict[int, str]:
    """The kernels kept ready in a spare folder: pid -> key."""
    found = {}
    for token in folder.glob("spare-*.json"):
        _, key, pid = token.stem.split("-")
        found[int(pid)] = key
    return found


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits on processes by pidfd (Linux)")
def test_a_check_takes_the_kernel_the_last_one_kept_ready_says_the_same_and_ends_it(bundle, tmp_path):
    """The first check from a shell leaves a kernel with the course's packages imported; the next check runs the
    notebook in it (seconds sooner) with the same verdicts, and ends it; --stop ends the one it left in turn. A
    kept kernel holds none of the command's pipes: the command returns while it lives."""
    _, folder = bundle
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "SELFCHECK_SPARE": "1", "TMPDIR": str(temporary)}

    def check() -> subprocess.CompletedProcess:
        command = [sys.executable, "selfcheck.py", "messmaster_part2.ipynb"]
        return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)

    first = check()
    spares = temporary / f"selfcheck-{os.getuid()}"
    (kept,) = _kept_kernels(spares)
    assert "made ready" not in first.stdout
    second = check()
    assert "in a kernel an earlier check had made ready" in second.stdout, second.stdout + second.stderr
    assert (second.returncode, _verdicts(second.stdout)) == (first.returncode, _verdicts(first.stdout))
    assert "FAIL init_params" in second.stdout and "PASS forward" in second.stdout
    _wait_until_gone(kept)  # the check ended the kernel it took, and its folder holds nothing of it
    assert not list(spares.glob(f"*-{kept}*")), sorted(p.name for p in spares.iterdir())
    (left,) = _kept_kernels(spares)
    stopped = subprocess.run(
        [sys.executable, "selfcheck.py", "--stop"], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert stopped.stdout.strip() == "ended 1 kept kernel(s)", stopped.stdout + stopped.stderr
    _wait_until_gone(left)
    assert not _kept_kernels(spares)


def test_a_kept_kernels_token_whose_process_is_gone_is_never_taken_nor_its_number_signalled(tmp_path, monkeypatch):
    """A token left behind (a crash, a reboot) names a number another process may hold now: without the kept
    kernel's lock, no check takes it or signals that process."""
    tmp_path.chmod(0o700)
    token = tmp_path / f"spare-k-{os.getpid()}.json"
    token.write_text(f'{{"pid": {os.getpid()}, "connection_file": "{tmp_path}/kernel-{os.getpid()}.json"}}')
    (tmp_path / f"kernel-{os.getpid()}.lock").write_text("")  # its lock file, held by no one
    assert selfcheck._claim_spare(tmp_path, "k") is None  # and this process, of that number, is still here
    assert not list(tmp_path.iterdir())
    assert selfcheck._claim_spare(tmp_path, "other") is None
    # a claim whose kernel is gone is cleared by --stop, and nothing is signalled
    monkeypatch.setattr(selfcheck, "_spare_folder", lambda: tmp_path)
    (tmp_path / f"claimed-1-{os.getpid()}.json").write_text("{}")
    assert selfcheck.stop_spares() == 0
    assert not list(tmp_path.iterdir())


def test_a_check_starts_no_kept_kernel_beyond_the_cap_or_short_of_memory(tmp_path, monkeypatch):
    """However many bundles, Pythons or checks: at most SPARES_AT_MOST kept kernels wait, and none is started where
    memory is short (each holds hundreds of MiB)."""
    import subprocess as subprocesses

    started = []
    monkeypatch.setattr(subprocesses, "Popen", lambda command, **_: started.append(command))
    monkeypatch.setattr(selfcheck, "_memory_available_mib", lambda: 64_000)
    selfcheck._keep_one_ready(tmp_path, "mine")
    assert len(started) == 1 and started[0][-1] == "mine"
    (tmp_path / "spare-mine-1.json").write_text("{}")
    selfcheck._keep_one_ready(tmp_path, "mine")  # one of its key waits
    (tmp_path / "spare-other-2.json").write_text("{}")
    selfcheck._keep_one_ready(tmp_path, "third")  # two wait, of other keys
    assert len(started) == 1
    (tmp_path / "spare-mine-1.json").unlink()
    monkeypatch.setattr(selfcheck, "_memory_available_mib", lambda: 1000)
    selfcheck._keep_one_ready(tmp_path, "mine")
    assert len(started) == 1
    monkeypatch.setattr(selfcheck, "_memory_available_mib", lambda: 4000)
    selfcheck._keep_one_ready(tmp_path, "mine")
    assert len(started) == 2


def test_kept_kernels_are_only_for_the_same_self_check_python_and_environment(monkeypatch):
    key = selfcheck._spare_key()
    assert selfcheck._spare_key() == key
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert selfcheck._spare_key() != key
    monkeypatch.setenv("SELFCHECK_SPARE", "0")
    assert not selfcheck._spares_wanted()


@pytest.mark.parametrize(
    "present,runs",
    [
        (".venv/bin/python", ".venv/bin/python selfcheck.py a.ipynb"),
        (".venv/Scripts/python.exe", ".venv/Scripts/python.exe selfcheck.py a.ipynb"),  # Windows with make
        (None, "python selfcheck.py a.ipynb"),
    ],
)
def test_make_check_finds_the_environment_on_each_system(tmp_path, present, runs):
    (tmp_path / "Makefile").write_bytes((ROOT / "student_template" / "Makefile").read_bytes())
    if present:
        (tmp_path / present).parent.mkdir(parents=True)
        (tmp_path / present).write_text("")
    quiet = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under `make test`
    result = subprocess.run(
        ["make", "-n", "check", "NB=a.ipynb"], cwd=tmp_path, env=quiet, capture_output=True, text=True
    )
    assert result.stdout.strip() == runs


@pytest.mark.slow
def test_from_the_shell_slow_cells_and_bypassed_epochs_are_told_and_the_kernel_is_gone_on_return(
    bundle, solved, tmp_path
):
    """Over TCP (as on Windows, forced): a slow cell is reported while it runs, a training call that bypasses
    the epochs override is warned of, and nothing of the kernel is printed once the command has returned."""
    _, folder = bundle
    from ..helpers import minimal_notebook

    notebook = minimal_notebook(
        solved,
        "import time\ntime.sleep(2.5)",
        "X = torch.randn(20, 2)\ny = (X[:, 0] > 0).long()\nparams, history = train_manual(X, y, epochs=150)",
    )
    nbformat.write(notebook, folder / "slow.ipynb")
    env = {**os.environ, "SELFCHECK_TRANSPORT": "tcp", "SELFCHECK_SLOW_CELL_SECONDS": "1"}
    result = subprocess.run(
        [sys.executable, "selfcheck.py", "slow.ipynb", "--item", "loss_fn"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"still running cell (\d+) \(`import time`\): 1 s", result.stdout), result.stdout
    assert re.search(r"warning: cell \d+ calls train_manual with epochs=150, not epochs=EPOCHS", result.stdout)
    # the kernel was shut down before the command returned: nothing of it (its output would hold the pipes open)
    assert "Parent appears to have exited" not in result.stderr and "IPKernelApp" not in result.stderr, result.stderr


@pytest.mark.slow
def test_a_notebook_that_ends_its_own_kernel_is_told_in_one_line_naming_the_cell(bundle, solved):
    _, folder = bundle
    from ..helpers import minimal_notebook

    nbformat.write(minimal_notebook(solved, "import os\nos._exit(3)"), folder / "exits.ipynb")
    result = run_selfcheck(folder, "exits.ipynb")
    assert result.returncode == 1
    said = r"the kernel died in cell \d+ \(`import os`\): .*nothing was checked"
    assert re.search(said, result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


@pytest.mark.parametrize(
    "source,warned",
    [
        ("train_manual(X, y, epochs=EPOCHS)", ""),
        ("train_manual(X, y, epochs=50)", ""),
        ("params, h = train_manual(X, y, epochs=10000)", "with epochs=10000"),
        ("h = train_with_optimizer('SGD', X, y)", "with no epochs (the default, 10000)"),
        ("n = 300\nh = train_manual(X, y, epochs=n)", "with epochs=n"),
        ("%time params = train_manual(X, y)", ""),  # a magic line is not Python: left alone
    ],
)
def test_a_training_call_that_bypasses_the_epochs_override_is_warned_of(source, warned):
    warnings = selfcheck.epochs_bypassed([source], 100)
    assert (warnings == []) if not warned else (len(warnings) == 1 and warned in warnings[0])


def test_a_function_whose_cell_raised_is_reported_as_raised_not_as_not_run(solved):
    namespace = graded_namespace(solved)
    del namespace["loss_fn"]
    raised = {"loss_fn": "SyntaxError: invalid syntax (cell 3, line 7)"}
    (outcome,) = [o for o in selfcheck.run_checks(namespace, ["loss_fn"], raised)]
    assert (
        outcome.message
        == "`loss_fn` is not defined: its cell raised SyntaxError: invalid syntax (cell 3, line 7); fix that cell first"
    )
    (outcome,) = selfcheck.run_checks(namespace, ["loss_fn"])
    assert outcome.message == "`loss_fn` is not defined: run its cell first"


def test_a_training_failure_that_follows_from_a_composed_function_says_which_to_fix_first(solved):
    broken = replace_code(solved, "W1 = torch.randn(d, h,", "W1 = torch.randn(h, d,")  # init_params only
    outcomes = selfcheck.run_checks(graded_namespace(broken), ["train_manual"])  # checked alone: the rest quietly
    failed = [o for o in outcomes if not o.passed]
    ends = "(functions it composes fail their own tests: `init_params`; fix those first)."
    assert failed and all(o.message.endswith(ends) for o in failed)
    assert all(o.passed for o in selfcheck.run_checks(graded_namespace(solved), ["train_manual"]))


def test_check_in_a_notebook_prints_plain_verdicts_and_returns_nothing(solved, capsys):
    namespace = graded_namespace(solved)
    exec("from student_template.selfcheck import check\nreturned = check('optimizers')", namespace)
    printed = capsys.readouterr().out
    assert namespace["returned"] is None  # a notebook shows no stray True
    assert "PASS optimizers (train_with_optimizer)" in printed and "\033[" not in printed


def test_a_missing_package_is_one_line_saying_what_to_install(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def without_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_torch)
    monkeypatch.delitem(sys.modules, "torch")
    assert selfcheck._check_and_report({}, "loss_fn", colour=False) is False
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [f"the self-check needs `torch`, which is not installed: {selfcheck.INSTALL}"]


def defined_as_a_notebook_does(namespace: dict, source: str, cell: int) -> dict:
    """Run `source` as a notebook cell runs it: under a cell's name that `inspect` finds the source of."""
    name = f"<notebook cell {cell}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), namespace)
    return namespace


AUTOGRAD_BACKWARD = """
def backward(X, y, z1, a1, p_hat, W2):
    W1 = torch.zeros(X.shape[1], z1.shape[1], requires_grad=True)
    b1 = torch.zeros(z1.shape[1], requires_grad=True)
    W2 = W2.clone().requires_grad_()
    b2 = torch.zeros(W2.shape[1], requires_grad=True)
    z2 = torch.relu(X @ W1 + b1 + z1) @ W2 + b2
    g = (p_hat - F.one_hot(y, p_hat.shape[1]).float()) / y.shape[0]
    return tuple(t.detach() for t in torch.autograd.grad((z2 * g).sum(), [W1, b1, W2, b2]))
"""
OPTIM_SGD_UPDATE = """
def sgd_update(params, grads, learning_rate):
    for p, g in zip(params, grads):
        p.grad = g
    torch.optim.SGD(params, lr=learning_rate).step()
    return params
"""


@pytest.mark.parametrize(
    "item,source,says",
    [("backward", AUTOGRAD_BACKWARD, "backward uses autograd"), ("sgd_update", OPTIM_SGD_UPDATE, "uses optim")],
)
def test_the_self_check_fails_what_the_grader_zeroes_by_rule(solved, item, source, says):
    """Right values by the forbidden road: every value check passes, and the grader scores the item 0."""
    namespace = defined_as_a_notebook_does(graded_namespace(solved), source, 1)
    outcomes = selfcheck.run_checks(namespace, [item])
    failed = [o for o in outcomes if not o.passed]
    assert failed == [o for o in outcomes if o.rule] == outcomes, failed  # every check, as the grader zeroes it
    assert says in failed[0].message
    assert f"The grader scores {item} 0 for this" in selfcheck.report(outcomes, 0.1)


def test_the_self_check_passes_a_hand_written_backward_that_switches_tracking_off(solved):
    source = "_hand = backward\ndef backward(X, y, z1, a1, p_hat, W2):\n    X.requires_grad_(False)\n"
    source += "    return _hand(X, y, z1, a1, p_hat, W2)\n"
    namespace = defined_as_a_notebook_does(graded_namespace(solved), source, 1)
    assert [o for o in selfcheck.run_checks(namespace, ["backward"]) if not o.passed] == []


def test_the_students_requirements_are_the_graders_versions_and_a_front_end_nothing_more(bundle):
    """What the notebook imports and the self-check drives, at the grader's versions, and Jupyter to open it."""
    _, folder = bundle

    def pins(path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==") for line in lines if "==" in line)

    students, runtime = pins(folder / "requirements.txt"), pins(ROOT / "requirements-runtime.txt")
    assert set(students) == {
        "torch", "numpy", "pandas", "scikit-learn", "matplotlib", "nbformat", "nbclient", "ipykernel", "notebook"
    }  # fmt: skip
    assert all(students[name] == version for name, version in runtime.items() if name in students)
    imported = set()
    for cell in read(ROOT / "student_template" / "messmaster_part2.ipynb").cells:
        imported |= set(re.findall(r"^(?:import|from) (\w+)", cell.source, re.MULTILINE))
    imported |= set(re.findall(r"^(?:import|from) (\w+)", (folder / "util.py").read_text(), re.MULTILINE))
    third_party = imported - set(sys.stdlib_module_names) - {"util", "selfcheck"}
    assert {name.replace("sklearn", "scikit-learn") for name in third_party} <= set(students)


def _every_breach() -> dict[str, tuple[str, str]]:
    """Every way of breaking a rule the grader scores zero (test_scoring's): item and code."""
    from .test_scoring import AUTOGRAD_IN_A_HELPER, CHILD_PROCESS_DODGES, RUN_TIME_DODGES

    breaches = {name: (item, code) for name, (item, code, _) in RUN_TIME_DODGES.items()}
    breaches |= {f"process_{name}": ("backward", code) for name, code in CHILD_PROCESS_DODGES.items()}
    breaches["autograd_in_a_helper"] = ("backward", AUTOGRAD_IN_A_HELPER)
    return breaches


@pytest.mark.parametrize("breach", list(_every_breach()))
def test_every_rule_breach_the_grader_zeroes_fails_the_self_check_on_its_item(solved, breach):
    """The self-check records what runs with the grader's own Recording (stamped) and says it in the grader's
    words: no breach passes it, however right the values."""
    item, code = _every_breach()[breach]
    namespace = graded_namespace(solved, "_reference_backward = backward\n", code)
    outcomes = selfcheck.run_checks(namespace, [item])
    failed = [o for o in outcomes if not o.passed]
    assert failed and all(o.item == item for o in failed), [(o.case, o.message) for o in outcomes]
    assert all(o.rule for o in failed) and f"The grader scores {item} 0 for this" in selfcheck.report(outcomes, 0.1)
    assert all(o.passed for o in selfcheck.run_checks(graded_namespace(solved), [item]))  # the reference passes
