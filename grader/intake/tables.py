"""A CSV file as spreadsheet programs save one: its header and rows, whatever the program's habits.

Excel, LibreOffice, Numbers and Google Sheets save UTF-8 (with or without a byte-order mark), Windows-1252
(Excel's "CSV" outside the US) or UTF-16 ("Unicode text"), with commas, semicolons (where the comma is the
decimal mark) or tabs between cells. Each is read as it was saved; what still cannot be read is refused with
what to change, never with a codec's words.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from grader.errors import GraderError

DELIMITERS = (",", ";", "\t")
SAVE_AS = 'save it from the spreadsheet as "CSV UTF-8 (comma delimited)"'


class TableError(GraderError, ValueError):
    """The file cannot be read as a table; the message says what to change (each reader names the file)."""


def _text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise TableError(f"its text is neither UTF-8 nor Windows-1252; {SAVE_AS}") from None


def _delimiter(first_line: str) -> str:
    """The delimiter that splits the header into the most cells (a comma when none splits it)."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    """The header (stripped), the rows (column -> cell, "" for a missing cell) and the delimiter of `path`."""
    try:
        text = _text(path.read_bytes())
    except OSError as error:
        raise TableError(f"it cannot be opened ({error.strerror or error})") from None
    lines = text.splitlines()
    delimiter = _delimiter(lines[0] if lines else "")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        table = [row for row in reader]
    except csv.Error as error:
        raise TableError(f"it is not a well-formed CSV file ({error}); {SAVE_AS}") from None
    if not table:
        return [], [], delimiter
    header = [cell.strip() for cell in table[0]]
    rows = [{column: (row[i] if i < len(row) else "") for i, column in enumerate(header)} for row in table[1:]]
    return header, rows, delimiter
