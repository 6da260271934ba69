"""What a feedback page shows of a student's work as pictures: the figures an assignment draws from the numbers
judging stored (its `figures(plots)`), each with the numbers behind it as a table, for readers who cannot see it.

Drawn by matplotlib without pyplot (no global state) into PNGs inlined as data: URIs.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: a run that draws none starts without it
    from matplotlib.figure import Figure

# legible at the size the pages show them: larger type than matplotlib's 10 pt
STYLE = {"font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "legend.fontsize": 12}


def png(figure: Figure) -> str:
    """The figure as a PNG data: URI (margins set by each figure: a "tight" box would draw it twice)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class Table:
    """A figure's numbers: a caption, column headings, and rows of text (None: no value). The first
    `label_columns` columns name the row; the others are numbers, aligned as such."""

    id: str
    caption: str
    columns: list[str]
    rows: list[list[str | None]]
    label_columns: int = 1


@dataclass(frozen=True)
class PageFigure:
    """One figure of a feedback page. `caption` and `missing` are one line of Markdown each; `image` is None when
    there is nothing to draw, and the page then says `missing`."""

    id: str
    image: str | None
    alt: str
    caption: str
    missing: str
    table: Table | None = None
