"""Start and stop the kernel a submission runs in, apart from running anything in it.

Keeping this separate lets a pool of kernels started ahead of time slot in later.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_client.manager import KernelManager

# What the student's kernel inherits: enough to run Python and nothing of ours.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ")


def kernel_environment(workspace: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(
        HOME=str(workspace),
        MPLBACKEND="agg",
        MPLCONFIGDIR=str(workspace / ".matplotlib"),
        # one thread, so that the same notebook gives the same numbers on every machine
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def start_kernel(workspace: Path) -> KernelManager:
    """A fresh Python kernel whose working folder is `workspace`."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(workspace), env=kernel_environment(workspace))
    return manager


def stop_kernel(manager: KernelManager) -> None:
    """Kill the kernel and its whole process group, whatever state it is in."""
    try:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    except Exception:
        pass  # already gone
    finally:
        manager.cleanup_resources()
