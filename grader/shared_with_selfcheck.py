"""What the students' self-check shares with the grader, so that the two judge alike.

`tools/build_student_bundle.py` stamps this module's code below its imports,
with the rubric's constants, into `student_template/selfcheck.py`; a test
checks that the committed self-check holds exactly that. So everything here
must stand alone: numpy and nbformat only, no hidden case, no reference value,
nothing of the grader's. The oracles stay apart: the self-check computes its
expected values with PyTorch's own functions, the grader with the reference.
"""

from __future__ import annotations

import numpy as np

# Where each gradient comes from in the handout's backward pass, for a student whose gradient is wrong.
GRADIENT_HINTS = {
    "dL_dW1": "step 5: dL_dW1 = X.T @ dL_dz1, shape (d, h) like W1",
    "dL_db1": "step 5: dL_db1 sums dL_dz1 over the batch axis (dim=0), shape (h,)",
    "dL_dW2": "step 2: dL_dW2 = a1.T @ dL_dz2, shape (h, k) like W2",
    "dL_db2": "step 2: dL_db2 sums dL_dz2 over the batch axis (dim=0), shape (k,)",
}
LAYER_MAPS = {"W1": "X @ W1 maps d features to h hidden units", "W2": "a1 @ W2 maps h hidden units to k classes"}


def value_mismatch(actual: object, expected: object, rtol: float, atol: float) -> str:
    """What differs from `expected` (shape first, then each value within atol + rtol * |expected|); "" if nothing."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(actual)):
        return "contains NaN or infinity"
    if not np.all(np.isclose(actual, expected, rtol=rtol, atol=atol)):
        error = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
        return f"wrong values (shape {expected.shape} is right; max abs error {error:.3g})"
    return ""


def parameter_problem(
    name: str,
    value: object,
    shape: tuple[int, ...],
    weight_std: tuple[float, float],
    weight_std_min_size: int,
    weight_max_abs: float,
) -> str:
    """What is wrong with an initial parameter (shape, zeros for a bias, randn * 0.01 for a weight); "" if nothing."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        hint = ""
        if name in LAYER_MAPS and value.shape == shape[::-1]:
            hint = f" ({LAYER_MAPS[name]}, so it must be {shape})"
        return f"{name} has shape {value.shape}, expected {shape}{hint}"
    if not np.all(np.isfinite(value)):
        return f"{name} contains NaN or infinity"
    if name.startswith("b"):
        return f"{name} is not all zeros" if np.any(value != 0) else ""
    low, high = weight_std
    if value.size >= weight_std_min_size and not low <= value.std() <= high:
        return f"{name} has standard deviation {value.std():.4f}; randn * 0.01 gives about 0.01"
    if np.all(value == 0) or np.abs(value).max() > weight_max_abs:
        return f"{name} is not small random numbers (randn * 0.01)"
    return ""


def same_start(first_loss_a: float, first_loss_b: float, rtol: float, atol: float) -> bool:
    """Whether two trainings started from the same weights, judged by their first losses."""
    return bool(np.isclose(first_loss_a, first_loss_b, rtol=rtol, atol=atol))


def inject_parameters(notebook: object, parameters: dict[str, object]) -> object:
    """A copy of the notebook with a cell setting `parameters` right after its `parameters` cell (papermill's way).

    The new cell is tagged `injected-parameters` and replaces any such cell
    already there, so injecting twice gives the same notebook. Without a
    `parameters` cell the parameters go first, where the notebook may overwrite them.
    """
    import nbformat

    copy = nbformat.from_dict(notebook)
    copy.cells = [c for c in copy.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    tagged = [i for i, c in enumerate(copy.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    copy.cells.insert(tagged[-1] + 1 if tagged else 0, injected)
    return copy
