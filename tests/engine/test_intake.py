"""Intake: LMS exports (folders, zips) become one submission per student with its LMS identity; archives are safe."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from examples.build_examples import replace_code
from grader.intake import collect_submissions, student_folder
from grader.intake.archives import MAX_FILE_BYTES, ArchiveError, extract_archive
from grader.intake.roster import RosterError, read_roster
from grader.rubric import load_rubric

from ..helpers import GRADED_FUNCTIONS, minimal_notebook

FUNCTIONS = tuple(GRADED_FUNCTIONS.values())
STEM = "messmaster_part2"


def collect(paths, scratch):
    return collect_submissions(paths, scratch, STEM, FUNCTIONS)


def by_student(intake):
    return {s.identity.student: s for s in intake.submissions}


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder.parent))
    return archive


@pytest.fixture
def notebook_text(template):
    return nbformat.writes(template)


def canvas_export(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / f"doejane_1001_5001_{STEM}.ipynb").write_text(text)
    (folder / f"smithjohn_LATE_1002_5002_{STEM}.ipynb").write_text(text)
    (folder / "smithjohn_LATE_1002_5003_scratch.ipynb").write_text(text)
    (folder / f"leeann_1003_5004_{STEM}-1.ipynb").write_text(text)
    return folder


def gradescope_export(folder: Path, text: str) -> Path:
    for number in ("111", "222", "333"):
        (folder / f"submission_{number}").mkdir(parents=True)
    (folder / "submission_111" / f"{STEM}.ipynb").write_text(text)
    (folder / "submission_222" / f"{STEM}.ipynb").write_text(text)  # the same file name in every folder
    (folder / "submission_333" / f"{STEM}.ipynb").write_text(text)
    (folder / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '9001'\n    :email: ada@uni.edu\n"
        "submission_222:\n  :submitters:\n  - :name: Alan Turing\n    :sid: '9002'\n    :email: alan@uni.edu\n"
        "submission_333:\n  :submitters:\n  - :name: Grace Hopper\n    :email: grace@uni.edu\n"
        "  - :name: Kathleen Booth\n    :sid: '9004'\n"
    )
    return folder


def moodle_export(folder: Path, text: str) -> Path:
    for name in ("Jane Doe_42_assignsubmission_file_", "John Smith_43_assignsubmission_file_"):
        (folder / name).mkdir(parents=True)
        (folder / name / f"{STEM}.ipynb").write_text(text)
    return folder


@pytest.mark.parametrize("zipped", [False, True])
def test_canvas_download_gives_user_ids_late_marks_and_one_submission_each(tmp_path, notebook_text, zipped):
    export = canvas_export(tmp_path / "canvas", notebook_text)
    path = zip_folder(export, tmp_path / "canvas.zip") if zipped else export
    found = by_student(collect([path], tmp_path / "scratch"))
    assert set(found) == {"1001", "1002", "1003"}
    assert found["1002"].identity.late and not found["1001"].identity.late
    assert found["1002"].path.name == f"smithjohn_LATE_1002_5002_{STEM}.ipynb" and "scratch.ipynb" in found["1002"].note
    assert found["1003"].path.name.endswith(f"{STEM}-1.ipynb")
    assert found["1001"].identity.name == "doejane" and str(path) in found["1001"].identity.source


@pytest.mark.parametrize("zipped", [False, True])
def test_gradescope_export_gives_each_submitter_their_sid_name_and_email(tmp_path, notebook_text, zipped):
    export = gradescope_export(tmp_path / "assignment_1_export", notebook_text)
    path = zip_folder(export, tmp_path / "gradescope.zip") if zipped else export
    found = by_student(collect([path], tmp_path / "scratch"))
    assert set(found) == {"9001", "9002", "grace@uni.edu", "9004"}
    assert (found["9001"].identity.name, found["9001"].identity.email) == ("Ada Lovelace", "ada@uni.edu")
    assert found["9004"].path == found["grace@uni.edu"].path  # a group submission counts for each member
    assert found["9001"].path != found["9002"].path
    assert "submission_222" in found["9002"].identity.source


def moodle_flat_export(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / f"Jane Doe_42_assignsubmission_file_{STEM}.ipynb").write_text(text)
    (folder / f"John Smith_43_assignsubmission_file_{STEM}.ipynb").write_text(text)
    return folder


@pytest.mark.parametrize("zipped", [False, True])
@pytest.mark.parametrize("make_export", [moodle_export, moodle_flat_export])
def test_moodle_export_gives_ids_and_full_names(tmp_path, notebook_text, zipped, make_export):
    export = make_export(tmp_path / "moodle", notebook_text)
    path = zip_folder(export, tmp_path / "moodle.zip") if zipped else export
    found = by_student(collect([path], tmp_path / "scratch"))
    assert {k: v.identity.name for k, v in found.items()} == {"42": "Jane Doe", "43": "John Smith"}


def test_plain_folders_take_the_file_or_folder_name_and_same_file_names_stay_apart(tmp_path, notebook_text):
    (tmp_path / "class" / "ana").mkdir(parents=True)
    (tmp_path / "class" / "ben").mkdir()
    (tmp_path / "class" / "ana" / f"{STEM}.ipynb").write_text(notebook_text)
    (tmp_path / "class" / "ben" / f"{STEM}.ipynb").write_text(notebook_text)
    (tmp_path / "class" / "cleo.ipynb").write_text(notebook_text)
    (tmp_path / "class" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "class" / ".ipynb_checkpoints" / "cleo-checkpoint.ipynb").write_text(notebook_text)
    found = by_student(collect([tmp_path / "class"], tmp_path / "scratch"))
    assert set(found) == {"ana", "ben", "cleo"}
    assert found["ana"].path != found["ben"].path and found["ana"].note == ""


def test_several_notebooks_the_template_named_else_the_one_defining_the_functions(tmp_path, solved, template):
    folder = tmp_path / "class" / "dora"
    folder.mkdir(parents=True)
    nbformat.write(template, folder / "draft.ipynb")
    nbformat.write(solved, folder / "final.ipynb")
    no_functions = replace_code(
        solved, "def ", "def renamed_", count=sum(c.source.count("def ") for c in solved.cells if c.cell_type == "code")
    )
    nbformat.write(no_functions, folder / "aaa_notes.ipynb")
    chosen = by_student(collect([tmp_path / "class"], tmp_path / "scratch"))["dora"]
    assert chosen.path.name in ("draft.ipynb", "final.ipynb") and "defines the most graded functions" in chosen.note
    nbformat.write(template, folder / f"{STEM}.ipynb")
    chosen = by_student(collect([tmp_path / "class"], tmp_path / "scratch2"))["dora"]
    assert chosen.path.name == f"{STEM}.ipynb" and "named like the assignment" in chosen.note


def test_a_student_with_no_notebook_is_still_a_submission(tmp_path):
    folder = tmp_path / "Jane Doe_42_assignsubmission_file_"
    folder.mkdir()
    (folder / "answers.pdf").write_bytes(b"%PDF")
    (found,) = collect([tmp_path], tmp_path / "scratch").submissions
    assert (
        found.path is None
        and found.unreadable
        and "holds no Jupyter notebook" in found.note
        and "answers.pdf" in found.note
    )


def test_student_folders_are_safe_and_distinct():
    assert student_folder("1001") == "1001" and student_folder("ada@uni.edu") == "ada@uni.edu"
    assert "/" not in student_folder("../../etc") and student_folder("../../etc") != student_folder("etc")
    assert student_folder("Jane Doe") != student_folder("Jane_Doe")


# ---- archives ----------------------------------------------------------------------------------------------


def make_zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    "entries,link,says",
    [
        ({"../evil.ipynb": b"{}"}, None, "outside"),
        ({"ok/../../evil.ipynb": b"{}"}, None, "outside"),
        ({"/tmp/evil.ipynb": b"{}"}, None, "absolute"),
        ({"C:/evil.ipynb": b"{}"}, None, "absolute"),
        ({"a.ipynb": b"{}"}, "link.ipynb", "link"),
    ],
)
def test_an_archive_that_would_write_outside_its_folder_is_refused_whole(tmp_path, entries, link, says):
    archive = make_zip(tmp_path / "bad.zip", entries, link)
    with pytest.raises(ArchiveError, match=says):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.ipynb").exists()


def test_a_zip_bomb_stops_at_the_limit(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("big.ipynb", "w") as entry:
            block = b"\0" * 1024**2
            for _ in range(MAX_FILE_BYTES // len(block) + 2):
                entry.write(block)
    assert archive.stat().st_size < 2 * 1024**2
    with pytest.raises(ArchiveError, match="inflates past"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_bad_archive_is_reported_and_the_rest_collected(tmp_path, notebook_text):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "eve.ipynb").write_text(notebook_text)
    intake = collect([tmp_path / "broken.zip", tmp_path / "eve.ipynb"], tmp_path / "scratch")
    assert [s.identity.student for s in intake.submissions] == ["eve"]
    assert len(intake.errors) == 1 and "broken.zip" in intake.errors[0] and "not a readable zip" in intake.errors[0]


# ---- roster ------------------------------------------------------------------------------------------------


def test_a_plain_roster_and_a_canvas_gradebook_export_both_read(tmp_path):
    plain = tmp_path / "roster.csv"
    plain.write_text("student,name,email\n1001,Jane Doe,jane@uni.edu\n1004,Nobody Yet,\n")
    assert [(e.student, e.name, e.email) for e in read_roster(plain)] == [
        ("1001", "Jane Doe", "jane@uni.edu"),
        ("1004", "Nobody Yet", ""),
    ]
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,MessMaster part 2 (77)\n"
        "    Points Possible,,,,,100\n"
        '"Doe, Jane",1001,S1,jdoe,Sec A,\n'
    )
    (entry,) = read_roster(canvas)
    assert (entry.student, entry.name, entry.sis_user_id, entry.sis_login_id, entry.section) == (
        "1001",
        "Doe, Jane",
        "S1",
        "jdoe",
        "Sec A",
    )


@pytest.mark.parametrize("text,says", [("name,email\nJane,j@x\n", "no column"), ("student\n", "lists no student")])
def test_a_roster_without_ids_is_refused(tmp_path, text, says):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(RosterError, match=says):
        read_roster(path)


def test_one_students_file_or_folder_keeps_the_id_it_has_in_the_whole_export(tmp_path, notebook_text):
    """Regrading one student by naming their file or folder: the same id as when the class was graded."""
    gradescope = gradescope_export(tmp_path / "gs", notebook_text)
    moodle = moodle_export(tmp_path / "moodle", notebook_text)
    plain = tmp_path / "plain" / "ana"
    plain.mkdir(parents=True)
    (plain / f"{STEM}.ipynb").write_text(notebook_text)
    (tmp_path / "plain" / "ben.ipynb").write_text(notebook_text)
    cases = {
        gradescope / "submission_222": {"9002"},
        gradescope / "submission_222" / f"{STEM}.ipynb": {"9002"},
        gradescope / "submission_333": {"grace@uni.edu", "9004"},
        moodle / "Jane Doe_42_assignsubmission_file_": {"42"},
        moodle / "Jane Doe_42_assignsubmission_file_" / f"{STEM}.ipynb": {"42"},
        plain: {"ana"},
        plain / f"{STEM}.ipynb": {"ana"},
        tmp_path / "plain" / "ben.ipynb": {"ben"},
        tmp_path / "plain": {"ana", "ben"},
    }
    for path, students in cases.items():
        assert set(by_student(collect([path], tmp_path / "scratch"))) == students, path
    whole = by_student(collect([gradescope], tmp_path / "scratch"))
    assert by_student(collect([gradescope / "submission_222"], tmp_path / "s"))["9002"].path == whole["9002"].path


def test_a_zip_bomb_that_lies_about_its_sizes_still_stops_at_the_limit(tmp_path):
    """Sizes in the headers say 10 bytes; the bytes inflated are counted instead."""
    honest = tmp_path / "honest.zip"
    with zipfile.ZipFile(honest, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("big.ipynb", "w", force_zip64=True) as entry:
            for _ in range(MAX_FILE_BYTES // 1024**2 + 2):
                entry.write(b"\0" * 1024**2)
    data = bytearray(honest.read_bytes())
    # rewrite the declared uncompressed size (zip64 extra field in both headers) to 10 bytes
    with zipfile.ZipFile(honest) as z:
        real = z.infolist()[0].file_size
    needle = real.to_bytes(8, "little")
    assert data.count(needle) >= 1
    data = data.replace(needle, (10).to_bytes(8, "little"))
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="inflates past|not a readable zip"):
        extract_archive(liar, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_saved_outputs_are_dropped_and_do_not_count_against_the_size_limit(tmp_path, solved):
    from grader.intake.notebooks import MAX_NOTEBOOK_BYTES, UnreadableSubmission, read_notebook

    heavy = nbformat.from_dict(json.loads(nbformat.writes(solved)))
    plot = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "A" * (MAX_NOTEBOOK_BYTES + 10)}}
    next(c for c in heavy.cells if c.cell_type == "code").outputs = [plot]
    path = tmp_path / "heavy.ipynb"
    path.write_text(json.dumps(heavy))
    assert path.stat().st_size > MAX_NOTEBOOK_BYTES
    notebook = read_notebook(path)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    assert [c.source for c in notebook.cells] == [c.source for c in solved.cells]
    code = next(c for c in heavy.cells if c.cell_type == "code")
    code.outputs = []
    code.source = "x = 1\n" + "#" * (MAX_NOTEBOOK_BYTES + 10)  # code itself past the limit: refused
    path.write_text(json.dumps(heavy))
    with pytest.raises(UnreadableSubmission, match="code and text"):
        read_notebook(path)


def test_a_broken_gradescope_description_is_reported_and_the_rest_collected(tmp_path, notebook_text):
    export = tmp_path / "gs"
    export.mkdir()
    (export / "submission_metadata.yml").write_text("submission_1: [unclosed\n")
    (tmp_path / "eve.ipynb").write_text(notebook_text)
    intake = collect([export, tmp_path / "eve.ipynb"], tmp_path / "scratch")
    assert [s.identity.student for s in intake.submissions] == ["eve"]
    assert len(intake.errors) == 1 and "submission_metadata.yml cannot be read" in intake.errors[0]


def test_a_notebook_whose_cells_lack_ids_is_read_quietly(tmp_path):
    """Format 4.5 gives cells ids; another tool's notebook without them made nbformat warn once per notebook."""
    import warnings

    from grader.intake.notebooks import read_notebook

    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None}
    path = tmp_path / "no_ids.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell, cell]}))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        notebook = read_notebook(path)
    assert [str(w.message) for w in warned] == []
    assert len({c.id for c in notebook.cells}) == 2 and notebook.cells[0].source == "x = 1"


