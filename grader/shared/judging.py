"""The judging framework, one for the grader and the students' self-check: the prologue every case of every item
goes through before its values are looked at (did each call return, did the function keep its rule), the
mistakes only an item's cases show together (sizes written in, the notebook's globals used, arguments ignored),
and the policy on an item that composes others.

An item's own judge (the assignment's, named in its item table) sees one case whose calls all returned and says
per part what is wrong ("" when right), holding the values to `Standards`: the tolerances, the rubric's options
and the expected values (the grader computes them with the reference on its hidden cases; the self-check reads
them from the numbers shipped with its public cases).

One policy for a training loop over the notebook's own functions (an item whose table entry `composes` them):
what one of those gets wrong is charged to it alone. A training whose results differ from the handout's only
because a function it composes is wrong keeps its points (its judge compares it with the handout's loop over
the notebook's own functions); one that raises while such a function fails is charged, and says where to look
first.

`make student-bundle` stamps this module into the self-check: the standard library and numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.shared.outcomes import CallOutcome, Case
from grader.shared.verdicts import (
    Check,
    Trouble,
    call_failure,
    changed_inputs,
    describe_call,
    returned_autograd_history,
    watched_at_run_time,
)


@dataclass(frozen=True)
class Standards:
    """What every judge holds the values to: the tolerance, each item's options (as the rubric's `[items.NAME]`
    tables give them), the expected values, the notebook's training rows, the composed items that fail their
    own tests (a training is not charged again for them), and the sizes the notebook itself uses."""

    rtol: float
    atol: float
    options: dict[str, Any]
    expected: Any  # the assignment's expected values (its judges say what they ask of it)
    training_rows: int
    failing: frozenset[str] = frozenset()
    notebook_sizes: tuple[tuple[str, int], ...] = ()  # the notebook's own sizes: a case of these, right only there?


# a judge sees one case whose calls all returned, and gives one Check per part of its item, in order
Judge = Callable[[Case, list[CallOutcome], Standards], list[Check]]


def named_test(item: str, part: str, case: Case) -> str:
    return ".".join(p for p in (item, part, case.name) if p)


def parts_of(parts: tuple[str, ...], case: Case) -> tuple[str, ...]:
    """The tests `case` yields: the item's, or those its definition's `parts` names."""
    return tuple(part for part in parts if part in case.spec.get("parts", parts))


def charged_once(items: dict[str, Any], failing: set[str] | frozenset[str]) -> str:
    """What the feedback says of each item that composes others (a training loop over the notebook's functions)
    while some of those fail their own tests: the policy. `items`: the item table (each entry's `composes`)."""
    notes = []
    for item, entry in items.items():
        composes = tuple(getattr(entry, "composes", ()))
        follows = [name for name in composes if name in failing]
        if not follows:
            continue
        names = ", ".join(f"`{name}`" for name in follows)
        notes.append(
            f"{item} composes {', '.join(composes)} and is judged on its own loop: while {names} "
            f"fail{'s' if len(follows) == 1 else ''} {'its' if len(follows) == 1 else 'their'} own tests, its losses "
            "and trained weights are compared with what the handout's loop over your own functions gives, so what "
            "those get wrong is charged once, to them."
        )
    return "\n\n".join(notes)


def handout_loop_read(
    composes: tuple[str, ...] | list[str],
    cases: list[Case],
    found: dict[str, CallOutcome],
    failing: set[str] | frozenset[str],
    expected: Any,
) -> bool:
    """Whether an item's judge reads the handout's loop over the notebook's own functions (its cases' handout_loop
    calls): where a function it `composes` fails its own tests (`failing`: the items judged before it that do),
    or where the expected values say so of a case (a training from first weights they do not know: the
    self-check's). Elsewhere its verdicts do not depend on the loop, and neither the grader nor the self-check
    runs it. `found`: the outcomes of the item's own calls."""
    if set(failing) & set(composes):
        return True
    loop_needed = getattr(expected, "loop_needed", None)  # the reference knows every start: it has none
    return loop_needed is not None and any(loop_needed(case, found[case.graded_calls[0].key]) for case in cases)


def charged_elsewhere(follows: list[str]) -> str:
    names = ", ".join(f"`{item}`" for item in follows)
    return f" (functions it composes fail their own tests: {names}; fix those first)"


def _why_not_judged(
    function: str, rule: Any, case: Case, outcomes: list[CallOutcome], breach: str
) -> tuple[str, Trouble]:
    """Why the case's tests all fail before any value is looked at (a broken rule, a call that did not return),
    and its kind of trouble; ("", NONE) when its values are to be judged."""
    if breach:
        return breach, Trouble.RULE
    graded = [(call, outcome) for call, outcome in zip(case.calls, outcomes, strict=True) if not call.handout_loop]
    failures = [call_failure(outcome, call.function) for call, outcome in graded]
    if any(text for text, _ in failures):
        first = next(trouble for text, trouble in failures if text)
        return "; ".join(dict.fromkeys(text for text, _ in failures if text)), first
    own = [outcome for _, outcome in graded]
    if rule is not None and rule.watch:
        if ran := watched_at_run_time(function, own, tuple(rule.watch), rule.reason):
            return ran, Trouble.RULE
    if rule is not None and rule.autograd_history:
        if kept := returned_autograd_history(function, own, rule.reason):
            return kept, Trouble.RULE
    return "", Trouble.NONE


def _changed_inputs_note(case: Case, outcomes: list[CallOutcome]) -> str:
    changed = sorted(
        {
            name
            for index, (call, outcome) in enumerate(zip(case.calls, outcomes, strict=True))
            if not call.handout_loop
            for name in changed_inputs(case, index, outcome)
        }
    )
    if not changed:
        return ""
    return f" Note: it changed its input{'s' if len(changed) > 1 else ''} {', '.join(changed)} in place."


def called(case: Case) -> str:
    """`Called f(x: (4, 2) float32, y: (4,) int64).`: what a case called, and on what data."""
    shown = [describe_call(case, index) for index, call in enumerate(case.calls) if not call.handout_loop]
    on = f" on {case.spec['about']}" if "about" in case.spec else ""
    return f"Called {' and '.join(shown)}{on}."


def _across_cases(
    cases: list[Case], outcomes: dict[str, CallOutcome], checks: list[list[Check]], rows: int, sizes: dict[str, int]
) -> str:
    """A catalogued mistake that only shows across an item's cases (sizes written in, globals used), or ""."""
    for case in cases:
        shaped = [value for value in case.arrays.values() if value.ndim >= 1]
        case_rows = len(shaped[0]) if shaped else None
        for call in case.graded_calls:
            # a result as long as a number the grader passed (say epochs) may owe its length to that number
            given = {arg for arg in (*call.args, *call.kwargs.values()) if type(arg) is int}
            if (
                case_rows not in (None, rows)
                and rows not in given
                and any(
                    leaf.value is not None and leaf.value.ndim >= 1 and leaf.value.shape[0] == rows
                    for leaf in outcomes[call.key].leaves
                )
            ):
                return "globals_for_arguments"
    handout = [i for i, case in enumerate(cases) if sizes and all(case.spec.get(k) == v for k, v in sizes.items())]
    others = [i for i in range(len(cases)) if i not in handout]
    if (
        handout
        and all(not c.problem for i in handout for c in checks[i])
        and any(c.problem for i in others for c in checks[i])
    ):
        return "sizes_hard_coded"
    return ""


def judge_cases(
    item: str,
    entry: Any,
    cases: list[Case],
    outcomes: dict[str, CallOutcome],
    standards: Standards,
    breach: str = "",
    ignored: tuple[str, ...] | list[str] = (),
) -> list[tuple[str, str, Check]]:
    """Every test of one item's cases as (test name, what was called, verdict). `entry`: the item's `function`,
    `judge`, `parts`, `changes_inputs` and `composes`; its options (`standards.options[item]`) hold its
    `rule`, if any.
    `breach`: the rule its code breaks; `ignored`: the arguments its code never reads (both read from its source)."""
    rule = getattr(standards.options[item], "rule", None)
    checks = []
    for case in cases:
        case_outcomes = [outcomes[call.key] for call in case.calls]
        failure, trouble = _why_not_judged(entry.function, rule, case, case_outcomes, breach)
        parts = parts_of(entry.parts, case)
        if failure:
            # a training that raised while a function it composes fails: that one is where to look first
            follows = [name for name in getattr(entry, "composes", ()) if name in standards.failing]
            pointer = charged_elsewhere(follows) if follows and trouble != Trouble.RULE else ""
            checks.append([Check(part, f"{failure}{pointer}.", trouble=trouble) for part in parts])
            continue
        found = entry.judge(case, case_outcomes, standards)
        if [check.part for check in found] != list(entry.parts):  # a judge of ours that breaks the interface
            raise ValueError(f"the {item} judge judged {[c.part for c in found]}, not its parts {list(entry.parts)}")
        note = "" if entry.changes_inputs else _changed_inputs_note(case, case_outcomes)
        checks.append([_with_note(check, note) for check in found if check.part in parts])
    # a mistake only the cases together show, for the failures whose values show none of their own; and for a
    # call that raised, the mistake the item's other cases show
    across = (
        ""
        if breach
        else _across_cases(cases, outcomes, checks, standards.training_rows, dict(standards.notebook_sizes))
    )
    shown = next((c.mistake for case_checks in checks for c in case_checks if c.mistake), "")
    unused = _unused_note(entry.function, ignored)
    return [
        (named_test(item, check.part, case), called(case), _with_mistake(check, across, shown, unused))
        for case, case_checks in zip(cases, checks, strict=True)
        for check in case_checks
    ]


def _unused_note(function: str, ignored: tuple[str, ...] | list[str]) -> str:
    if not ignored:
        return ""
    names = ", ".join(f"`{name}`" for name in ignored)
    return f" Note: {function} never uses its argument{'s' if len(ignored) > 1 else ''} {names}."


def _with_note(check: Check, note: str) -> Check:
    return Check(check.part, check.problem + note, check.mistake, check.trouble) if check.problem and note else check


def _with_mistake(check: Check, across: str, shown: str, unused: str) -> Check:
    """A failed check with the mistake its item's cases show together, where its own value shows none; and, for a
    failure on the values, the arguments its code ignores."""
    if not check.problem or check.trouble not in (Trouble.NONE, Trouble.RAISED):
        return check
    if check.mistake:
        return check
    mistake = across or (shown if check.trouble == Trouble.RAISED else "")
    if unused and not mistake:
        return Check(check.part, check.problem + unused, "argument_ignored", check.trouble)
    return Check(check.part, check.problem, mistake, check.trouble)
