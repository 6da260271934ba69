"""The rubric file: the default loads with its totals, and any mistake in one is refused at load, naming the key."""

from __future__ import annotations

import tomllib

import pytest

from grader.rubric import RubricError, load_rubric

from ..helpers import RUBRIC_FILE

DEFAULT = tomllib.loads(RUBRIC_FILE.read_text())
OPTIONAL = {"items.backward.rule.autograd_history"} | {
    f"items.{item}.rule.watch" for item in ("loss_fn", "backward", "sgd_update")
}


def leaf_keys(table: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in table.items():
        key = f"{prefix}{name}"
        keys += leaf_keys(value, f"{key}.") if isinstance(value, dict) else [key]
    return keys


def write_without(tmp_path, dotted: str):
    """The default rubric's text with the line of one key (its last part, in its table) left out."""
    *tables, name = dotted.split(".")
    header = f"[{'.'.join(tables)}]" if tables else None
    lines, inside = [], header is None
    for line in RUBRIC_FILE.read_text().splitlines():
        if line.startswith("["):
            inside = line.strip() == header
        if inside and line.split("=")[0].strip() == name:
            continue
        lines.append(line)
    path = tmp_path / "rubric.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def edited(tmp_path, old: str, new: str):
    text = RUBRIC_FILE.read_text()
    assert old in text
    path = tmp_path / "rubric.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_default_rubric_totals_100_with_25_written():
    rubric = load_rubric()
    assert rubric.total == 100 and rubric.automatic_total == 75 and rubric.written_total == 25
    assert rubric.items["train_manual"].holdout_accuracy == 0.95
    assert rubric.items["backward"].rule.autograd_history is True and rubric.items["forward"].rule is None


@pytest.mark.parametrize("key", [k for k in leaf_keys(DEFAULT) if k not in OPTIONAL and not k.startswith("written.")])
def test_a_rubric_missing_any_required_key_is_refused_naming_it(tmp_path, key):
    with pytest.raises(RubricError) as refused:
        load_rubric(write_without(tmp_path, key))
    assert key.split(".")[-1] in str(refused.value) and "rubric.toml" in str(refused.value)


@pytest.mark.parametrize(
    "old,new,says",
    [
        ("total = 100", "total = 90", "add up to 100"),
        ("holdout_accuracy = 0.95", "holdout_accuracy = 95", "fraction"),
        ("holdout_accuracy = 0.95", 'holdout_accuracy = "high"', "items.train_manual.holdout_accuracy must be float"),
        ("[items.forward]\npoints = 10", "[items.forward]\npoints = 10\npionts = 3", "unknown key(s) pionts"),
        ("weight_std = [0.008, 0.012]", "weight_std = [0.012, 0.008]", "low < high"),
        ("weight_std = [0.008, 0.012]", "weight_std = [0.008]", "list of 2 values"),
        ("grading_epochs = 400", "grading_epochs = 400.5", "run.grading_epochs must be int"),
        ("cell_timeout = 120", "cell_timeout = 0", "timeouts must be positive"),
        ("processes = 256", "processes = true", "limits.processes must be int"),
        ("[items.optimizers]", "[items.optimisers]", "[items] must have exactly"),
        ('identifiers = ["optim"]', "identifiers = [3]", "identifiers[0] must be str"),
        ("q2c = 3", 'q2c = "3"', "written.q2c must be float"),
        ("total = 100", "total = 100\nextra = 1", "unknown: ['extra']"),
        ("rtol = 1e-4", "rtol = -1e-4", "must not be negative"),
        ("total = 100", "total = [", "rubric.toml"),
        # Gradescope kills a run past its timeout with no results at all: the rubric's bound must fit in it
        ("timeout_minutes = 10", "timeout_minutes = 8", "must fit in gradescope.timeout_minutes (8 min)"),
        ("submission_timeout = 480", "submission_timeout = 600", "run.submission_timeout (600 s)"),
        ("timeout_minutes = 10", "timeout_minutes = 60", "at most Gradescope's 40"),
        ("notebook_timeout = 300", "notebook_timeout = 480", "less than submission_timeout"),
    ],
)
def test_a_mistake_in_the_rubric_is_refused_with_where_it_is(tmp_path, old, new, says):
    with pytest.raises(RubricError) as refused:
        load_rubric(edited(tmp_path, old, new))
    assert says in str(refused.value)


def test_a_missing_rubric_file_is_refused(tmp_path):
    with pytest.raises(RubricError, match="nowhere.toml"):
        load_rubric(tmp_path / "nowhere.toml")


def test_a_rule_watching_what_the_probe_cannot_recognise_is_refused(tmp_path):
    with pytest.raises(RubricError, match="watch may hold autograd, cross_entropy, optimizer; not numpy"):
        load_rubric(edited(tmp_path, 'watch = ["autograd"]', 'watch = ["autograd", "numpy"]'))