def test_a_notebook_in_format_3_is_read_as_jupyter_would_upgrade_it(tmp_path, solved):
    from grader.intake.notebooks import read_notebook, upgrade_note

    path = tmp_path / "old.ipynb"
    nbformat.write(nbformat.reads(nbformat.writes(solved), as_version=4), path, version=3)  # a copy: it converts
    assert json.loads(path.read_text())["nbformat"] == 3
    notebook = read_notebook(path)
    assert notebook.nbformat == 4 and [c.source for c in notebook.cells] == [c.source for c in solved.cells]
    assert "saved in format 3" in upgrade_note(notebook) and upgrade_note(solved) == ""


# ---- everything in an export belongs to a student: scripts, archives, other files; the newest wins ----------


def zip_files(archive: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return archive


def mixed_canvas_export(folder: Path, solved, template) -> Path:
    """A Canvas download with a script, a zip (holding a zip), an empty file, a resubmission, a PDF."""
    import jupytext

    folder.mkdir(parents=True)
    script = jupytext.writes(minimal_notebook(solved), fmt="py:percent")
    (folder / f"doejane_1001_5001_{STEM}.py").write_text(script)
    inner = zip_files(folder.parent / "inner.zip", {f"work/{STEM}.ipynb": nbformat.writes(solved).encode()})
    zip_files(folder / "smithjohn_LATE_1002_5002_submission.zip", {"inner.zip": inner.read_bytes()})
    (folder / f"leeann_1003_5003_{STEM}.ipynb").write_text("")
    # the resubmission (attachment 1000, Canvas's -1) sorts before its original (998) by name
    (folder / f"kimmin_1004_998_{STEM}.ipynb").write_text(nbformat.writes(template))
    (folder / f"kimmin_1004_1000_{STEM}-1.ipynb").write_text(nbformat.writes(solved))
    (folder / "parkjo_1005_5005_answers.pdf").write_bytes(b"%PDF-1.4")
    return folder


@pytest.mark.parametrize("zipped", [False, True])
def test_a_canvas_export_with_a_script_a_nested_zip_an_empty_file_and_a_resubmission(
    tmp_path, solved, template, zipped
):
    from grader.intake.notebooks import function_definitions, read_notebook

    export = mixed_canvas_export(tmp_path / "canvas", solved, template)
    path = zip_folder(export, tmp_path / "canvas.zip") if zipped else export
    found = by_student(collect([path], tmp_path / "scratch"))
    assert set(found) == {"1001", "1002", "1003", "1004", "1005"}  # nobody who handed something in is missing
    script = found["1001"]
    assert "Python script" in script.note and "percent format" in script.note
    notebook = read_notebook(script.path)
    again = by_student(collect([path], tmp_path / "again"))["1001"]
    assert again.path.read_bytes() == script.path.read_bytes()  # the same script, the same notebook: the cache
    assert set(FUNCTIONS) <= set(function_definitions(notebook))
    assert any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)
    assert found["1002"].identity.late and found["1002"].path.read_text() == nbformat.writes(solved)
    assert found["1003"].path.stat().st_size == 0 and not found["1003"].unreadable  # read (and refused) later
    assert found["1004"].path.name == f"kimmin_1004_1000_{STEM}-1.ipynb"
    assert "newest" in found["1004"].note and found["1004"].handed_in.rank == (1000, 1)
    assert found["1005"].path is None and found["1005"].unreadable and "answers.pdf" in found["1005"].note


