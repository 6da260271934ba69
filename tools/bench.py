"""`make bench`: every speed figure, measured in one run: the self-check, and the grader's throughput beside
bare notebook execution.

- the self-check's function checks on a finished notebook, and the self-check from a shell on a saved
  notebook, kernel start included: the first check, then the next one, in the kernel the first kept ready
  (target: 5 s);
- N copies of the correct example (each with other bytes, so the class store's cache cannot answer them)
  graded with `--jobs` workers into a fresh class folder: seconds per submission, submissions per second
  from start to end and in the steady state (from the first student's results to the last's), CPU seconds
  per submission and memory (see `Descendants`), per worker;
- the same class folder graded again: every submission unchanged, so answered from the store;
- the five examples (a mix: errors, timeouts, a lost kernel);
- a batch of a dozen other copies graded by the command line, as an instructor starts it: the seconds from the
  command's start to the first student's results (target: 3 s) and the batch's rate (target: 1/s), on a warm
  machine (the keeper the gradings before it left, see docs/instructors.md), and cold (GRADER_KEEP_WARM=0);
- a dozen copies run bare by nbclient (as many at once, no sandbox, no hidden cases, the same EPOCHS), and
  autograded by `nbgrader autograde` when it is there (an optional extra that `make bench` installs in a
  venv of its own, `requirements-bench.txt`; not a test dependency).

Usage: .venv/bin/python tools/bench.py [--copies N] [--jobs N]   (about seven minutes; --copies 40: two)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.build_examples import OUT as EXAMPLES  # noqa: E402
from examples.build_examples import fixed_template  # noqa: E402
from grader.assignment import use_assignment  # noqa: E402
from grader.pipeline import grade_class  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.run.sandbox import SandboxMode  # noqa: E402
from grader.selfcheck.bundle import build_bundle  # noqa: E402
from grader.shared.catalogue import inject_parameters  # noqa: E402
from student_template import selfcheck  # noqa: E402

MESSMASTER = use_assignment(ROOT)
TEMPLATE_DIR = MESSMASTER.template_dir

# issue 36's targets, with --jobs 2 on 2 cores
TARGET_PER_SECOND = 2.0
TARGET_CPU_SECONDS = 1.0  # a submission, all processes counted
TARGET_UNCHANGED_PER_SECOND = 100.0
TARGET_TIMES_NBGRADER = 13.0
TARGET_WORKER_MIB = 600.0
TARGET_FIRST_RESULT_SECONDS = 3.0
TARGET_BATCH_PER_SECOND = 1.0
TARGET_SELFCHECK_SECONDS = 5.0
BARE_COPIES = 12  # bare nbclient takes seconds a notebook: a dozen give its rate
BATCH_COPIES = 12  # a small batch from the command line: its first result, and its rate
# memory is read every 5th sample (every second): a process's map walked 5 times a second took a fifth of a core
# from the grader it measured (smaps_rollup walks every page table); CPU ticks, cheap to read, every sample
PSS_EVERY = 5


@dataclass
class Measure:
    what: str
    notebooks: int
    seconds: float
    cpu_seconds: float
    peak_pss_mib: float

    def line(self) -> str:
        return (
            f"{self.what:<44} {self.seconds / self.notebooks:6.2f} s/notebook  {self.notebooks / self.seconds:5.2f}/s  "
            f"{self.cpu_seconds / self.notebooks:6.2f} CPU s/notebook  peak PSS {self.peak_pss_mib:6.0f} MiB"
        )


class Descendants:
    """Samples this process's descendants (workers, fork servers, zygotes, kernels) every 0.2 s, and the zygotes'
    keepers with theirs (a keeper an earlier command left, docs/instructors.md, is no descendant of ours, yet it forks
    this run's zygotes): their summed proportional set size (PSS: shared pages split between their sharers) at its
    peak, and the CPU seconds each used since it was first seen. Workers forked by a fork server are no children of
    ours, so getrusage cannot count them; a sample misses at most a process's last 0.2 s, so the CPU figure is a
    lower bound. The sampling's own CPU (its reading of /proc) is counted apart and left out; memory is read once
    a second (PSS_EVERY)."""

    def __init__(self) -> None:
        self.peak_pss_kib = 0
        self.cpu_ticks: dict[tuple[int, int], int] = {}  # (pid, start time) -> utime + stime
        self.before: dict[tuple[int, int], int] | None = None  # the ticks of those running at the first sample
        self.keepers: dict[tuple[int, int], bool] = {}  # (pid, start time) -> whether it is a zygotes' keeper
        self.sampling_cpu = 0.0  # this thread's own CPU seconds: the measuring's, not the grader's
        self.samples = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.wait(0.2):
            started = time.thread_time()
            self.sample()
            self.sampling_cpu += time.thread_time() - started

    def _is_keeper(self, pid: int, start: int) -> bool:
        if (pid, start) not in self.keepers:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                return False
            self.keepers[(pid, start)] = (
                len(command) > 2 and command[1].endswith(b"zygote.py") and command[2] == b"--keep"
            )
        return self.keepers[(pid, start)]

    def sample(self) -> None:
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
        ours = {os.getpid()} | {pid for pid, fields in stats.items() if self._is_keeper(pid, int(fields[19]))}
        for _ in range(10):  # each round adds a generation
            ours |= {pid for pid, fields in stats.items() if int(fields[1]) in ours}
        ours.discard(os.getpid())
        for pid in ours:
            fields = stats[pid]
            self.cpu_ticks[(pid, int(fields[19]))] = int(fields[11]) + int(fields[12])
        if self.before is None:
            self.before = dict(self.cpu_ticks)
        self.samples += 1
        if self.samples % PSS_EVERY == 1:
            self.peak_pss_kib = max(self.peak_pss_kib, sum(map(_pss_kib, ours)))

    def cpu_seconds(self) -> float:
        before = self.before or {}
        used = sum(ticks - before.get(process, 0) for process, ticks in self.cpu_ticks.items())
        return used / os.sysconf("SC_CLK_TCK")


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def measured(what: str, notebooks: int, work: Callable[[], object]) -> Measure:
    descendants = Descendants()
    own = resource.getrusage(resource.RUSAGE_SELF)
    descendants.sample()  # what runs already (a keeper left by an earlier command): counted from now on
    started = time.perf_counter()
    descendants.thread.start()
    work()
    seconds = time.perf_counter() - started
    descendants.done.set()
    descendants.thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    # this process's own work (the command's part when it grades in process), not the sampling's
    own_cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime - descendants.sampling_cpu
    cpu = own_cpu + descendants.cpu_seconds()
    return Measure(what, notebooks, seconds, cpu, descendants.peak_pss_kib / 1024)


def steady_rate(out: Path) -> float:
    """Submissions per second between the first student's results.json and the last's (start-up left out)."""
    written = sorted(path.stat().st_mtime for path in out.glob("*/results.json"))
    return (len(written) - 1) / (written[-1] - written[0]) if len(written) > 1 else float("nan")


def copies(folder: Path, count: int, first_index: int = 0) -> list[Path]:
    correct = nbformat.read(EXAMPLES / "alice_correct.ipynb", as_version=4)
    paths = []
    for index in range(first_index, first_index + count):
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


@contextmanager
def nbgrader_course(paths: list[Path], epochs: int, nbgrader: str) -> Iterator[Callable[[], object]]:
    """A course folder of its own for `nbgrader autograde` holding the copies (EPOCHS as the grader sets it)
    as submissions, and the command that autogrades them all (it grades one submission at a time). Its kernel
    spec runs this Python, where torch and the course's packages are; nbgrader lives in a venv of its own."""
    with tempfile.TemporaryDirectory(prefix="grader-nbgrader-") as folder:
        course = Path(folder)
        source = course / "source" / "part2"
        (source / "data").mkdir(parents=True)
        for name in ("util.py", "data/xor_pattern.csv"):
            (source / name).write_bytes((TEMPLATE_DIR / name).read_bytes())
        for index, path in enumerate(paths):
            notebook = inject_parameters(nbformat.read(path, as_version=4), {"EPOCHS": epochs})
            if index == 0:
                nbformat.write(notebook, source / "messmaster_part2.ipynb")
            submitted = course / "submitted" / f"s{index:03d}" / "part2"
            submitted.mkdir(parents=True)
            nbformat.write(notebook, submitted / "messmaster_part2.ipynb")
        spec = course / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
        (course / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n")
        command = [os.path.abspath(nbgrader) if os.path.exists(nbgrader) else nbgrader]
        # nbgrader runs its venv's own tools (alembic) by name
        path = os.pathsep.join([os.path.dirname(command[0]), os.environ.get("PATH", "")])
        env = {**os.environ, "JUPYTER_PATH": str(course / "jupyter"), "PATH": path}

        def run(*args: str) -> None:
            done = subprocess.run([*command, *args], cwd=course, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"nbgrader {' '.join(args)} failed: {done.stderr[-2000:]}")

        run("db", "assignment", "add", "part2")
        run("generate_assignment", "part2", "--force")

        def autograde() -> None:
            run("autograde", "part2", "--create", "--force")
            graded = list(course.glob("autograded/*/part2/messmaster_part2.ipynb"))
            if len(graded) != len(paths):
                raise RuntimeError(f"nbgrader autograded {len(graded)} of {len(paths)} submissions")

        yield autograde


def selfcheck_figures() -> None:
    # torch here, not at the top: a grading worker imports the main module again (multiprocessing's spawn), and
    # would hold torch of its own that the grader's workers do not import
    import torch
    import torch.nn.functional as F

    template = nbformat.read(ROOT / "student_template" / "messmaster_part2.ipynb", as_version=4)
    finished = fixed_template(template)
    namespace = {"torch": torch, "F": F, "RANDOM_SEED": 10011}
    for cell in finished.cells:
        if "graded" in cell.metadata.get("tags", []):
            exec(cell.source, namespace)  # our own fixed template, not a submission
    started = time.perf_counter()
    outcomes = selfcheck.run_checks(namespace)
    checks = time.perf_counter() - started
    print(f"self-check, function checks: {checks:.2f} s for {len(outcomes)} checks")
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(build_bundle(MESSMASTER, Path(scratch) / "bundle.zip", load_rubric())) as archive:
            archive.extractall(scratch)
        folder = Path(scratch) / MESSMASTER.SLUG
        nbformat.write(finished, folder / "finished.ipynb")
        (Path(scratch) / "tmp").mkdir()
        # a folder of its own for the kernel the first check keeps ready, ended at the end
        env = {**os.environ, "SELFCHECK_SPARE": "1", "TMPDIR": str(Path(scratch) / "tmp")}
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            command = [sys.executable, "selfcheck.py", "finished.ipynb"]
            subprocess.run(command, cwd=folder, env=env, capture_output=True, check=True)
            seconds.append(time.perf_counter() - started)
            time.sleep(8)  # as a student fixes a line between two checks: the kept kernel has imported by then
        subprocess.run([sys.executable, "selfcheck.py", "--stop"], cwd=folder, env=env, capture_output=True)
    first, second = seconds
    print(
        f"self-check from a shell, kernel start included: the first {first:.1f} s, the next {second:.1f} s (in the "
        f"kernel the first kept ready; target {TARGET_SELFCHECK_SECONDS:g} s)"
    )


def first_result(folder: Path, out: Path, jobs: int, keep_warm: str | None = None) -> tuple[float, float]:
    """A batch graded by the command line as an instructor starts it: seconds from the command's start to the
    first student's results.json, and to its end. `keep_warm`: GRADER_KEEP_WARM for the command ("0": no keeper
    of an earlier command's is used, its own imports everything; None: as the environment says)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out), "--jobs", str(jobs)]
    env = os.environ | ({} if keep_warm is None else {"GRADER_KEEP_WARM": keep_warm})
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = float("nan")
    while process.poll() is None:
        if first != first and next(out.glob("*/results.json"), None):
            first = time.perf_counter() - started
        time.sleep(0.05)
    ended = time.perf_counter() - started
    if first != first:
        first = ended if next(out.glob("*/results.json"), None) else float("nan")
    return first, ended


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=300, help="copies of the correct example (default 300: a class)")
    parser.add_argument("--jobs", type=int, default=2, help="workers, and bare kernels at once (default 2)")
    parser.add_argument(
        "--nbgrader",
        metavar="PATH",
        default=shutil.which("nbgrader"),
        help="nbgrader to compare with (`make bench` installs it in .venv-nbgrader; default: the one on PATH, if any)",
    )
    args = parser.parse_args()
    rubric = load_rubric()
    selfcheck_figures()
    mix = sorted(EXAMPLES.glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as scratch:
        scratch = Path(scratch)
        (scratch / "copies").mkdir()
        same = copies(scratch / "copies", args.copies)

        def grade(paths: list[Path], out: str) -> Callable[[], object]:
            return lambda: grade_class(paths, scratch / out, rubric, jobs=args.jobs, sandbox=SandboxMode.AUTO)

        grader = measured(
            f"grader: {args.copies} copies of the correct one", len(same), grade([scratch / "copies"], "out1")
        )
        steady = steady_rate(scratch / "out1")
        again = measured("grader: the same class again (all unchanged)", len(same), grade([scratch / "copies"], "out1"))
        examples = measured(f"grader: the {len(mix)} examples", len(mix), grade(mix, "out2"))
        (scratch / "batch").mkdir()
        copies(scratch / "batch", BATCH_COPIES, first_index=args.copies)
        # cold: a command that imports everything itself; warm: one that finds the keeper the gradings above kept
        cold_first, cold_seconds = first_result(scratch / "batch", scratch / "out3", args.jobs, keep_warm="0")
        first, batch_seconds = first_result(scratch / "batch", scratch / "out4", args.jobs)
        bare_paths = same[:BARE_COPIES]
        bare = measured(
            f"bare nbclient: {len(bare_paths)} copies (EPOCHS={rubric.run.notebook_epochs})",
            len(bare_paths),
            lambda: run_bare(bare_paths, rubric.run.notebook_epochs, args.jobs),
        )
        others = [bare]
        if args.nbgrader:
            with nbgrader_course(bare_paths, rubric.run.notebook_epochs, args.nbgrader) as autograde:
                others.append(measured(f"nbgrader autograde: {len(bare_paths)} copies", len(bare_paths), autograde))
    for result in (grader, again, examples, *others):
        print(result.line())
    rate = grader.notebooks / grader.seconds
    print(f"grader, steady state (first student's results to the last's): {steady:.2f}/s")
    worker_mib = grader.peak_pss_mib / args.jobs
    per_notebook = grader.seconds / grader.notebooks
    print("\ntargets (issue 36), measured in this run:")

    def target(name: str, value: str, met: bool) -> None:
        print(f"  {'met' if met else 'NOT MET':<8} {name}: {value}")

    target(
        f"{TARGET_PER_SECOND:g} submissions/s from start to end, --jobs {args.jobs}",
        f"{rate:.2f}/s ({steady:.2f}/s steady)",
        rate >= TARGET_PER_SECOND,
    )
    cpu = grader.cpu_seconds / grader.notebooks
    target(f"at most {TARGET_CPU_SECONDS:g} CPU s a submission", f"{cpu:.2f} CPU s", cpu <= TARGET_CPU_SECONDS)
    unchanged = again.notebooks / again.seconds
    target(
        f"unchanged class at {TARGET_UNCHANGED_PER_SECOND:g}/s",
        f"{unchanged:.0f}/s",
        unchanged >= TARGET_UNCHANGED_PER_SECOND,
    )
    for other in others:
        times = (other.seconds / other.notebooks) / per_notebook
        name = other.what.split(":")[0]
        if name.startswith("nbgrader"):
            target(f"{TARGET_TIMES_NBGRADER:g}x nbgrader's autograde", f"{times:.1f}x", times >= TARGET_TIMES_NBGRADER)
        else:
            print(
                f"  (info)   {name}: the grader takes {1 / times:.2f}x its time a notebook (it also sandboxes, runs "
                f"the hidden cases at {rubric.run.grading_epochs} epochs and writes every view)"
            )
    if not args.nbgrader:
        print("  NOT MET  nbgrader: not found (`make bench` installs it in .venv-nbgrader; or pass --nbgrader PATH)")
    target(
        f"a worker under {TARGET_WORKER_MIB:g} MiB (peak PSS of a worker, its zygote and its kernel)",
        f"{worker_mib:.0f} MiB",
        worker_mib < TARGET_WORKER_MIB,
    )
    print(
        f"  (info)   a batch of {BATCH_COPIES} with GRADER_KEEP_WARM=0 (every import its own): first result at "
        f"{cold_first:.1f} s, {BATCH_COPIES / cold_seconds:.2f}/s ({cold_seconds:.1f} s)"
    )
    target(
        f"first result within {TARGET_FIRST_RESULT_SECONDS:g} s of the command's start ({BATCH_COPIES} copies, "
        "the keeper warm)",
        f"{first:.1f} s",
        first <= TARGET_FIRST_RESULT_SECONDS,
    )
    batch_rate = BATCH_COPIES / batch_seconds
    target(
        f"a batch of {BATCH_COPIES} at {TARGET_BATCH_PER_SECOND:g}/s, command start to end",
        f"{batch_rate:.2f}/s ({batch_seconds:.1f} s)",
        batch_rate >= TARGET_BATCH_PER_SECOND,
    )
    print(
        "  (elsewhere) points-only rescoring: tools/bench_rescore.py; one Gradescope submission's memory: "
        "tools/gradescope_resources.py"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
