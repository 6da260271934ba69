"""Start and stop the kernel a submission runs in, apart from running anything in it.

Keeping this separate lets a pool of kernels started ahead of time slot in later.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

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


def start_kernel(workspace: Path) -> AsyncKernelManager:
    """A fresh Python kernel whose working folder is `workspace`.

    Async, as nbclient expects: with a blocking manager a cell that never
    answers would block the client's event loop and its timeout with it.
    """
    manager = AsyncKernelManager(kernel_name="python3")
    run_sync(manager.start_kernel)(cwd=str(workspace), env=kernel_environment(workspace))
    return manager


def stop_kernel(manager: AsyncKernelManager) -> None:
    """Kill the kernel and its whole process group, whatever state it is in."""
    try:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=True)
    except Exception:
        pass  # already gone
    finally:
        run_sync(manager.cleanup_resources)()
