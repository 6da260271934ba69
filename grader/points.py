"""Points as every output shows them: whole hundredths, so that the parts always add up to the whole.

An item's points are shared among its tests in hundredths (`apportion`), so `5` over three tests is
1.67 + 1.67 + 1.66 and not three times 1.67 (or 1.6667, which no page shows in full); every score a
person gives (a TA's, an adjustment) and every sum (an item, a total, a late penalty taken off) is held to
the same grain (`exact`), and every output writes points with `points_text`, never with fewer digits.
Summed as decimals, what results.json, the gradebook, Canvas, JUnit and the pages show of a student's parts
is then exactly what they show of the whole. A hundredth is what Gradescope and Canvas show.
"""

from __future__ import annotations

DECIMALS = 2
_UNITS = 10**DECIMALS


def exact(value: float) -> float:
    """`value` on the grain of points (a sum of values already on it is only made exact again)."""
    return round(value, DECIMALS) + 0.0  # + 0.0: never -0.0


def apportion(points: float, parts: int) -> list[float]:
    """`points` shared among `parts` as equally as the grain allows, the larger shares first; they sum to `points`."""
    if parts <= 0:
        return []
    each, left = divmod(round(points * _UNITS), parts)
    return [(each + (1 if index < left else 0)) / _UNITS for index in range(parts)]


def points_text(value: float) -> str:
    """Points as text, with every digit the grain has and none more: 5, 1.67, 0.5."""
    text = f"{exact(value):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
