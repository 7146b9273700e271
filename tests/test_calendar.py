from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from agent.markup import ParsedCall
from tools.calendar import calendar, calendar_tool, describe


def test_calendar_reads_the_injected_clock() -> None:
    tool = calendar_tool(clock=lambda: datetime(2026, 11, 28, 23, 59))
    assert tool.fn() == "Today is Saturday, November 28, 2026."


def test_calendar_uses_the_clock_s_own_time_zone() -> None:
    late_utc = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)
    in_new_york = late_utc.astimezone(timezone(timedelta(hours=-5)))
    assert calendar_tool(clock=lambda: in_new_york).fn() == "Today is Wednesday, December 31, 2025."


def test_calendar_accepts_a_date_clock_and_each_call_reads_it_again() -> None:
    days = iter([date(2024, 2, 29), date(2024, 3, 1)])
    tool = calendar_tool(clock=lambda: next(days))
    assert tool.fn() == "Today is Thursday, February 29, 2024."
    assert tool.fn() == "Today is Friday, March 1, 2024."


def test_describe_every_weekday_and_month() -> None:
    start = date(2027, 1, 4)
    names = [describe(start + timedelta(days=i)).split(",")[0] for i in range(7)]
    assert names == [f"Today is {d}" for d in (
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")]
    months = [describe(date(2027, m, 1)).split(", ")[1].split()[0] for m in range(1, 13)]
    assert months[0] == "January" and months[-1] == "December" and len(set(months)) == 12


def test_calendar_tool_shape() -> None:
    assert calendar.name == "Calendar"
    assert calendar.param_names == []
    assert calendar.bind(ParsedCall.of("Calendar", "")) == {}
    assert calendar.description == "Today's date and day of the week."
    assert 2 <= len(calendar.examples) <= 3
    assert all("[Calendar() → Today is " in e for e in calendar.examples)
    assert calendar.fn().startswith("Today is ")


def test_examples_have_consistent_weekdays() -> None:
    for example in calendar.examples:
        said = example.split("→ ")[1].split("]")[0]
        parsed = datetime.strptime(said, "Today is %A, %B %d, %Y.")
        assert describe(parsed.date()) == said
