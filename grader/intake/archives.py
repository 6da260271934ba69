"""Unpack a submitted `.zip` safely into a scratch folder.

Every entry is checked before a byte is written: no absolute path, no `..`,
no link, no device; at most `MAX_ENTRIES` entries, `MAX_FILE_BYTES` a file and
`MAX_TOTAL_BYTES` in all. Sizes are counted on the bytes actually inflated, not
on what the archive claims, so a zip bomb stops at the limit.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionError

MAX_ENTRIES = 20_000
MAX_FILE_BYTES = 200 * 1024**2
MAX_TOTAL_BYTES = 4 * 1024**3
CHUNK = 1024**2


class ArchiveError(SubmissionError):
    """The archive cannot be unpacked; the message says why, for the instructor."""


def _size(count: int) -> str:
    return f"{count / 1024**3:g} GiB" if count >= 1024**3 else f"{count / 1024**2:.0f} MiB"


def _safe_name(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The entry's relative path, None for a folder entry; ArchiveError when it could land outside."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"entry {info.filename!r} has an absolute path")
    if ".." in path.parts:
        raise ArchiveError(f"entry {info.filename!r} points outside the archive's folder")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: written by a tool that records no Unix mode
        raise ArchiveError(f"entry {info.filename!r} is a link or a special file")
    if info.is_dir():
        return None
    return path


def extract_archive(archive: Path, into: Path, max_total_bytes: int = MAX_TOTAL_BYTES) -> Path:
    """Unpack `archive` into the new folder `into` and return it; ArchiveError, with nothing left, when it cannot.

    `max_total_bytes`: what it may inflate in all (less than MAX_TOTAL_BYTES for an archive inside an archive,
    which shares its parent's budget)."""
    try:
        with zipfile.ZipFile(archive) as opened:
            entries = opened.infolist()
            if len(entries) > MAX_ENTRIES:
                raise ArchiveError(f"it has {len(entries)} entries; the limit is {MAX_ENTRIES}")
            names = [(info, _safe_name(info)) for info in entries]
            # what the archive declares is refused before a byte is written; what it hides, while inflating
            declared = sum(info.file_size for info in entries)
            too_big = [info.filename for info in entries if info.file_size > MAX_FILE_BYTES]
            if too_big:
                raise ArchiveError(f"entry {too_big[0]!r} inflates past {MAX_FILE_BYTES // 1024**2} MiB")
            if declared > max_total_bytes:
                raise ArchiveError(f"it inflates past {_size(max_total_bytes)} in all")
            files = [str(relative) for _, relative in names if relative is not None]
            if len(files) != len(set(files)):
                raise ArchiveError("an entry appears twice in it")
            into.mkdir(parents=True)
            total = 0
            for info, relative in names:
                if relative is None:
                    continue
                target = into.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with opened.open(info) as source, open(target, "xb") as sink:
                    while chunk := source.read(CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if written > MAX_FILE_BYTES:
                            raise ArchiveError(f"entry {info.filename!r} inflates past {MAX_FILE_BYTES // 1024**2} MiB")
                        if total > max_total_bytes:
                            raise ArchiveError(f"it inflates past {_size(max_total_bytes)} in all")
                        sink.write(chunk)
    except ArchiveError:
        shutil.rmtree(into, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as error:
        shutil.rmtree(into, ignore_errors=True)
        raise ArchiveError(f"it is not a readable zip archive ({type(error).__name__}: {error})") from None
    return into
