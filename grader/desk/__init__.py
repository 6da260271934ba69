"""The TA desk: a local web app over a class store, for the decisions people make.

`app.py` serves the page and its JSON API (Starlette, under uvicorn) behind a
token; `answers.py` makes a student's Markdown safe to show (nh3 over the
Markdown renderer, math as MathML). The desk reads the store and writes people's
decisions through `grader/decisions.py`, in short transactions with versions,
then renders the views of whom a decision touched. It never takes the class
folder's lock: a grading run may go on while TAs grade.
"""
