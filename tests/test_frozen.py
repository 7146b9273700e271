import dataclasses
import inspect

import pytest

from agent.events import CallRecord, TextDelta
from agent.detector import Opened
from agent.frozen import compact_init, quick_init
from agent.markup import ParsedCall
from agent.models.base import Prompt, Request


def test_quick_records_are_the_dataclass_they_were():
    call = ParsedCall.of("add", "1, 2")
    assert call == ParsedCall("add", "1, 2", (1, 2), {}, None, ())
    assert call.kwargs == {} and call.problem is None and call.keywords == ()
    assert hash(TextDelta("a")) == hash(TextDelta(text="a"))
    assert Opened("a", "[a(") == Opened(text="[a(", name="a") and repr(Opened("a", "[a(")) == "Opened(name='a', text='[a(')"
    assert repr(TextDelta("a")) == "TextDelta(text='a')"
    record = CallRecord(0, "add", "1, 2", "[add(1, 2) -> 3]", result="3")
    assert record.ok and record.seconds == 0.0 and record.content == ()
    assert dataclasses.asdict(record)["result"] == "3"
    request = Request(Prompt("s", "u"), max_tokens=7)
    assert request.stop == () and request.max_tokens == 7 and request.prompt.layout == "chat"
    assert list(inspect.signature(Request).parameters) == [f.name for f in dataclasses.fields(Request)]


def test_quick_records_stay_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TextDelta("a").text = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ParsedCall("add")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        TextDelta("a", "b")  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Opened("a", "[a(").name = "b"  # type: ignore[misc]


def test_quick_init_takes_only_what_it_can_build():
    @dataclasses.dataclass
    class Loose:
        x: int

    @dataclasses.dataclass(frozen=True)
    class Made:
        x: list[int] = dataclasses.field(default_factory=list)

    for cls in (Loose, Made):
        for make in (quick_init, compact_init):
            with pytest.raises(TypeError):
                make(cls)
