"""`make bench`: the grader's throughput, measured in one run beside bare notebook execution.

Grades N copies of the correct example (each with other bytes, so the class
store's cache cannot answer them) and the five examples with `--jobs`
workers, each into a fresh class folder, then runs the same notebooks bare
with nbclient (as many at once, no sandbox, no hidden cases) and, when it is
installed, `nbgrader autograde` (an optional extra, not a test dependency).
Prints seconds per submission, submissions per second, CPU seconds per
submission (this process and every child it waited for: workers, kernels),
the peak memory of the largest child (a worker or a kernel), and the ratios.

Usage: .venv/bin/python tools/bench.py [--copies N] [--jobs N]   (about two minutes)
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.build_examples import OUT as EXAMPLES  # noqa: E402
from grader.pipeline import TEMPLATE_DIR, grade_class  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.run.sandbox import SandboxMode  # noqa: E402
from grader.shared_with_selfcheck import inject_parameters  # noqa: E402

TARGET_PER_SECOND = 1.0  # issue 11: one submission a second with --jobs 2 on 2 cores


@dataclass
class Measure:
    what: str
    notebooks: int
    seconds: float
    cpu_seconds: float
    peak_mib: float

    def line(self) -> str:
        return (
            f"{self.what:<44} {self.seconds / self.notebooks:6.2f} s/notebook  {self.notebooks / self.seconds:5.2f}/s  "
            f"{self.cpu_seconds / self.notebooks:6.2f} CPU s/notebook  peak {self.peak_mib:6.0f} MiB"
        )


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(what: str, notebooks: int, work) -> Measure:
    cpu, started = _cpu(), time.perf_counter()
    work()
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far, in MiB
    return Measure(what, notebooks, seconds, cpu, peak)


def copies(folder: Path, count: int) -> list[Path]:
    correct = nbformat.read(EXAMPLES / "alice_correct.ipynb", as_version=4)
    paths = []
    for index in range(count):
        correct.metadata["bench_copy"] = index  # other bytes, the same code
        paths.append(folder / f"copy_{index:03d}.ipynb")
        nbformat.write(correct, paths[-1])
    return paths


def run_bare(paths: list[Path], epochs: int, jobs: int) -> None:
    """Each notebook executed by nbclient in a plain kernel, `jobs` at a time, with the grader's EPOCHS."""

    def one(path: Path) -> None:
        notebook = inject_parameters(nbformat.read(path, as_version=4), {"EPOCHS": epochs})
        with tempfile.TemporaryDirectory() as folder:
            for name in ("util.py", "data/xor_pattern.csv"):
                (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / name).write_bytes((TEMPLATE_DIR / name).read_bytes())
            client = NotebookClient(notebook, timeout=600, allow_errors=True, resources={"metadata": {"path": folder}})
            client.execute()

    with ThreadPoolExecutor(max_workers=jobs) as pool:  # the kernels are processes: threads suffice here
        list(pool.map(one, paths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=12, help="copies of the correct example (default 12)")
    parser.add_argument("--jobs", type=int, default=2, help="workers, and bare kernels at once (default 2)")
    args = parser.parse_args()
    rubric = load_rubric()
    mix = sorted(EXAMPLES.glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="messmaster-bench-") as scratch:
        scratch = Path(scratch)
        (scratch / "copies").mkdir()
        same = copies(scratch / "copies", args.copies)
        results = [
            measured(
                f"grader: {args.copies} copies of the correct one",
                len(same),
                lambda: grade_class(
                    [scratch / "copies"], scratch / "out1", rubric, jobs=args.jobs, sandbox=SandboxMode.AUTO
                ),
            ),
            measured(
                f"grader: the {len(mix)} examples",
                len(mix),
                lambda: grade_class(mix, scratch / "out2", rubric, jobs=args.jobs, sandbox=SandboxMode.AUTO),
            ),
            measured(
                f"bare nbclient: the copies (EPOCHS={rubric.run.notebook_epochs})",
                len(same),
                lambda: run_bare(same, rubric.run.notebook_epochs, args.jobs),
            ),
        ]
    for result in results:
        print(result.line())
    grader, bare = results[0], results[2]
    print(
        f"grader / bare nbclient: {grader.seconds / bare.seconds:.2f}x the time for the same notebooks "
        "(the grader also sandboxes, runs the hidden cases at "
        f"{rubric.run.grading_epochs} epochs and writes every view)"
    )
    if importlib.util.find_spec("nbgrader") is None:
        print("nbgrader: not installed (an optional extra; its `autograde` is not compared here)")
    else:
        print("nbgrader: installed, but its `autograde` (which needs a course folder) is not compared here yet")
    rate = grader.notebooks / grader.seconds
    print(f"target {TARGET_PER_SECOND:g}/s with --jobs {args.jobs}: {rate:.2f}/s, {rate / TARGET_PER_SECOND:.0%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
