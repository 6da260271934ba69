"""The class's files after the desk's decisions, written off the requests: a save answers at once.

A decision marks the students it touched; one thread writes their files and then the class's gradebook and
report, reading the store through a connection of its own (so that a save never waits for pages). It writes
once the saves pause (QUIET seconds without one, and at most MAX_DELAY after the first it has not written),
so that a burst of saves is written once and does not slow the saves it waits for; the last save is always
written after it, so no page is left stale.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path

from grader.store import ClassStore
from grader.views.write import write_class_views, write_submission_views

QUIET = 0.25  # seconds without a save before the pages are written
MAX_DELAY = 2.0  # seconds a marked page may wait at most while saves keep coming


class PageWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.marked: set[str] = set()
        self.writing = False
        self.closing = False
        self.generation = 0  # moves on with every mark: the writer waits for it to stand still
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="desk pages", daemon=True)
        self.thread.start()

    def mark(self, students: list[str]) -> None:
        """The students whose files a decision changed (and so the class's files too)."""
        with self.changed:
            self.marked.update(students)
            self.generation += 1
            self.changed.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every marked file is written; False when `timeout` (seconds) passed first."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.marked and not self.writing, timeout)

    def close(self) -> None:
        """Write what is marked, then stop."""
        with self.changed:
            self.closing = True
            self.changed.notify_all()
        self.thread.join()

    def _run(self) -> None:
        with ClassStore.shared(self.folder) as store:
            while True:
                with self.changed:
                    self.changed.wait_for(lambda: self.marked or self.closing)
                    if not self.marked:
                        return
                    first = time.monotonic()
                    while not self.closing and time.monotonic() - first < MAX_DELAY:
                        seen = self.generation
                        self.changed.wait(QUIET)
                        if self.generation == seen:
                            break
                    students, self.marked, self.writing = sorted(self.marked), set(), True
                try:
                    for student in students:
                        if (result := store.current(student)) is not None:
                            write_submission_views(result, self.folder)
                    write_class_views(store, store.rubric, self.folder)
                except Exception:  # a page that cannot be written now is written with the next decision
                    print(f"warning: the desk could not write the pages of {', '.join(students)}:", file=sys.stderr)
                    traceback.print_exc()
                finally:
                    with self.changed:
                        self.writing = False
                        self.changed.notify_all()
