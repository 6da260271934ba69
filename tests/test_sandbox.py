"""What a submission's kernel can see and do, probed from inside a real sandboxed kernel."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from grader.run.execute import CellStatus, NotebookRunner
from grader.run.kernel import start_kernel, stop_kernel
from grader.run.sandbox import SandboxMode, SandboxPolicy, bubblewrap_works

from .helpers import ROOT

pytestmark = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap cannot run here (CI installs it)")

PROBE = """
import json, os, resource, socket
seen = {
    "uid": os.getuid(),
    "env": sorted(os.environ),
    "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
    "visible": {p: os.path.exists(p) for p in PATHS},
    "repository": sorted(os.listdir(REPOSITORY)) if os.path.isdir(REPOSITORY) else [],
    "writable_parent": os.access("..", os.W_OK),
}
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    seen["network"] = "connected"
except OSError as error:
    seen["network"] = type(error).__name__
try:
    bytearray(30 * 1024**3)
    seen["big_allocation"] = "succeeded"
except MemoryError:
    seen["big_allocation"] = "MemoryError"
with open("seen.json", "w") as f:
    json.dump(seen, f)
"""


@pytest.fixture(scope="module")
def seen_from_inside(tmp_path_factory, rubric):
    """Run the probe in a sandboxed kernel while a TCP server listens on the grader's loopback."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    out_folder = tmp_path_factory.mktemp("grades")
    paths = [str(ROOT / "secret"), str(ROOT / "reference"), str(ROOT / "grader"), str(out_folder)]
    scratch = tmp_path_factory.mktemp("sandbox")
    workspace = scratch / "work"
    workspace.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"PATHS = {paths!r}\nPORT = {port}\nREPOSITORY = {str(ROOT)!r}\n" + PROBE)
    ]
    os.environ["MESSMASTER_GRADER_ONLY"] = "1"  # must not leak into the kernel
    manager = start_kernel(workspace, SandboxPolicy.from_limits(rubric.limits, SandboxMode.REQUIRED))
    try:
        with NotebookRunner(manager, notebook, cell_timeout=60) as runner:
            run = runner.run_cell(notebook.cells[0], 0, 60)
    finally:
        stop_kernel(manager)
        del os.environ["MESSMASTER_GRADER_ONLY"]
    try:
        server.accept()
        connected = True
    except OSError:
        connected = False
    server.close()
    assert run.status == CellStatus.OK, run.error
    return json.loads((workspace / "seen.json").read_text()), connected


@pytest.mark.slow
def test_repository_grader_and_output_folder_are_invisible(seen_from_inside):
    seen, _ = seen_from_inside
    assert seen["visible"] and not any(seen["visible"].values()), seen["visible"]
    # of the repository only the Python environment is there (when it lives inside it)
    assert set(seen["repository"]) <= {".venv"}


@pytest.mark.slow
def test_no_network_to_the_grader_machine(seen_from_inside):
    seen, connected = seen_from_inside
    assert seen["network"] != "connected" and not connected


@pytest.mark.slow
def test_kernel_runs_as_nobody_with_the_rubrics_limits(seen_from_inside, rubric):
    seen, _ = seen_from_inside
    if os.geteuid() == 0:
        assert seen["uid"] == 65534
    assert seen["nproc"] == rubric.limits.processes
    assert seen["address_space"] == rubric.limits.memory_gib * 1024**3
    assert seen["fsize"] == rubric.limits.file_mib * 1024**2
    assert seen["big_allocation"] == "MemoryError"


@pytest.mark.slow
def test_environment_is_scrubbed_and_parent_folder_read_only(seen_from_inside):
    seen, _ = seen_from_inside
    assert "MESSMASTER_GRADER_ONLY" not in seen["env"]
    # of the grader's own variables only the harmless ones pass; the kernel's own settings
    # (kernel_environment) and ipykernel's few may share a name with the grader's
    from pathlib import Path

    from grader.run.kernel import kernel_environment

    ours = set(kernel_environment(Path("/workspace")))
    leaked = set(seen["env"]) & set(os.environ) - ours
    assert leaked <= {"PATH", "LANG", "LC_ALL", "TZ", "PWD", "TERM", "FORCE_COLOR", "CLICOLOR_FORCE"}
    assert seen["writable_parent"] is False


def test_required_sandbox_is_refused_when_bubblewrap_is_missing(monkeypatch, rubric):
    from grader.run import sandbox

    monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)
    with pytest.raises(sandbox.SandboxUnavailable, match="required"):
        sandbox.use_bubblewrap(SandboxPolicy.from_limits(rubric.limits, SandboxMode.REQUIRED))
    assert sandbox.use_bubblewrap(SandboxPolicy.from_limits(rubric.limits, SandboxMode.AUTO)) is False


def test_the_kernels_limits_are_the_rubrics(rubric):
    from grader.run.sandbox import limits_prefix

    prefix = " ".join(limits_prefix(SandboxPolicy.from_limits(rubric.limits, SandboxMode.OFF)))
    assert f"--nproc={rubric.limits.processes}" in prefix and f"--cpu={rubric.limits.cpu_seconds}" in prefix
    assert f"--as={int(rubric.limits.memory_gib * 1024**3)}" in prefix
