"""The HTML pages' one Jinja2 environment: templates in views/templates, every value escaped unless marked safe.

Pages are self-contained (inline CSS, images as data: URIs) and carry a
Content-Security-Policy that forbids scripts and remote loads, so even markup
that got past escaping could not run or call out.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from grader.assignment import current_assignment
from grader.points import points_text
from grader.views.markdown import markdown_html, markdown_inline

TEMPLATES = Path(__file__).with_name("templates")

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # everything a student controls (answers, errors, names) is shown as text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["fmt"] = points_text
# points as people read them: at most two decimals (1.66667 -> 1.67), no trailing zeros
environment.filters["points"] = points_text
environment.filters["markdown"] = markdown_html  # Markdown and $math$, made safe (views/markdown.py)
environment.filters["inline"] = markdown_inline  # one line of it, inside an element of the template's


def render(template: str, **context: object) -> str:
    """A page, titled after the assignment being graded."""
    return environment.get_template(template).render(assignment_title=current_assignment().TITLE, **context)
