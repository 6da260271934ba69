"""What people and systems read, each a function of a graded `SubmissionResult`.

`gradescope.py` (results.json), `feedback.py` (the student's page),
`gradebook.py` (one row per submission) and `write.py`, which puts them on disk.
"""
