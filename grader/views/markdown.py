"""Markdown and its math as HTML for the pages, safe whatever a student wrote, and without a script.

Markdown is rendered by markdown-it (CommonMark) with raw HTML, links and images off, so a student's
`<script>` or `![](http://...)` is shown as text. `$...$` and `$$...$$` become MathML (latex2mathml),
which browsers draw natively: no MathJax, and the pages' policy forbids scripts anyway. latex2mathml
passes some input through unescaped (`\\text{<b>}`, `\\href{...}`), so its output is parsed and rebuilt
with MathML's presentation elements and attributes only; math that does not convert or parse is shown as
its LaTeX, as code.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin

MATHML = "{http://www.w3.org/1998/Math/MathML}"
ELEMENTS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
    "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "menclose", "mfenced", "merror",
}  # fmt: skip
ATTRIBUTES = {
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent", "accentunder",
    "movablelimits", "minsize", "maxsize", "columnalign", "rowspacing", "columnspacing", "width", "height",
    "depth", "linethickness", "notation", "open", "close", "separators", "displaystyle", "scriptlevel",
}  # fmt: skip
SAFE_VALUE = re.compile(r"^[\w .%#,+-]*$")


def _rebuilt(element: ElementTree.Element) -> str:
    """`element` as MathML with only the allowed elements and attributes; any other element becomes its text."""
    name = element.tag.removeprefix(MATHML)
    inner = html.escape(element.text or "") + "".join(
        _rebuilt(child) + html.escape(child.tail or "") for child in element
    )
    if name not in ELEMENTS:
        return html.escape("".join(element.itertext()))
    attributes = "".join(
        f' {key}="{html.escape(value)}"'
        for key, value in sorted(element.attrib.items())
        if key in ATTRIBUTES and SAFE_VALUE.match(value)
    )
    if name == "math":
        attributes = f' xmlns="http://www.w3.org/1998/Math/MathML"{attributes}'
    return f"<{name}{attributes}>{inner}</{name}>"


def math_html(latex: str, display: bool) -> str:
    """The LaTeX as safe MathML, or as code when it cannot be converted."""
    try:
        tree = ElementTree.fromstring(convert(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds for LaTeX it cannot read; the XML may not parse
        return f"<code>{html.escape(latex)}</code>"
    return _rebuilt(tree)


def _math_renderer(display: bool):
    def render(self, tokens, index, options, env) -> str:  # markdown-it's renderer signature
        return math_html(tokens[index].content, display)

    return render


# a student's links and images stay text: nothing on a page leads or loads elsewhere
_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .disable(["image", "link", "autolink"])
    .use(dollarmath_plugin, double_inline=True)
)
_markdown.add_render_rule("math_inline", _math_renderer(display=False))
_markdown.add_render_rule("math_inline_double", _math_renderer(display=True))
_markdown.add_render_rule("math_block", _math_renderer(display=True))
_markdown.add_render_rule("math_block_label", _math_renderer(display=True))


def markdown_html(text: str) -> Markup:
    """`text` (Markdown with `$` math) as HTML for a page; nothing in it can add markup of its own."""
    return Markup(_markdown.render(text or ""))


def markdown_inline(text: str) -> Markup:
    """One line of Markdown (code spans, emphasis) as HTML inside an element of the page's own, no paragraph."""
    return Markup(_markdown.renderInline(text or ""))
