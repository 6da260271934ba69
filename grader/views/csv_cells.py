"""CSV cells a spreadsheet will not run: text that starts like a formula is prefixed with a quote."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.views.whole_files import replacing

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text starting with = + - @, a tab or a carriage return gets a leading `'`; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """A CSV whose every text cell is neutralised, written whole to a temporary file, then moved into place."""
    with replacing(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow([neutralise(h) for h in header])
        writer.writerows([[neutralise(cell) for cell in row] for row in rows])
    return path
