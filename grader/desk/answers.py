"""A student's text as HTML a TA's browser can show: Markdown with math, then a maintained sanitizer over it.

The Markdown renderer already leaves raw HTML, links and images out and builds
math as MathML elements only (`views/markdown.py`); nh3 (ammonia) then keeps only
an allowlist of elements and attributes, as a second wall: whatever the renderer
lets through by mistake, no script, handler, frame, form, style or link survives.
"""

from __future__ import annotations

import nh3

from grader.views.markdown import ATTRIBUTES, ELEMENTS, markdown_html

HTML_ELEMENTS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "table", "thead", "tbody", "tr", "th", "td", "del", "sup", "sub",
}  # fmt: skip


def safe_html(text: str) -> str:
    """`text` (a student's answer, a question, a model answer) as HTML with no active content."""
    return nh3.clean(
        str(markdown_html(text)),
        tags=HTML_ELEMENTS | ELEMENTS,
        attributes={element: set(ATTRIBUTES) for element in ELEMENTS} | {"th": {"align"}, "td": {"align"}},
        url_schemes=set(),
        strip_comments=True,
    )
