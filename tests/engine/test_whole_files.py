"""Files written whole: a reader never sees half of one, and writers of one file at once never trip each other."""

from __future__ import annotations

import threading

import pytest

from grader.views.whole_files import replacing, write_whole


def test_writers_of_one_file_at_once_each_move_a_whole_file_in(tmp_path):
    """The TAs' desk draws a student's page while `written import` draws it again: with one temporary name for
    both, the second rename found nothing to move (FileNotFoundError: feedback.html.partial)."""
    page = tmp_path / "feedback.html"
    texts = {writer: f"<p>{writer}</p>" * 2000 for writer in range(4)}
    failures: list[BaseException] = []
    start = threading.Barrier(len(texts))

    def write(writer: int) -> None:
        start.wait()
        try:
            for _ in range(200):
                write_whole(page, texts[writer])
        except BaseException as error:  # noqa: BLE001 (what is tested: that nothing is raised)
            failures.append(error)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert page.read_text() in texts.values()  # one writer's whole text
    assert [p.name for p in tmp_path.iterdir()] == ["feedback.html"]  # no temporary file left


def test_a_block_that_raises_leaves_the_file_as_it_was_and_no_temporary_file(tmp_path):
    sheet = tmp_path / "gradebook.csv"
    sheet.write_text("before\n")
    with pytest.raises(RuntimeError), replacing(sheet) as file:
        file.write("half of")
        raise RuntimeError("the renderer failed")
    assert sheet.read_text() == "before\n" and [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"]
