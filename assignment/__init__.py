"""MessMaster part 2, "the Curse of the Muffin-Faced Dog", as the engine (grader/) grades it: this module is what
the engine reads of the assignment; the rest of this package is what it points to.

The folder around it is the assignment: reference/ (the reference's code and the solved notebook), student_template/
(the notebook students get, with its planted bugs, and the files beside it), secret/ (the hidden cases, the holdout)
and rubric.toml. docs/writing-an-assignment.md walks through what each name below is for.
"""

from __future__ import annotations

from pathlib import Path

from .cases import training_split
from .catalogue import MISCONCEPTIONS
from .items import ITEMS
from .judges import HANDOUT_SIZES

TITLE = "MessMaster part 2"
SLUG = "messmaster-part2"
NOTEBOOK = "student_template/messmaster_part2.ipynb"
SOLVED_NOTEBOOK = "reference/messmaster_part2_solution.ipynb"
# what a submission's folder holds besides the notebook: only what students have too (relative to student_template/)
STUDENT_FILES = ("util.py", "data/xor_pattern.csv")
RUBRIC = "assignment/rubric.toml"
CASES = "secret/cases.toml"
PUBLIC_CASES = "reference/public_cases.toml"
# what decides a grade besides the notebook, the rubric and the engine's code
GRADING_INPUTS = (
    "assignment",
    "reference/solutions.py",
    "student_template/util.py",
    "student_template/data",
    "secret/cases.toml",
    "secret/data/holdout.csv",
)

# what the feedback says of the hidden cases
HIDDEN_CASES = (
    "Hidden cases (other shapes, a single example, one class only, large logits) are part of the score:\n"
    "passing your own checks does not mean passing these."
)

# the heading over the figures of the feedback page
FIGURES_HEADING = "Your training, drawn by the grader"

# what marks each written question in the handout's text
QUESTION_MARKERS = {
    "q1a": "**Q1a.**",
    "split": "TODO: what is the train-val-test split ratio?",
    "q1b": "**Q1b.**",
    "q1c": "**Q1c.**",
    "q1d": "**Q1d.**",
    "linear": "Can linear models learn this decision boundary?",
    "q2a": "**Q2a.**",
    "q2b": "**Q2b.**",
    "q2c": "**Q2c.**",
}


def notebook_parameters(rubric) -> dict[str, object]:
    """The notebook's `parameters` cell as the grader runs it: its own trainings shortened (they are not graded)."""
    return {"EPOCHS": rubric.run.notebook_epochs}


# The reference (torch) and the figures (matplotlib) are imported when first wanted: a command that grades and
# draws nothing (an unchanged class, the desk, an export) starts without them.


def expected() -> object:
    from .reference_values import ReferenceExpected

    return ReferenceExpected()


def plot_data(cases: dict, outcomes: dict) -> dict[str, object]:
    from .artifacts import plot_data

    return plot_data(cases, outcomes)


def figures(plots: dict) -> list:
    from .plots import figures

    return figures(plots)


def training_rows() -> int:
    """The notebook's X_train's rows: a result of this many rows came from it."""
    return len(training_split()[1])


# defined in the kernel beside the grader's probe: the handout's loop over the notebook's own functions
KERNEL_HELPERS = Path(__file__).with_name("kernel_helpers.py").read_text()

# the notebook's own sizes: a function right on a case of these only has them written in
NOTEBOOK_SIZES = HANDOUT_SIZES

# ---- the students' self-check (grader/selfcheck/bundle.py builds it) -------------------------------------------

# stamped into it after the engine's judging framework: the mistakes, the judges, the shipped values' reader
SELFCHECK_SOURCES = ("assignment/catalogue.py", "assignment/judges.py", "assignment/shipped.py")
SELFCHECK_EXPECTED = "ShippedExpected"
# the notebook as the self-check runs it from a shell: few epochs, so that it answers in seconds
SELFCHECK_PARAMETERS = {"EPOCHS": 100}
# the trainings, with the epochs the handout's signatures default to (a call that bypasses EPOCHS is warned of)
SELFCHECK_TRAININGS = {"train_manual": 10000, "train_with_optimizer": 10000}
# imported ahead by kernels kept ready (the grader's zygote, the self-check's spare kernel), besides the template's
# imports: an optimizer's first step imports torch._dynamo (a second of every run otherwise); the solved notebook
# answers Q2 with scikit-learn's LogisticRegression, and so may a student's
WARM_MODULES = ("torch._dynamo", "sklearn.linear_model")
# the students' zip holds these besides the notebook, STUDENT_FILES and the self-check
BUNDLE_FILES = ("README.md", "Makefile", "requirements.txt")


def shipped_values(case, expected) -> dict:
    from .reference_values import shipped_values

    return shipped_values(case, expected)


def shipped_extras() -> dict:
    from .reference_values import shipped_extras

    return shipped_extras()


__all__ = ["ITEMS", "MISCONCEPTIONS"]