def test_each_file_of_a_mixed_export_graded_alone_keeps_its_students_id(tmp_path, solved, template):
    export = mixed_canvas_export(tmp_path / "canvas", solved, template)
    for file in export.iterdir():
        expected = file.name.split("_")[2 if "_LATE_" in file.name else 1]
        assert set(by_student(collect([file], tmp_path / f"s-{file.name}"))) == {expected}, file.name


def test_gradescope_takes_each_students_newest_submission_by_its_time(tmp_path, solved, template):
    export = tmp_path / "gs"
    for folder, notebook in (("submission_1", solved), ("submission_2", template)):
        (export / folder).mkdir(parents=True)
        (export / folder / f"{STEM}.ipynb").write_text(nbformat.writes(notebook))
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada\n    :sid: '9001'\n"
        "  :created_at: 2026-11-03 09:15:02.123456789 -08:00\n"
        "submission_2:\n  :submitters:\n  - :name: Ada\n    :sid: '9001'\n"
        "  :created_at: 2026-11-02 23:59:00.000000000 -08:00\n"
    )
    (ada,) = collect([export], tmp_path / "scratch").submissions
    assert "submission_1" in str(ada.path) and ada.handed_in.time.isoformat() == "2026-11-03T09:15:02.123456-08:00"


def test_a_light_format_script_and_archive_limits(tmp_path, solved):
    import jupytext

    folder = tmp_path / "class" / "ana"
    folder.mkdir(parents=True)
    (folder / f"{STEM}.py").write_text(jupytext.writes(minimal_notebook(solved), fmt="py:light"))
    deep = zip_files(tmp_path / "d0.zip", {"x.ipynb": b"{}"})
    for level in range(1, 5):
        deep = zip_files(tmp_path / f"d{level}.zip", {"inner.zip": deep.read_bytes()})
    (tmp_path / "class" / "ben.zip").write_bytes(deep.read_bytes())
    (tmp_path / "class" / "notes.txt").write_text("not a student's")
    intake = collect([tmp_path / "class"], tmp_path / "scratch")
    found = by_student(intake)
    assert set(found) == {"ana", "ben"}
    assert "light format" in found["ana"].note
    assert found["ben"].unreadable and "more than 3 levels deep" in found["ben"].note
    (stray,) = intake.errors
    assert "notes.txt: not graded" in stray


