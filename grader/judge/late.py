"""The late policy applied to one submission: how late it was, by the export's evidence, and what it costs.

When the export says when the file came (Gradescope's time), that decides; where it only marks the
submission late (Canvas's `LATE_`), the rubric's `late_mark_days` are charged, unless the student has an
extension (the LMS's mark is against the LMS's due time, which knows nothing of it). A student's extension
moves their due time: to a time of its own, or by a number of days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from grader.intake.extensions import Extension
from grader.rubric import Late

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Lateness:
    days: float  # days charged: each day or part of one past the due time (and its grace)
    percent: float  # of the points earned
    says: str  # for the student and the staff

    @property
    def costs(self) -> bool:
        return self.percent > 0


def lateness(late: Late, handed_in: datetime | None, marked_late: bool, extension: Extension | None) -> Lateness | None:
    """How late the submission is and its penalty under `late`; None when it is on time."""
    course_due = late.due_time
    if course_due is None:
        return Lateness(0, 0, "marked late by the LMS (the course sets no late policy here)") if marked_late else None
    due = extension.due_time(course_due) if extension else course_due
    moved = ""
    if extension is not None:
        moved = f" (extension to {due.isoformat(sep=' ')}" + (f": {extension.reason})" if extension.reason else ")")
    if handed_in is not None:
        past = handed_in - due - timedelta(minutes=late.grace_minutes)
        if past <= timedelta(0):
            return None
        days = math.ceil(past / DAY)
        when = f"handed in {handed_in.isoformat(sep=' ')}, {days} day(s) after the due time{moved}"
    elif marked_late and extension is None:
        days = late.late_mark_days
        when = f"marked late by the LMS, which does not say when: charged {days:g} day(s)"
    elif marked_late:
        return Lateness(0, 0, f"marked late by the LMS, but has an extension{moved}: not charged")
    else:
        return None
    percent = min(days * late.penalty_percent_per_day, late.max_penalty_percent)
    return Lateness(days, percent, f"{when}: -{percent:g}% of the points earned")
