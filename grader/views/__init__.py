"""What people and systems read, each rendered from what the store holds (a result, or the class's rows).

`gradescope.py` (results.json), `feedback.py` (the student's pages), `report.py` (the class report),
`written_pages.py` (the TAs' pages and sheet), `gradebook.py`, `canvas.py` (LMS import), `junit.py` and
`summary.py` (CI reports), `figures.py` (the form of the assignment's figures), `markdown.py` (Markdown and math
as safe HTML), `html.py` (the one Jinja2 environment), `csv_cells.py` (formula-safe CSV) and `write.py`,
which puts them on disk.
"""
