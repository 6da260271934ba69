"""The integrity signals' pages: `DIR/similarity.csv`, `DIR/similarity.html` and a side-by-side page per pair,
each drawn from what `judge/similarity.py` found (the pairs, and the passages they share)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.judge.similarity import FLAG, Pair, Passages, Submission, words
from grader.views.csv_cells import write_csv
from grader.views.html import render
from grader.views.whole_files import write_whole

CSV_COLUMNS = ["student_a", "student_b", "score", "evidence", "code", "outputs", "written"]


@dataclass
class Compared:
    """A pair worth a look, with what its page shows."""

    pair: Pair
    a: Submission
    b: Submission
    passages: Passages


def _lines(source: str, marked: set[int], with_many: set[int]) -> list[dict]:
    return [
        {"number": n, "text": text, "marked": n in marked, "common": n in with_many}
        for n, text in enumerate(source.splitlines(), 1)
    ]


def _words(text: str, marked: set[int]) -> list[dict]:
    return [{"text": word, "marked": i in marked} for i, word in enumerate(words(text))]


def write_similarity(compared: list[Compared], out: Path, against: list[str]) -> Path:
    """The CSV and the pages; returns the CSV's path. Pages of an earlier run are replaced."""
    rows = [
        [c.pair.a, c.pair.b, c.pair.score, c.pair.evidence, c.pair.code, c.pair.outputs, c.pair.written]
        for c in compared
    ]
    path = write_csv(out / "similarity.csv", CSV_COLUMNS, rows)
    folder = out / "similarity"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("pair-*.html"):
        old.unlink()
    listed = []
    for rank, c in enumerate(compared, 1):
        page = f"pair-{rank:04d}.html"
        listed.append({"rank": rank, "pair": c.pair, "page": f"similarity/{page}"})
        functions = [
            {
                "name": function,
                "a": _lines(c.a.code[function], c.passages.lines[function][0], c.passages.common_lines[function][0]),
                "b": _lines(c.b.code[function], c.passages.lines[function][1], c.passages.common_lines[function][1]),
            }
            for function in sorted(set(c.a.code) & set(c.b.code))
            if function in c.passages.lines
        ]
        answers = [
            {
                "question": question,
                "a": _words(c.a.written[question], c.passages.words[question][0]),
                "b": _words(c.b.written[question], c.passages.words[question][1]),
            }
            for question in c.passages.words
        ]
        write_whole(
            folder / page,
            render("similarity_pair.html.j2", rank=rank, pair=c.pair, functions=functions, answers=answers),
        )
    pairs = [row for row in listed if not row["pair"].source]
    sources = [row for row in listed if row["pair"].source]
    write_whole(
        out / "similarity.html",
        render("similarity.html.j2", pairs=pairs, sources=sources, flag=FLAG, against=against),
    )
    return path
