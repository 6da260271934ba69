"""One source: the template and the solved notebook are built together and differ only where they must."""

from __future__ import annotations

import difflib

import nbformat
import pytest

from examples.build_examples import OUT as EXAMPLES
from examples.build_examples import example_submissions
from reference.build_notebooks import build_all, select_variant

from ..helpers import ROOT

# Every line that the student's template has and the solution does not: the planted bugs, the
# loss_fn TODO, the linear-model placeholder, and the handout's comments that contradict the line under
# them (the solution corrects them). Nothing else may differ in the code.
TEMPLATE_ONLY_CODE = {
    "# First layer: z1 = W1 * X + b1",
    "# Second layer: z2 = W2 * a1 + b2",
    "# PyTorch's CrossEntropyLoss automatically applies softmax inside,",
    "# so we should pass raw logits (z2), not softmax probabilities (p_hat)",
    "# TODO: implement the loss function",
    "# step 1: find the probability of the correct class",
    "# correct_class_loc = range(y.shape[0])",
    "# correct_class_prob = p_y_hat[correct_class_loc]",
    "# nll = mean(-log(correct_class_prob))",
    "# return nll",
    'raise NotImplementedError("TODO: implement loss_fn")',
    "W2 = torch.randn(k, h, requires_grad=False) * 0.01",
    "# TODO: check if this is correct",
    "# TODO: check here",
    "W1 += learning_rate * dL_dW1",
    "b1 += learning_rate * dL_db1",
    "W2 += learning_rate * dL_dW2",
    "b2 += learning_rate * dL_db2",
    "# (Optional) Try a linear model here, e.g. sklearn's LogisticRegression, and compare its accuracy with the MLP's.",
}

HANDOUT_MATERIAL = [
    "**Q1a.** Why is it important to have validation and test sets?",
    "**Q1b.** Implement the CEL loss function for binary classification. What is its connection to energy?",
    "**Q1c.**",
    "iii. What is chain rule and why is it relevant to backprop?",
    "**Q1d.** We are going to implement a two-layer MLP",
    "**Q1e.** Verification of gradients implementation",
    "Can linear models learn this decision boundary?",
    "**Q2a.** What was the learning rate scheduler we used above?",
    "**Q2b.** Why is it momentum helpful? Why is adaptive scaling helpful?",
    "**Q2c.** Observe the loss curves of SGD and Adam. What do you see?",
    "# TODO: what is the train-val-test split ratio?",
    "RANDOM_SEED = 10011  # postal code of CDS <3",
    "# PyTorch's CrossEntropyLoss automatically applies softmax inside,",
    "#   dL/dz2 = (p_hat - y) / N",
    "# scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)",
    "plot_decision_boundary(W1, b1, W2, b2, X_test_tensor.numpy(), y_test_tensor.numpy())",
    "plot_loss(loss_history_sgd, loss_history_adam)",
]


def test_committed_examples_equal_what_the_builder_makes(template):
    for name, notebook in example_submissions(template).items():
        assert (EXAMPLES / f"{name}.ipynb").read_text() == nbformat.writes(notebook) + "\n", f"{name} is stale"


def test_committed_files_equal_the_build():
    for path, text in build_all().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run `make notebooks`"


def test_notebooks_have_the_same_cells_in_the_same_order(solved, template):
    assert len(solved.cells) == len(template.cells)
    for ours, theirs in zip(solved.cells, template.cells, strict=True):
        assert (ours.cell_type, ours.id, ours.metadata) == (theirs.cell_type, theirs.id, theirs.metadata)


def test_code_differs_only_in_the_planted_bugs_and_the_todo(solved, template):
    template_only: set[str] = set()
    for ours, theirs in zip(solved.cells, template.cells, strict=True):
        if ours.cell_type != "code":
            continue
        diff = difflib.ndiff(ours.source.splitlines(), theirs.source.splitlines())
        template_only |= {line[2:].strip() for line in diff if line.startswith("+ ")}
    assert template_only == TEMPLATE_ONLY_CODE


def test_markdown_differs_only_in_answers(solved, template):
    for ours, theirs in zip(solved.cells, template.cells, strict=True):
        if ours.cell_type != "markdown" or ours.source == theirs.source:
            continue
        tags = ours.metadata.get("tags", [])
        if any(t.startswith("answer-") for t in tags):
            assert theirs.source.startswith("**Answer") and theirs.source.count("\n") == 0
        else:  # the title cell: the template adds only the self-check reminder
            assert ours.source in theirs.source


@pytest.mark.parametrize("material", HANDOUT_MATERIAL)
def test_template_carries_the_handouts_material(template, material):
    assert any(material in cell.source for cell in template.cells)


def test_template_reads_the_students_data_and_nothing_secret(template):
    text = "\n".join(cell.source for cell in template.cells)
    assert 'pd.read_csv("data/xor_pattern.csv")' in text
    assert "secret" not in text and "reference" not in text


def test_parameters_cell_sets_seed_and_epochs(template):
    (cell,) = [c for c in template.cells if "parameters" in c.metadata.get("tags", [])]
    assert "RANDOM_SEED = 10011" in cell.source and "EPOCHS = 10000" in cell.source
    training = [
        c.source
        for c in template.cells
        if "train_manual(X_train_tensor" in c.source or 'train_with_optimizer("' in c.source
    ]
    assert training and all("epochs=EPOCHS" in source for source in training)


def test_select_variant_keeps_its_region_and_rejects_unbalanced_markers():
    text = "shared\n# BEGIN SOLUTION\nanswer\n# END SOLUTION\n# BEGIN TEMPLATE\nblank\n# END TEMPLATE\nend"
    assert select_variant(text, "solution") == "shared\nanswer\nend"
    assert select_variant(text, "template") == "shared\nblank\nend"
    with pytest.raises(ValueError, match="never closed"):
        select_variant("# BEGIN SOLUTION\nx", "solution")
    with pytest.raises(ValueError, match="unexpected"):
        select_variant("# BEGIN SOLUTION\n# BEGIN TEMPLATE\n", "solution")
