"""Text a student controls, made fit for every output once, and quoted where it meets Markdown.

A student writes exception messages, printed output, written answers, file names and the names of what
their functions return. Before any of it is stored, `clean` replaces what no output format can carry
(lone surrogates, noncharacters, NUL and other control characters) and shows bidirectional controls as
visible marks, so that a name cannot read right to left. Each view then quotes for its own format: Markdown
puts the student's text in a code span or a fenced block (`code_span`, in grader/shared/verdicts.py for
the self-check's sake, and `code_block`), HTML autoescapes, XML keeps only what XML allows, CSV guards
formulas.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# bidirectional formatting controls: shown as a visible mark, never applied
BIDI_CONTROLS = {chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_UNFIT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def clean(text: str) -> str:
    """`text` with what no output can carry replaced by U+FFFD, line ends as "\\n", bidi controls made visible."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNFIT.sub(REPLACEMENT, text)
    return _BIDI.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def code_block(text: str) -> str:
    """`text` as a fenced Markdown block that nothing in it can close."""
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"
