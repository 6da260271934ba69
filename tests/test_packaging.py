"""The grader as a package and as a container: `pip install .` gives a command that works from any folder; the
image's entrypoint is the grader or, for Dask's worker specs, a Dask command; the build context is only what
the image copies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from grader import __version__
from grader.cli import version_line

from .helpers import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel `pip install .` builds, installed into a folder of its own (its dependencies: this venv's).

    Built from a copy of the project's own files (what a clean clone has, as in CI): a build/ folder left in the
    working tree by an earlier build keeps modules since removed, and the wheel would carry them."""
    base = tmp_path_factory.mktemp("package")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source = base / "source"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(base / "wheel"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (base / "wheel").glob("messmaster_grader-*.whl")
    target = base / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return target


def run_installed(target, command: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target), "PATH": f"{target / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_command_grades_from_any_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "broken.ipynb").write_text("{not json")
    version = run_installed(installed, ["messmaster-grader", "--version"], elsewhere)
    assert version.returncode == 0 and version.stdout.startswith(f"messmaster-grader {__version__} (grader ")
    graded = run_installed(
        installed, ["messmaster-grader", "grade", "broken.ipynb", "--out", "grades", "--sandbox", "off"], elsewhere
    )
    assert graded.returncode == 1, graded.stderr  # graded, and it needs a look
    assert "not valid JSON" in (elsewhere / "grades" / "broken" / "results.json").read_text()
    assert version.stdout == version_line() + "\n"  # the same grader, rubric and cases: the package holds its data


def test_the_image_entrypoint_is_the_grader_or_a_dask_command(installed, tmp_path):
    entrypoint = str(ROOT / "docker-entrypoint.sh")
    grader = run_installed(installed, [entrypoint, "grade", "--help"], tmp_path)
    assert grader.returncode == 0 and "--change-rubric" in grader.stdout
    env_path = f"{installed / 'bin'}:{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"
    dask = run_installed(installed, ["env", f"PATH={env_path}", entrypoint, "dask", "--version"], tmp_path)
    assert dask.returncode == 0 and "version" in dask.stdout.lower(), dask.stderr  # `dask worker ...` alike


def test_the_build_context_is_what_the_image_copies():
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignored[0] == "*"  # everything out, then what the image needs back in
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if match := re.match(r"COPY (?P<sources>.+) \S+$", line):
            copied |= set(match["sources"].split())
    assert copied == allowed
