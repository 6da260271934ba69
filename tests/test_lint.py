"""The code passes its own lint and format checks (`make lint`), in the suite, so that CI catches a slip."""

from __future__ import annotations

import subprocess
import sys

from .helpers import ROOT


def test_ruff_finds_nothing_to_say():
    for command in (["check", "."], ["format", "--check", "."]):
        run = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