def test_a_notebook_beside_a_script_is_graded_and_the_script_is_named(tmp_path, solved):
    import jupytext

    folder = tmp_path / "class" / "ana"
    folder.mkdir(parents=True)
    (folder / f"{STEM}.ipynb").write_text(nbformat.writes(solved))
    (folder / "helpers.py").write_text(jupytext.writes(minimal_notebook(solved), fmt="py:percent"))
    (ana,) = collect([tmp_path / "class"], tmp_path / "scratch").submissions
    assert ana.path == folder / f"{STEM}.ipynb" and ana.note == ""


def test_a_gradescope_submission_folder_with_a_script_or_a_zip_is_read_as_in_a_class(tmp_path, solved):
    """Gradescope's `submission/` holds whatever the student uploaded: the same choice as in a class's export."""
    import jupytext

    from grader.intake import Identity, one_folders_submission

    script = tmp_path / "script" / "submission"
    script.mkdir(parents=True)
    (script / "my_work.py").write_text(jupytext.writes(minimal_notebook(solved), fmt="py:percent"))
    found = one_folders_submission(script, Identity("submission"), tmp_path / "s1", STEM, FUNCTIONS)
    assert found.path.suffix == ".ipynb" and "Python script" in found.note
    zipped = tmp_path / "zipped" / "submission"
    zipped.mkdir(parents=True)
    zip_files(zipped / "upload.zip", {f"{STEM}.ipynb": nbformat.writes(solved).encode()})
    found = one_folders_submission(zipped, Identity("submission"), tmp_path / "s2", STEM, FUNCTIONS)
    assert found.path.read_text() == nbformat.writes(solved)


