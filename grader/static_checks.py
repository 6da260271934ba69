"""What can be told from the submitted notebook's text alone: function sources and forbidden calls."""

from __future__ import annotations

import ast

import nbformat

from grader.rubric import ForbiddenRule


def _parsable(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them so the rest still parses
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def function_definitions(notebook: nbformat.NotebookNode) -> dict[str, ast.FunctionDef]:
    """Top-level `def`s of the code cells; a later definition wins, as it would when run in order."""
    found: dict[str, ast.FunctionDef] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_parsable(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = node
    return found


def forbidden_identifiers(function: ast.FunctionDef, rule: ForbiddenRule) -> list[str]:
    """The rule's identifiers the function's code uses as a name, an attribute or a keyword."""
    used = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and node.attr in rule.identifiers:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in rule.identifiers and node.id != function.name:
            used.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg in rule.identifiers:
            used.add(node.arg)
        elif isinstance(node, ast.alias) and any(part in rule.identifiers for part in node.name.split(".")):
            used.add(node.name)
    return sorted(used)


def forbidden_uses(notebook: nbformat.NotebookNode, rules: dict[str, ForbiddenRule]) -> dict[str, str]:
    """For each graded function breaking its rule, a message saying what it used and why that is not allowed."""
    definitions = function_definitions(notebook)
    messages = {}
    for name, rule in rules.items():
        if name in definitions:
            used = forbidden_identifiers(definitions[name], rule)
            if used:
                messages[name] = f"{name} uses {', '.join(used)}: {rule.reason}."
    return messages
