"""Build the example submissions that `make grade` grades: realistic student notebooks.

Each is the student template edited the way a student would edit it, so the
examples follow the template whenever it changes (`make examples`; a test
checks the committed files are current). The edits also serve the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "student_template" / "messmaster_part2.ipynb"
OUT = ROOT / "examples" / "submissions"

STUDENT_LOSS = (
    "correct_class_prob = p_y_hat[range(y.shape[0]), y]\n    return torch.mean(-torch.log(correct_class_prob))"
)
ANSWERS = {
    "q1a": "Validation data tunes hyperparameters and tells us when to stop; the test set is kept for one final, "
    "unbiased estimate on unseen data.",
    "split": "80% train, 10% validation, 10% test.",
    "q1b": "It is the negative log-likelihood of the true class; with logits as negative energies the softmax is a "
    "Boltzmann distribution, so the loss lowers the energy of the right answer and raises the free energy.",
    "q1c": "i. how fast and in which direction L grows; ii. we step against it to go down; iii. the derivative of a "
    "composition is the product of local derivatives, which backprop applies layer by layer.",
    "q1d": "dL/dW1 = X^T [((p_hat - Y)/N W2^T) * 1(z1 > 0)]",
    "linear": "No: XOR needs two lines, a linear model draws one.",
    "q2a": "A constant learning rate (0.1).",
    "q2b": "Momentum smooths the gradient and speeds up consistent directions; adaptive scaling gives each "
    "parameter its own step size.",
    "q2c": "Adam goes down much faster than SGD.",
}


def copy_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.from_dict(json.loads(json.dumps(notebook)))


def replace_code(notebook: nbformat.NotebookNode, old: str, new: str, count: int = 1) -> nbformat.NotebookNode:
    """A copy with `old` replaced by `new` in the code cells; fails loudly unless `old` occurs `count` times."""
    copy = copy_notebook(notebook)
    found = sum(cell.source.count(old) for cell in copy.cells if cell.cell_type == "code")
    if found != count:
        raise ValueError(f"expected {count} occurrence(s) of {old!r} in the code, found {found}")
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(old, new)
    return copy


def answer_questions(notebook: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    copy = copy_notebook(notebook)
    for cell in copy.cells:
        for tag in cell.metadata.get("tags", []):
            if tag.startswith("answer-") and tag[len("answer-") :] in answers:
                cell.source += "\n\n" + answers[tag[len("answer-") :]]
    return copy


def fixed_template(template: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The template with its planted bugs fixed and loss_fn written, as a good student hands it in."""
    fixed = replace_code(template, "W2 = torch.randn(k, h,", "W2 = torch.randn(h, k,")
    fixed = replace_code(fixed, " += learning_rate * dL_d", " -= learning_rate * dL_d", count=4)
    return replace_code(fixed, 'raise NotImplementedError("TODO: implement loss_fn")', STUDENT_LOSS)


def example_submissions(template: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    correct = answer_questions(fixed_template(template), ANSWERS)
    return {
        "alice_correct": correct,
        "bob_untouched_template": template,
        "carol_forgot_sign": replace_code(
            answer_questions(
                replace_code(
                    replace_code(template, "W2 = torch.randn(k, h,", "W2 = torch.randn(h, k,"),
                    'raise NotImplementedError("TODO: implement loss_fn")',
                    STUDENT_LOSS,
                ),
                {"q1a": ANSWERS["q1a"]},
            ),
            "# TODO: check here\n",
            "# TODO: check here (looks fine?)\n",
        ),
        "dave_summed_loss": replace_code(
            correct,
            "return torch.mean(-torch.log(correct_class_prob))",
            "return torch.sum(-torch.log(correct_class_prob))",
        ),
        "erin_no_relu_mask": replace_code(correct, "dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1"),
    }


def main() -> int:
    template = nbformat.read(TEMPLATE, as_version=4)
    OUT.mkdir(parents=True, exist_ok=True)
    check = "--check" in sys.argv
    stale = []
    for name, notebook in example_submissions(template).items():
        path = OUT / f"{name}.ipynb"
        text = nbformat.writes(notebook) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale examples (run `make examples`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
