"""The class store: every grading of a class in one SQLite file, `DIR/grades.sqlite`; the one writer of results.

`schema.py` holds its one schema and the numbered steps that bring a store of an earlier day to it;
`versions.py` what decides a grade besides the notebook; `classstore.py` the store itself (gradings, their
evidence, the class's rubric, settings (its assignment among them), roster, extensions, written scores,
pseudonyms, identities);
`reading.py` a class read without its lock (an earlier term's, for the integrity signals).
"""

from grader.store.classstore import ClassStore, Grading, StudentRow
from grader.store.reading import ASSIGNMENT_SETTING, class_assignment_of, class_rubric_of, current_work_of
from grader.store.schema import CURRENT_GRADINGS, LOCK_FILE, STORE_FILE, StoreBusy, StoreMissing, StoreTooNew
from grader.store.versions import Versions, content_hash, current_versions

__all__ = [
    "ASSIGNMENT_SETTING",
    "CURRENT_GRADINGS",
    "LOCK_FILE",
    "STORE_FILE",
    "ClassStore",
    "Grading",
    "StoreBusy",
    "StoreMissing",
    "StoreTooNew",
    "StudentRow",
    "Versions",
    "class_assignment_of",
    "class_rubric_of",
    "content_hash",
    "current_versions",
    "current_work_of",
]
