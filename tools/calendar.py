"""The `Calendar` tool: today's date and weekday, as in the Toolformer paper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from agent import Tool, tool

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)

EXAMPLES = (
    "Today is [Calendar() → Today is Saturday, November 28, 2026.] the 28th.",
    "Christmas is [Calendar() → Today is Monday, December 21, 2026.] four days away.",
    "This year is [Calendar() → Today is Friday, March 6, 2026.] 2026, so the 2028 "
    "Olympics are two years away.",
)


def local_now() -> datetime:
    return datetime.now().astimezone()


def describe(day: date) -> str:
    """`day` in words, independent of the locale: "Today is Saturday, November 28, 2026."."""
    return f"Today is {WEEKDAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day}, {day.year}."


def calendar_tool(*, clock: Callable[[], datetime | date] = local_now) -> Tool:
    """A `Calendar` tool that reads the date from `clock` (local time by default)."""

    def Calendar() -> str:
        """Today's date and day of the week."""
        now = clock()
        return describe(now.date() if isinstance(now, datetime) else now)

    return tool(name="Calendar", examples=EXAMPLES)(Calendar)


calendar = calendar_tool()