def test_archives_inside_archives_share_one_budget_and_a_huge_script_is_refused(tmp_path, monkeypatch):
    """A nest of zips, each within the limits alone, cannot inflate past them together."""
    from grader.intake import handins

    monkeypatch.setattr(handins, "MAX_TOTAL_BYTES", 2_000)
    inner = [zip_files(tmp_path / f"inner{i}.zip", {f"part{i}.txt": b"x" * 1_500}).read_bytes() for i in range(2)]
    folder = tmp_path / "class" / "ana"
    folder.mkdir(parents=True)
    zip_files(folder / "nest.zip", {"a.zip": inner[0], "b.zip": inner[1]})
    (ana,) = collect([tmp_path / "class"], tmp_path / "scratch").submissions
    assert ana.unreadable and "inflates past" in ana.note and ana.note.count("cannot be unpacked") == 1
    monkeypatch.setattr(handins, "MAX_NOTEBOOK_BYTES", 10)
    (folder / "nest.zip").unlink()
    (folder / f"{STEM}.py").write_text("# %%\nx = 1\n" * 10)
    (ana,) = collect([tmp_path / "class"], tmp_path / "scratch2").submissions
    assert ana.unreadable and "could not be read as a notebook script: it is" in ana.note


# cells that exhaust Python's parser: its memory, its recursion, its nesting limit
PARSER_BOMBS = ("x = " + "-" * 200_000 + "1", "y = a" + ".b" * 200_000, "z = " + "(" * 300 + ")" * 300)


