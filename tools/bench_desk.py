"""Measure how long a TA desk save takes to answer, with the class's pages written off the request (as the desk
does) and, side by side in the same run, written inside it (as the desk did before).

Builds a class of N graded students (no kernel: every automatic test passed, a q1a answer each), then, with two
processes burning both cores beside it, saves written scores through the desk's app in process (Starlette's
test client: the request's whole path but the socket) and prints the median and the 95th percentile of the
time to an answer, for both ways, and their ratio. Each way ends with the pages written and checked: the last
save's score is in the gradebook.

Usage: python tools/bench_desk.py [--students 30] [--saves 120]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from starlette.testclient import TestClient  # noqa: E402

from grader.desk.app import Desk, make_app  # noqa: E402
from grader.intake import Identity, Submission  # noqa: E402
from grader.result import SubmissionResult  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.shared.verdicts import TestResult  # noqa: E402
from grader.store import ClassStore, current_versions  # noqa: E402
from grader.views.write import write_all_views, write_class_views, write_submission_views  # noqa: E402


def make_class(folder: Path, students: int) -> list[str]:
    rubric = load_rubric()
    names = [f"s{index:03d}" for index in range(students)]
    with ClassStore.open(folder, rubric) as store:
        versions = current_versions(rubric)
        run = store.begin_run(versions)
        store.set_class_rubric(rubric)
        for student in names:
            result = SubmissionResult(
                Identity(student, name=f"Student {student}"), rubric, written={"q1a": "An answer."}
            )
            result.tests = [TestResult(i, f"{i}.all", s.points, s.points) for i, s in rubric.items.items()]
            store.record(run, Submission(result.identity, None), f"content-{student}", versions, result)
        write_all_views(store, rubric, folder)
    return names


def saves(folder: Path, names: list[str], count: int, in_request: bool) -> list[float]:
    """Seconds to an answer of `count` saves, round the class; pages written off the request or in it."""
    times = []
    with ClassStore.shared(folder) as store:
        desk = Desk(store, folder)
        if in_request:  # the desk before: each save wrote its student's files and the class's, then answered

            def in_the_request(*students: str) -> None:
                for student in students:
                    write_submission_views(store.current(student), folder)
                write_class_views(store, store.rubric, folder)

            desk.render_views = in_the_request
        client = TestClient(make_app(desk))
        client.headers["Authorization"] = f"Bearer {desk.token}"
        versions = {name: 0 for name in names}
        for index in range(count):
            student = names[index % len(names)]
            score = [0.5, 1, 1.5, 2][index % 4]
            started = time.perf_counter()
            answer = client.put(f"/api/scores/q1a/{student}", json={"score": score, "version": versions[student]})
            times.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise SystemExit(f"a save failed: {answer.status_code} {answer.text}")
            versions[student] = answer.json()["version"]
        assert client.get("/api/pages").json() == {"written": True}
        desk.pages.close()
    last = names[(count - 1) % len(names)]
    with open(folder / "gradebook.csv", newline="", encoding="utf-8") as f:
        written = next(row for row in csv.DictReader(f) if row["student"] == last)["written"]
    assert float(written) == [0.5, 1, 1.5, 2][(count - 1) % 4], "the last save's score is not in the gradebook"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--saves", type=int, default=120)
    args = parser.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        figures = {}
        for way, in_request in (("off the request (now)", False), ("in the request (before)", True)):
            with tempfile.TemporaryDirectory(prefix="bench-desk-") as scratch:
                folder = Path(scratch)
                names = make_class(folder, args.students)
                times = saves(folder, names, args.saves, in_request)
            quantiles = statistics.quantiles(times, n=20)
            figures[way] = (statistics.median(times), quantiles[18])
            median, slow = figures[way]
            print(f"pages {way:<24} median {median * 1000:7.1f} ms   95th percentile {slow * 1000:7.1f} ms")
    finally:
        for burner in burners:
            burner.kill()
    now, before = figures["off the request (now)"], figures["in the request (before)"]
    print(
        f"{args.saves} saves over {args.students} students, two cores burning beside: the median save answers "
        f"{before[0] / now[0]:.1f}x sooner, the 95th percentile {before[1] / now[1]:.1f}x"
    )


if __name__ == "__main__":
    main()
