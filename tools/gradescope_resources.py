"""Measure one Gradescope run under Gradescope's default resources: half a CPU and 768 MB, 10 minutes.

Builds the autograder zip, unpacks it under a temporary /autograder stand-in with one submission, and runs
`run_autograder` inside a cgroup holding it to the CPU share and memory given (cgroup v1 or v2; needs root),
as Gradescope's container would. Prints, per submission: wall time, CPU time, peak memory of the whole run
(what the container's limit counts), whether the kernel killed anything for memory, and the score.

By default the run is as in Gradescope's container (Docker's default profile: root without CAP_SYS_ADMIN, so
no bubblewrap and no forked kernels); `--privileged` keeps every capability of this machine. The reference's
numbers are as in the image setup.sh builds: computed once (`python -m grader prepare`, outside the limits, as
the image's build is) into a cache of its own, which each submission gets a copy of (never this machine's own
cache, whose numbers Gradescope's container would not have); `--no-prepare` gives each an empty one instead.

Usage: python tools/gradescope_resources.py [--cpu 0.5] [--memory-mib 768] [--timeout-minutes 10]
       [--privileged] [--no-prepare] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.rubric import load_rubric  # noqa: E402
from tools.build_gradescope import build_gradescope_zip  # noqa: E402

EXAMPLES = ROOT / "examples" / "submissions"
DEFAULT_NOTEBOOKS = (EXAMPLES / "alice_correct.ipynb", EXAMPLES / "bob_untouched_template.ipynb")
CGROUP = Path("/sys/fs/cgroup")


class Cgroup:
    """A cgroup of our own with a CPU share and a memory limit, on cgroup v2 or v1's cpu, cpuacct, memory."""

    def __init__(self, name: str, cpu: float, memory_bytes: int) -> None:
        self.v2 = (CGROUP / "cgroup.controllers").exists()
        period = 100_000
        if self.v2:
            self.folders = {"all": CGROUP / name}
            self.folders["all"].mkdir()
            (self.folders["all"] / "cpu.max").write_text(f"{int(cpu * period)} {period}")
            (self.folders["all"] / "memory.max").write_text(str(memory_bytes))
            (self.folders["all"] / "memory.swap.max").write_text("0")
        else:
            self.folders = {kind: CGROUP / kind / name for kind in ("cpu", "cpuacct", "memory")}
            for folder in self.folders.values():
                if not folder.exists():  # cpu and cpuacct may be one hierarchy
                    folder.mkdir()
            (self.folders["cpu"] / "cpu.cfs_period_us").write_text(str(period))
            (self.folders["cpu"] / "cpu.cfs_quota_us").write_text(str(int(cpu * period)))
            (self.folders["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = self.folders["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))

    def enter_command(self) -> list[str]:
        """A shell prefix that moves itself into the cgroup, then runs the rest."""
        moves = " ; ".join(f"echo $$ > {folder / 'cgroup.procs'}" for folder in set(self.folders.values()))
        return ["sh", "-c", f'{moves} ; exec "$@"', "sh"]

    def peak_memory(self) -> int:
        if self.v2:
            return int((self.folders["all"] / "memory.peak").read_text())
        return int((self.folders["memory"] / "memory.max_usage_in_bytes").read_text())

    def cpu_seconds(self) -> float:
        if self.v2:
            stat = dict(line.split() for line in (self.folders["all"] / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int((self.folders["cpuacct"] / "cpuacct.usage").read_text()) / 1e9

    def oom_kills(self) -> int:
        if self.v2:
            events = dict(line.split() for line in (self.folders["all"] / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
        control = dict(
            line.split() for line in (self.folders["memory"] / "memory.oom_control").read_text().splitlines()
        )
        return int(control.get("oom_kill", 0))

    def remove(self) -> None:
        for folder in set(self.folders.values()):
            for _ in range(50):  # its last processes may take a moment to be gone
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def prepared_image(zip_path: Path, prepare: bool) -> tuple[Path, float]:
    """The reference's numbers setup.sh computes into the image (an empty folder without `prepare`), and the
    seconds it took."""
    image = Path(tempfile.mkdtemp(prefix="gradescope-image-"))
    (image / "reference-cache").mkdir()
    if not prepare:
        return image / "reference-cache", 0.0
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(image / "source")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "grader", "prepare"],
        cwd=image / "source",
        env={**os.environ, "GRADER_CACHE": str(image / "reference-cache")},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return image / "reference-cache", time.monotonic() - started


def measure(notebook: Path, zip_path: Path, cache: Path, args: argparse.Namespace) -> dict:
    base = Path(tempfile.mkdtemp(prefix="gradescope-resources-"))
    base.chmod(0o755)
    root = base / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(notebook, root / "submission")
    shutil.copytree(cache, base / "reference-cache")  # each container starts from the image
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env["GRADER_CACHE"] = str(base / "reference-cache")
    group = Cgroup(f"messmaster-gradescope-{os.getpid()}", args.cpu, args.memory_mib * 1024**2)
    drop = [] if args.privileged else ["setpriv", "--bounding-set=-sys_admin"]
    started = time.monotonic()
    try:
        run = subprocess.run(
            [*group.enter_command(), *drop, "bash", str(root / "source" / "run_autograder")],
            env=env,
            capture_output=True,
            text=True,
            timeout=args.timeout_minutes * 60,
        )
        seconds, timed_out = time.monotonic() - started, False
    except subprocess.TimeoutExpired:
        seconds, timed_out, run = time.monotonic() - started, True, None
    figures = {
        "submission": notebook.stem,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(group.cpu_seconds(), 1),
        "peak_mib": round(group.peak_memory() / 1024**2),
        "oom_kills": group.oom_kills(),
        "timed_out": timed_out,
    }
    group.remove()
    results_file = root / "results" / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    figures["score"] = results.get("score")
    figures["isolation"] = next((p for p in results.get("output", "").split("\n\n") if p.startswith("Isolation")), "")
    if run is not None and run.returncode != 0:
        figures["stderr"] = run.stderr[-500:]
    shutil.rmtree(base, ignore_errors=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, default=list(DEFAULT_NOTEBOOKS))
    parser.add_argument("--cpu", type=float, default=0.5, help="CPUs the run may use (Gradescope's default: 0.5)")
    parser.add_argument("--memory-mib", type=int, default=768, help="memory limit (Gradescope's default: 768)")
    parser.add_argument("--timeout-minutes", type=float, default=10, help="Gradescope's timeout (default: 10)")
    parser.add_argument("--privileged", action="store_true", help="keep CAP_SYS_ADMIN (bubblewrap, forked kernels)")
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="no reference's numbers in the image (as before setup.sh computed them)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("error: cgroups need root", file=sys.stderr)
        return 2
    rubric = load_rubric()
    zip_path = build_gradescope_zip(Path(tempfile.mkdtemp(prefix="gradescope-zip-")) / "autograder.zip")
    print(
        f"limits: {args.cpu:g} CPU, {args.memory_mib} MiB, {args.timeout_minutes:g} min; "
        f"{'privileged' if args.privileged else 'as in Gradescope (no CAP_SYS_ADMIN)'}; the rubric's bound: "
        f"submission_timeout {rubric.run.submission_timeout:g} s + 60 s, in gradescope.timeout_minutes = "
        f"{rubric.gradescope.timeout_minutes:g}"
    )
    cache, seconds = prepared_image(zip_path, not args.no_prepare)
    print(
        f"the image's reference numbers: {len(list(cache.rglob('*.npz')))}"
        + (f", computed in {seconds:.1f} s (`python -m grader prepare`, no limits)" if seconds else "")
    )
    worst = 0.0
    for notebook in args.notebooks:
        figures = measure(notebook, zip_path, cache, args)
        worst = max(worst, figures["seconds"])
        print(json.dumps(figures))
    print(
        f"slowest run: {worst:.1f} s = {worst / (args.timeout_minutes * 60):.2f} of the timeout; "
        f"the rubric's worst case: {rubric.run.submission_timeout + 60:g} s = "
        f"{(rubric.run.submission_timeout + 60) / (rubric.gradescope.timeout_minutes * 60):.2f} of it"
    )
    shutil.rmtree(cache.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
