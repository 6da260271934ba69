"""The class store's one schema and its numbered migrations: a store of every earlier day, opened by this
grader, becomes the schema a new store is made with, keeping everything it held."""

from __future__ import annotations

import sqlite3

import pytest

from grader.store import STORE_FILE, ClassStore, StoreTooNew
from grader.store.schema import LATEST, MIGRATIONS

# The first stores' layout, before any numbered step: gradings without the pages' data, tests holding their
# message only, written scores without rubric items, nothing else.
FIRST_DAYS = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL,
    grader_version TEXT NOT NULL, rubric_hash TEXT NOT NULL, cases_hash TEXT NOT NULL
);
CREATE TABLE gradings (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), student TEXT NOT NULL,
    name TEXT NOT NULL, email TEXT NOT NULL, source TEXT NOT NULL, late INTEGER NOT NULL,
    content_hash TEXT NOT NULL, grader_version TEXT NOT NULL, rubric_hash TEXT NOT NULL, cases_hash TEXT NOT NULL,
    status TEXT NOT NULL, execution_time REAL NOT NULL, problems TEXT NOT NULL, written TEXT NOT NULL,
    note TEXT NOT NULL, reused_from INTEGER REFERENCES gradings(id)
);
CREATE TABLE tests (
    grading_id INTEGER NOT NULL REFERENCES gradings(id), position INTEGER NOT NULL,
    name TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, output TEXT NOT NULL,
    PRIMARY KEY (grading_id, position)
);
CREATE TABLE written_scores (
    student TEXT NOT NULL, question TEXT NOT NULL, score REAL NOT NULL, comment TEXT NOT NULL,
    imported REAL NOT NULL, PRIMARY KEY (student, question)
);
"""


def _layout(connection: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every table's columns (name, type, not null, default, key), and the indexes."""
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = {table: sorted(row[1:] for row in connection.execute(f"PRAGMA table_info({table})")) for table in tables}
    found["indexes"] = sorted(
        row for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    )
    return found


def _store_of_age(folder, age: int) -> None:
    """A store as the grader of `age` left it (0: before versions were numbered), holding one graded student
    with a failed test and a TA's written score."""
    connection = sqlite3.connect(folder / STORE_FILE)
    connection.executescript(FIRST_DAYS)
    connection.execute("INSERT INTO runs VALUES (1, 1.0, 2.0, 'g', 'r', 'c')")
    connection.execute(
        "INSERT INTO gradings VALUES (1, 1, 'ada', 'Ada', 'ada@example.org', 'ada.ipynb', 0, 'h', 'g', 'r', 'c', "
        "'graded', 3.5, '[\"cell 3 raised\"]', '{\"q1a\": \"an answer\"}', '', NULL)"
    )
    connection.execute("INSERT INTO tests VALUES (1, 0, 'loss_fn.random', 0, 2.5, 'Called loss_fn(...). wrong')")
    connection.execute("INSERT INTO tests VALUES (1, 1, 'forward.random', 2.5, 2.5, 'passed')")
    connection.execute("INSERT INTO written_scores VALUES ('ada', 'q1a', 1.5, 'good', 9.0)")
    with connection:
        for step in MIGRATIONS[:age]:
            step(connection)
        connection.execute(f"PRAGMA user_version = {age}")
    connection.close()


def _fresh_layout(tmp_path) -> dict[str, list[tuple]]:
    folder = tmp_path / "fresh"
    with ClassStore.open(folder):
        pass
    connection = sqlite3.connect(folder / STORE_FILE)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LATEST
        return _layout(connection)
    finally:
        connection.close()


@pytest.mark.parametrize("age", range(LATEST))
def test_a_store_of_each_earlier_version_becomes_the_schema_and_keeps_what_it_held(tmp_path, age):
    folder = tmp_path / f"age{age}"
    folder.mkdir()
    _store_of_age(folder, age)
    with ClassStore.open(folder) as store:
        result = store.current("ada")
        written = store.written_scores("ada")
    assert result is not None and result.identity.name == "Ada" and result.written == {"q1a": "an answer"}
    assert [(t.item, t.name, t.score, t.passed) for t in result.tests] == [
        ("loss_fn", "loss_fn.random", 0, False),
        ("forward", "forward.random", 2.5, True),
    ]
    assert result.tests[0].problem == "Called loss_fn(...). wrong"  # a message only, kept as the problem
    assert [p.text for p in result.problems] == ["cell 3 raised"]
    assert written["q1a"].score == 1.5 and written["q1a"].comment == "good"
    connection = sqlite3.connect(folder / STORE_FILE)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LATEST
        # a score given before rubric items existed is all adjustment
        assert connection.execute("SELECT adjustment FROM written_scores").fetchone()[0] == 1.5
        migrated = _layout(connection)
    finally:
        connection.close()
    fresh = _fresh_layout(tmp_path)
    # one schema: what the steps make of an old store is what a new store is made with (columns in the order
    # they were added aside)
    assert migrated.keys() == fresh.keys()
    for table in fresh:
        assert migrated[table] == fresh[table], table


def test_a_store_of_mixed_days_before_versions_were_numbered_is_taken_up_too(tmp_path):
    """An unnumbered store may have some of a later step's columns and lack an earlier step's."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    _store_of_age(folder, 0)
    connection = sqlite3.connect(folder / STORE_FILE)
    connection.execute("ALTER TABLE gradings ADD COLUMN code TEXT NOT NULL DEFAULT '{}'")
    connection.execute("CREATE TABLE class_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    connection.execute("INSERT INTO class_settings VALUES ('pseudonyms', 'on')")
    connection.commit()
    connection.close()
    with ClassStore.open(folder) as store:
        assert store.setting("pseudonyms") == "on" and store.current("ada").tests[0].item == "loss_fn"


def test_a_store_made_by_a_newer_grader_is_refused_and_left_as_it_is(tmp_path):
    folder = tmp_path / "newer"
    with ClassStore.open(folder):
        pass
    connection = sqlite3.connect(folder / STORE_FILE)
    connection.execute(f"PRAGMA user_version = {LATEST + 1}")
    connection.close()
    before = (folder / STORE_FILE).read_bytes()
    with pytest.raises(StoreTooNew, match=f"version {LATEST + 1}"), ClassStore.open(folder):
        pass
    assert (folder / STORE_FILE).read_bytes() == before
