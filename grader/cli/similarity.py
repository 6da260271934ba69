"""The integrity signals: `python -m grader similarity DIR [--against OLD_DIR ...] [--source FILE ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.integrity import similarity as integrity_signals


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "similarity",
        help="integrity signals: which submissions a person should compare (never proof)",
        description=(
            "Point at pairs of submissions worth comparing: shared code (normalised fingerprints), identical wrong "
            "outputs on the hidden cases, shared phrases in written answers. Writes DIR/similarity.csv, "
            "DIR/similarity.html and a side-by-side page per pair."
        ),
    )
    command.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    command.add_argument(
        "--against", type=Path, nargs="+", default=[], metavar="OLD_DIR", help="earlier terms' class folders"
    )
    command.add_argument(
        "--source",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="known sources a copy may come from (a posted solution, a public notebook, last year's reference): "
        "notebooks or Python files; a student who copied one is shown beside it, even alone",
    )
    command.set_defaults(run=similarity)


def similarity(args: argparse.Namespace) -> int:
    found = integrity_signals(args.folder, args.against, args.source)
    earlier = f" and {found.earlier} of earlier terms" if found.earlier else ""
    print(
        f"compared {found.compared} submission(s){earlier}: {len(found.flagged)} pair(s) worth a look, in "
        f"{found.csv} and {found.csv.with_suffix('.html')} (a reason to look, never proof)"
    )
    return 0
