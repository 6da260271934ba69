"""Grade the example submissions on a Dask cluster on this machine: a scheduler and two workers on loopback.

The same command grades on any Dask cluster (Slurm through dask-jobqueue, Kubernetes): only the
scheduler's address changes. Usage: python tools/cluster_demo.py [--out DIR]   (or `make cluster-demo`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dask  # noqa: E402
from distributed import LocalCluster  # noqa: E402

from grader import cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="Grade examples/submissions on a local two-worker Dask cluster.")
    parser.add_argument("--out", default="grades-cluster", help="the class folder (default: grades-cluster)")
    args = parser.parse_args()
    # a task may be lost with its worker once: a submission that kills a second worker is a grader_error
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
    ):
        print(f"scheduler at {cluster.scheduler_address}, 2 workers on loopback")
        return cli.main(
            ["grade", str(ROOT / "examples" / "submissions"), "--out", args.out, "--cluster", cluster.scheduler_address]
        )


if __name__ == "__main__":
    sys.exit(main())
