"""The TA desk over a class: `python -m grader desk DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_to(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "desk",
        help="the TA desk: grade written answers and adjust automatic items in a browser",
        description=(
            "Serve the TA desk over the class in DIR. The first line printed is its address with a fresh token; "
            "open it in a browser. A grading run may go on meanwhile. Ctrl-C stops it."
        ),
    )
    command.add_argument("folder", type=Path, metavar="DIR", help="the class folder graded into")
    command.add_argument("--host", default="127.0.0.1", help="where to listen (default: this machine only)")
    command.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0 takes a free one)")
    command.set_defaults(run=serve_the_desk)


def serve_the_desk(args: argparse.Namespace) -> int:
    from grader.desk.app import serve_desk  # the web stack is imported only for the desk

    try:
        serve_desk(args.folder, args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port} ({error.strerror or error})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
