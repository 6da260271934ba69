"""Files written whole: to a temporary file of the writer's own, then moved into place.

A reader never sees half a file, and two writers of one file at once (a TA's desk drawing a page while a
command draws it again) each move a whole file in: the last one's stays.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def replacing(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A text file (UTF-8) that takes `path`'s place when the block ends; removed if the block raises."""
    partial = path.with_name(f"{path.name}.{secrets.token_hex(6)}.partial")  # this writer's own
    try:
        with open(partial, "x", encoding="utf-8", newline=newline) as file:
            yield file
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_whole(path: Path, text: str) -> None:
    """`text` as the whole of `path`."""
    with replacing(path) as file:
        file.write(text)
