"""Every grading of one student, and what their total is made of: `python -m grader history DIR STUDENT`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from grader.cli.common import graded_class as _graded_class
from grader.points import points_text
from grader.result import LATE
from grader.store import ClassStore


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "history",
        help="every grading of one student",
        description="List every grading of STUDENT in the class folder DIR, oldest first, with its versions.",
    )
    command.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    command.add_argument("student", metavar="STUDENT", help="the student's id, as in gradebook.csv")
    command.add_argument("--rubric", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    command.set_defaults(run=history)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _explained_total(store: ClassStore, student: str) -> list[str]:
    """What the student's total is made of now: the grading's points, each adjustment, each written score, the
    late penalty, and the rubric they are under, with who and when."""
    result = store.current(student)
    if result is None:
        return []
    rubric = result.rubric
    lines = [
        f"total now {points_text(result.total)} of {points_text(result.total_max)}: {points_text(result.score)} "
        f"automatic + {points_text(result.written_score)} written - {points_text(result.late_penalty)} late penalty"
    ]
    if (changed := store.rubric_changed()) is not None:
        lines.append(f"  under the class's rubric since {_when(changed)} ({points_text(rubric.total)} points in all)")
    for item in rubric.items:
        lines.append(f"  {item}: {points_text(result.item_score(item))}/{points_text(rubric.items[item].points)}")
        if item in result.adjustments:
            lines.append(f"    adjusted: {result.adjustments[item].says(item)}")
    times = store.written_times(student)
    for question, points in rubric.written.items():
        scored = result.written_scores.get(question)
        if scored is None:
            lines.append(f"  written {question}: awaiting grading ({points_text(points)} points)")
            continue
        who = f", by {scored.by}" if scored.by else ""
        lines.append(
            f"  written {question}: {points_text(scored.score)}/{points_text(points)}{who} on {_when(times[question])}"
        )
    if (late := result.lateness) is not None:
        lines.append(f"  late: {late.says} ({points_text(-result.late_penalty)} points)")
        if LATE in result.adjustments:
            lines.append(f"    adjusted: {result.adjustments[LATE].says(LATE)}")
    return lines


def history(args: argparse.Namespace) -> int:
    with _graded_class(args) as opened:
        if opened is None:
            return 2
        store = opened[0]
        gradings = store.history(args.student)
        removal = store.removal(args.student)
        explained = _explained_total(store, args.student)
    if not gradings:
        print(f"error: {args.student!r} has never been graded in {args.folder}", file=sys.stderr)
        return 1
    print(f"{'run':>4}  {'started':<19}  {'score':>12}  {'status':<12}  {'notebook':<12}  versions, handed in")
    for grading in gradings:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(grading.started))
        versions = f"grader {grading.versions.grader}, rubric {grading.versions.rubric}, cases {grading.versions.cases}"
        reused = f"; reused grading {grading.reused_from}" if grading.reused_from else ""
        handed_in = f"; {grading.handed_in.shown}" if grading.handed_in else ""
        score = f"{points_text(grading.score)}/{points_text(grading.max_score)}"
        print(
            f"{grading.run_id:>4}  {started:<19}  {score:>12}  {grading.status:<12}  {grading.content[:12]:<12}  "
            f"{versions}{handed_in}{reused}"
        )
    print(f"{len(gradings)} grading(s) of {args.student}; the last is current")
    print("\n".join(explained))
    if removed := removal:
        reason, into, made = removed
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(made))
        print(f"taken out of the class{f' (merged into {into})' if into else ''} on {when}: {reason}")
    return 0
