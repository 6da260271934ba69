"""The class store's one schema, and the numbered steps that bring a store of any earlier day to it.

A new store is made from `SCHEMA` at once and numbered `LATEST` (SQLite's `PRAGMA user_version`). A store made
by an earlier grader is taken through each step after its number, in one transaction: step N brings a store of
version N - 1 to version N. Stores made before versions were numbered (version 0) may be of any earlier day, so
the steps up to 3 add only what a store lacks; a step after those may count on the version it starts from. A
store numbered past `LATEST` was made by a newer grader and is refused, not changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from grader.errors import GraderError

STORE_FILE = "grades.sqlite"
LOCK_FILE = "grades.lock"

SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL,
    grader_version TEXT NOT NULL, rubric_hash TEXT NOT NULL, cases_hash TEXT NOT NULL
);
CREATE TABLE gradings (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), student TEXT NOT NULL,
    name TEXT NOT NULL, email TEXT NOT NULL, source TEXT NOT NULL, late INTEGER NOT NULL,
    content_hash TEXT NOT NULL, grader_version TEXT NOT NULL, rubric_hash TEXT NOT NULL, cases_hash TEXT NOT NULL,
    status TEXT NOT NULL, execution_time REAL NOT NULL, problems TEXT NOT NULL, written TEXT NOT NULL,
    note TEXT NOT NULL, reused_from INTEGER REFERENCES gradings(id),
    plots TEXT NOT NULL DEFAULT '{}', isolation TEXT NOT NULL DEFAULT '', handed_in TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '{}', wrong_outputs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX gradings_by_student ON gradings (student, id);
CREATE INDEX gradings_by_content ON gradings (content_hash, grader_version, rubric_hash, cases_hash);
CREATE TABLE tests (
    grading_id INTEGER NOT NULL REFERENCES gradings(id), position INTEGER NOT NULL,
    name TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, output TEXT NOT NULL,
    item TEXT NOT NULL DEFAULT '', called TEXT NOT NULL DEFAULT '', problem TEXT NOT NULL DEFAULT '',
    mistake TEXT NOT NULL DEFAULT '', trouble TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (grading_id, position)
);
CREATE TABLE evidence (
    grading_id INTEGER PRIMARY KEY REFERENCES gradings(id), data BLOB NOT NULL
);
CREATE TABLE written_scores (
    student TEXT NOT NULL, question TEXT NOT NULL, score REAL NOT NULL, comment TEXT NOT NULL,
    imported REAL NOT NULL, adjustment REAL NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,
    scored_by TEXT NOT NULL DEFAULT '', PRIMARY KEY (student, question)
);
CREATE TABLE written_items (
    id INTEGER PRIMARY KEY, question TEXT NOT NULL, points REAL NOT NULL, comment TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE written_applied (
    student TEXT NOT NULL, question TEXT NOT NULL, item_id INTEGER NOT NULL REFERENCES written_items(id),
    PRIMARY KEY (student, question, item_id)
);
CREATE TABLE adjustments (
    student TEXT NOT NULL, item TEXT NOT NULL, points REAL NOT NULL, reason TEXT NOT NULL, made_by TEXT NOT NULL,
    made REAL NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (student, item)
);
CREATE TABLE class_rubric (
    id INTEGER PRIMARY KEY CHECK (id = 1), rubric TEXT NOT NULL, changed REAL NOT NULL
);
CREATE TABLE extensions (
    student TEXT PRIMARY KEY, due TEXT NOT NULL, days REAL NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE class_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pseudonyms (student TEXT PRIMARY KEY, pseudonym TEXT NOT NULL UNIQUE);
CREATE TABLE roster (
    student TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
    sis_user_id TEXT NOT NULL, sis_login_id TEXT NOT NULL, section TEXT NOT NULL
);
CREATE TABLE removals (
    student TEXT PRIMARY KEY, through_grading INTEGER NOT NULL, merged_into TEXT NOT NULL, reason TEXT NOT NULL,
    made REAL NOT NULL
);
CREATE TABLE unlinked (
    student TEXT PRIMARY KEY, made REAL NOT NULL, made_by TEXT NOT NULL
);
"""

# each student's current grading: their latest, unless the student was removed (or merged into another) since;
# a grading after the removal (the identity handed in again) brings them back
CURRENT_GRADINGS = (
    "SELECT MAX(id) FROM gradings g GROUP BY student "
    "HAVING MAX(id) > COALESCE((SELECT through_grading FROM removals r WHERE r.student = g.student), 0)"
)


class StoreBusy(GraderError):
    """Another run holds the class folder."""