@pytest.mark.parametrize("bomb", PARSER_BOMBS, ids=["memory", "recursion", "nesting"])
def test_a_cell_that_exhausts_the_parser_is_passed_over_not_the_graders_failure(solved, rubric, bomb):
    """The grader reads the graded functions' code (rules, integrity signals) with Python's parser, in its own
    process: a cell the parser cannot hold is passed over, and the rest of the notebook is read as usual."""
    from grader.intake.notebooks import function_definitions
    from grader.judge.rules import forbidden_uses
    from grader.judge.sources import graded_sources

    notebook = minimal_notebook(solved, bomb)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(bomb))  # before the graded functions, and after them
    assert set(GRADED_FUNCTIONS.values()) <= set(function_definitions(notebook))
    assert set(graded_sources(notebook)) == set(GRADED_FUNCTIONS.values())
    assert forbidden_uses(notebook, rubric) == {}


# ---- files as spreadsheets save them; rosters that match nobody; Canvas's names --------------------------

ROSTER_ROWS = [("ID", "Name", "Email"), ("1001", "Zoë Müller", "zm@uni.edu"), ("1002", "José Núñez", "jn@uni.edu")]


@pytest.mark.parametrize(
    "encoding,delimiter",
    [("utf-8", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("cp1252", "\t"), ("utf-16", "\t"), ("utf-8-sig", ";")],
)
def test_a_roster_reads_as_any_spreadsheet_saves_it(tmp_path, encoding, delimiter):
    path = tmp_path / "roster.csv"
    path.write_bytes("\r\n".join(delimiter.join(row) for row in ROSTER_ROWS).encode(encoding))
    assert [(e.student, e.name, e.email) for e in read_roster(path)] == [row for row in ROSTER_ROWS[1:]]


def test_a_file_no_spreadsheet_could_save_says_what_to_change(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"ID,Name\n1001,\x81\x8d\x8f\n")  # bytes neither UTF-8 nor Windows-1252 has
    with pytest.raises(RosterError, match='save it from the spreadsheet as "CSV UTF-8') as refused:
        read_roster(path)
    assert "codec" not in str(refused.value)


def test_a_written_sheet_from_european_excel_imports(tmp_path, rubric):
    from grader.intake.written_scores import read_written_scores

    path = tmp_path / "written_scores.csv"
    path.write_bytes("student;question;score;comment\r\nana;q1a;1,5;très bien\r\n".encode("cp1252"))
    (row,) = read_written_scores(path, rubric, {"ana": "ana"})
    assert (row.student, row.question, row.score, row.comment) == ("ana", "q1a", 1.5, "très bien")


def test_a_roster_whose_ids_match_nobody_is_refused_naming_its_columns(tmp_path, notebook_text):
    """Canvas's roster without its ID column: names would become ids, every real student a phantom."""
    from grader.pipeline import grade_class

    export = tmp_path / "export"
    export.mkdir()
    for user in ("100123", "100124", "100125", "100126"):
        (export / f"someone_{user}_{int(user) + 7000}_grader_part2.ipynb").write_text(notebook_text)
    roster = tmp_path / "roster.csv"
    roster.write_text('Student,SIS User ID,Email\n"Anderson, Alice",S1,a@x\n"Baker, Bo",S2,b@x\n')
    with pytest.raises(RosterError, match=r"match 0 of the 4 students .*Its columns: Student, SIS User ID, Email"):
        grade_class([export], tmp_path / "out", load_rubric(), roster=read_roster(roster))
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_canvas_names_with_underscores_keep_their_ids_and_an_unreadable_one_is_not_a_student(tmp_path, notebook_text):
    export = tmp_path / "export"
    export.mkdir()
    (export / "vega_victor_100123_7000123_MessMaster Part 2-2.ipynb").write_text(notebook_text)
    (export / "ana_100124_7000124_grader_part2.ipynb").write_text(notebook_text)
    (export / "broken_name_12_messmaster.ipynb").write_text(notebook_text)
    intake = collect([export], tmp_path / "scratch")
    assert sorted((s.identity.student, s.identity.name) for s in intake.submissions) == [
        ("100123", "vega_victor"),
        ("100124", "ana"),
    ]
    (stray,) = intake.errors
    assert "broken_name_12_messmaster.ipynb: not graded: its name is not one Canvas gives" in stray


def test_a_scripts_parameters_cell_is_found_by_what_the_templates_sets(tmp_path):
    """Not by a name the engine knows: the assignment's template says which names its `parameters` cell sets."""
    from grader.intake.handins import template_parameters

    template = nbformat.v4.new_notebook()
    template.cells = [
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell("STEPS = 10\nSEED, RATE = 1, 0.5", metadata={"tags": ["parameters"]}),
    ]
    nbformat.write(template, tmp_path / "t.ipynb")
    assert template_parameters(tmp_path / "t.ipynb") == ("STEPS", "SEED", "RATE")
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("EPOCHS = 5")])
    nbformat.write(untagged, tmp_path / "u.ipynb")
    assert template_parameters(tmp_path / "u.ipynb") == ()