class StoreMissing(GraderError):
    """The folder holds no class store."""


class StoreTooNew(GraderError):
    """The store was made by a newer grader, whose schema this one does not know."""


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _table(name: str) -> str:
    """The table's definition in `SCHEMA` (the one source of every table's columns)."""
    found = [s for s in _statements(SCHEMA) if s.startswith(f"CREATE TABLE {name} (")]
    return found[0].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)


def _add_columns(connection: sqlite3.Connection, table: str, columns: dict[str, str]) -> list[str]:
    """The columns of `columns` (name -> kind) that `table` lacks, added; their names."""
    present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
    added = [column for column in columns if column not in present]
    for column in added:
        connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {columns[column]}")
    return added


def _verdicts_and_pages(connection: sqlite3.Connection) -> None:
    """1. Verdicts as data (a test's item, call, problem, mistake, trouble), the pages' data, the kernels'
    confinement and the export's evidence of when a file was handed in. The first gradings' tables are made here
    for a store that somehow lacks them."""
    for name in ("runs", "gradings", "tests", "written_scores"):
        connection.execute(_table(name))
    connection.execute("CREATE INDEX IF NOT EXISTS gradings_by_student ON gradings (student, id)")
    connection.execute(
        "CREATE INDEX IF NOT EXISTS gradings_by_content ON gradings (content_hash, grader_version, rubric_hash, "
        "cases_hash)"
    )
    kinds = {"plots": "'{}'", "isolation": "''", "handed_in": "''"}
    _add_columns(connection, "gradings", {name: f"TEXT NOT NULL DEFAULT {value}" for name, value in kinds.items()})
    verdicts = {name: "TEXT NOT NULL DEFAULT ''" for name in ("item", "called", "problem", "mistake", "trouble")}
    if _add_columns(connection, "tests", verdicts):
        # a store made before verdicts were data holds each test's message only: the item is the start of the
        # test's name (as the contract names tests), the whole message its problem
        connection.execute(
            "UPDATE tests SET item = CASE WHEN instr(name, '.') > 0 THEN substr(name, 1, instr(name, '.') - 1) "
            "ELSE name END, problem = CASE WHEN output = 'passed' THEN '' ELSE output END"
        )


def _decisions_and_the_class(connection: sqlite3.Connection) -> None:
    """2. People's decisions (rubric items for written answers, adjustments), the evidence gradings are rescored
    from, and what the class keeps of its own (its rubric, extensions, settings, pseudonyms, roster)."""
    for name in ("evidence", "written_items", "written_applied", "adjustments", "class_rubric", "extensions"):
        connection.execute(_table(name))
    for name in ("class_settings", "pseudonyms", "roster"):
        connection.execute(_table(name))
    written = {"adjustment": "REAL NOT NULL DEFAULT 0", "version": "INTEGER NOT NULL DEFAULT 1"}
    written["scored_by"] = "TEXT NOT NULL DEFAULT ''"
    if "adjustment" in _add_columns(connection, "written_scores", written):
        connection.execute("UPDATE written_scores SET adjustment = score")  # scored before rubric items existed


def _integrity_and_identities(connection: sqlite3.Connection) -> None:
    """3. What the integrity signals read (each grading's graded sources and wrong outputs), and students removed,
    merged or scored apart from a group."""
    _add_columns(
        connection,
        "gradings",
        {"code": "TEXT NOT NULL DEFAULT '{}'", "wrong_outputs": "TEXT NOT NULL DEFAULT '{}'"},
    )
    connection.execute(_table("removals"))
    connection.execute(_table("unlinked"))


# step N takes a store of version N - 1 to version N
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _verdicts_and_pages,
    _decisions_and_the_class,
    _integrity_and_identities,
)
LATEST = len(MIGRATIONS)


def version_of(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]


def migrate(connection: sqlite3.Connection) -> None:
    """A new store made from the schema, or an older one taken through the steps after its version, in one
    transaction (another process opening it meanwhile waits, then finds it done)."""
    if version_of(connection) == LATEST:
        return
    with connection:
        connection.execute("BEGIN IMMEDIATE")
        version = version_of(connection)
        if version > LATEST:
            raise StoreTooNew(
                f"the class store is of version {version}, made by a newer grader than this one (which knows "
                f"versions up to {LATEST}): grade it with that grader"
            )
        tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version == 0 and tables == 0:
            for statement in _statements(SCHEMA):
                connection.execute(statement)
        else:
            for step in MIGRATIONS[version:]:
                step(connection)
        connection.execute(f"PRAGMA user_version = {LATEST}")
