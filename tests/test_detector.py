from __future__ import annotations

import keyword
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.detector import MAX_NAME_CHARS, Closed, Detector, DetectorEvent, Malformed, Opened, Text, _merge
from agent.markup import Markup, format_arguments


def detect(text: str, sizes: list[int] | None = None, markup: Markup = Markup(), tools: set[str] | None = None) -> list[DetectorEvent]:
    detector = Detector(markup, is_tool=None if tools is None else (lambda n: n in tools))
    events: list[DetectorEvent] = []
    pos = 0
    for size in sizes or [len(text)]:
        events += detector.feed(text[pos : pos + size])
        pos += size
    events += detector.feed(text[pos:])
    events += detector.finish()
    return _merge(events)


def covered(events: list[DetectorEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, (Text, Closed, Malformed)))


def closed(events: list[DetectorEvent]) -> list[Closed]:
    return [e for e in events if isinstance(e, Closed)]


def test_a_call_closed_by_the_bracket() -> None:
    events = detect("Out of 1400, 400 (or [Calculator(400 / 1400)] 29%) passed.")
    assert events[0] == Text("Out of 1400, 400 (or ")
    assert isinstance(events[1], Opened) and events[1].text == "[Calculator("
    call = closed(events)[0].call
    assert (call.name, call.raw, call.args) == ("Calculator", "400 / 1400", None)
    assert events[-1] == Text(" 29%) passed.")


def test_a_call_closes_at_the_arrow_before_any_result() -> None:
    for arrow in ("→", "->"):
        events = detect(f"x [Calc(1 + 2) {arrow} 4] y")
        assert closed(events)[0].text == f"[Calc(1 + 2) {arrow}"


def test_nested_brackets_quotes_and_multiline_strings() -> None:
    text = "[Python(\"\"\"s = ')]'\nprint((1, [2]))\"\"\")]"
    call = closed(detect(text))[0].call
    assert call.args == ("s = ')]'\nprint((1, [2]))",)
    escaped = closed(detect(r'[Search("a \") b", max_results=3)]'))[0].call
    assert escaped.args == ('a ") b',) and escaped.kwargs == {"max_results": 3}


def test_apostrophes_in_raw_text_do_not_open_strings() -> None:
    call = closed(detect("[Search(what's the capital of Peru)] done"))[0].call
    assert call.raw == "what's the capital of Peru"


def test_text_that_is_not_a_call_passes_through() -> None:
    for text in ("a [b] c", "see [note (1)]", "[f(x) is nice]", "[Calc(1) - 2]", "[", "x [Calc"):
        events = detect(text, tools=set())
        assert covered(events) == text and not closed(events)


def test_a_call_after_a_false_start_is_found() -> None:
    events = detect("[see(this) [Calculator(2+2)] ok")
    assert [c.call.name for c in closed(events)] == ["Calculator"]
    assert covered(events) == "[see(this) [Calculator(2+2)] ok"


def test_malformed_calls_to_known_tools() -> None:
    mismatched = detect("[Calculator(1 + 2] rest", tools={"Calculator"})
    assert isinstance(mismatched[1], Malformed) and "expected ')'" in mismatched[1].reason
    unclosed = detect("[Calculator(1 + 2", tools={"Calculator"})
    assert isinstance(unclosed[-1], Malformed) and "not closed" in unclosed[-1].reason
    too_long = Detector(is_tool=lambda n: True, max_call_chars=50)
    found = _merge(too_long.feed("[Python(" + "x" * 100) + too_long.finish())
    assert any(isinstance(e, Malformed) and "longer than 50" in e.reason for e in found)


def test_unknown_names_with_mismatched_brackets_are_text() -> None:
    text = "[note(see above] and more"
    events = detect(text, tools={"Calculator"})
    assert covered(events) == text and not any(isinstance(e, Malformed) for e in events)


def test_call_at_end_of_stream_without_closer() -> None:
    events = detect("x [Calc(1)", tools={"Calc"})
    assert closed(events)[0].text == "[Calc(1)"


def test_configurable_markers() -> None:
    markup = Markup(open="<API>", close="</API>")
    text = "x <API> Calculator(400 / 1400) → 0.29 </API> and <APX> <API>Calc(1)</API>"
    for sizes in ([1] * len(text), None):
        events = detect(text, sizes, markup=markup)
        assert [(c.call.name, c.call.raw) for c in closed(events)] == [("Calculator", "400 / 1400"), ("Calc", "1")]


def test_text_is_released_as_soon_as_it_cannot_start_a_call() -> None:
    detector = Detector()
    assert detector.feed("hello wor") == [Text("hello wor")]
    assert detector.feed("ld [Calc") == [Text("ld ")]
    assert detector.holding
    assert detector.feed("ulator(1+1") == [Opened("Calculator", "[Calculator(")]
    assert closed(detector.feed(")-"))  == []
    assert closed(detector.feed(">"))[0].call.raw == "1+1"


pieces = st.one_of(
    st.sampled_from([
        "The answer is ", "[Calculator(400 / 1400)]", "[Calc(1 + 2) → 3]", "[Search(what's new)] ",
        '[Python("print((1, 2))")]', "[Python('''a\n)b''')]", "[f(x) is] ", "[", "(", ")", "]", "->", "→",
        "[Calculator(1 + 2]", "'", '"', "\\", " ", "\n", "[Search(query=\"x\", max_results=3) -> r]",
        "［Calculator(2 + 3) → 9］", "［", "］",
    ]),
    st.text(alphabet="[]()'\"\\-> →abc=,\n［］", max_size=12),
)


def test_characters_fed_one_at_a_time_are_counted_once_each() -> None:
    """Characters taken whole (more of a name, of the arguments, spaces after them) are
    counted in `work` as the others are: one each when no scan is needed."""
    for unit in ("[", "[a", "[Calculator(1+1) x", "［Calculator(1+1)  x"):
        detector = Detector()
        for fed, c in enumerate(unit * 300, start=1):
            detector.feed(c)
            assert detector.work == fed, (unit, fed)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(pieces, max_size=12), data=st.data())
def test_any_chunking_gives_the_same_events(parts: list[str], data: st.DataObject) -> None:
    text = "".join(parts)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=7), max_size=len(text) + 1))
    whole = detect(text)
    assert detect(text, cuts) == whole
    assert detect(text, [1] * len(text)) == whole
    assert covered(whole) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_crashes_and_covers_arbitrary_text(text: str) -> None:
    assert covered(detect(text)) == text
    assert covered(detect(text, tools={"Calculator", "a"})) == text


literals = st.recursive(
    st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(args=st.lists(literals, max_size=3), kwargs=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda k: not keyword.iskeyword(k)), literals, max_size=3))
def test_formatted_calls_parse_back(args: list[object], kwargs: dict[str, object]) -> None:
    raw = format_arguments(*args, **kwargs)
    events = detect(f"before [Tool({raw})] after")
    call = closed(events)[0].call
    assert call.raw == raw
    assert call.args == tuple(args) and call.kwargs == kwargs


def test_a_partial_marker_that_fails_is_read_again() -> None:
    markup = Markup(open="<API>", close="</API>")
    events = detect("x <APX <API>Calc(1)</API>", [4, 30], markup=markup)
    assert [c.call.raw for c in closed(events)] == ["1"]


def test_a_call_inside_the_arguments_of_a_false_start_is_text() -> None:
    text = "[see([Calculator(1)]) and more"
    events = detect(text, tools={"Calculator"})
    assert covered(events) == text and not closed(events)


def test_long_arguments_in_small_chunks() -> None:
    body = "'" + "a) ] " * 700 + "'"
    text = f"x [Python({body}, 2)] y"
    for sizes in ([1] * len(text), [7] * (len(text) // 7), None):
        call = closed(detect(text, sizes))[0].call
        assert call.raw == f"{body}, 2" and call.args == (body[1:-1], 2)
    capped = Detector(is_tool=lambda n: True, max_call_chars=1000)
    found = _merge([e for c in text for e in capped.feed(c)] + capped.finish())
    assert covered(found) == text
    assert [len(e.text) for e in found if isinstance(e, Malformed)] == [len("[") + 1000]


worst_cases = ["[", "[a", "[Calculator(1+1) x", "[a(", "[ ", "[" + "b" * 64, "a" * 70, "'''", "\\",
               "［", "［a", "［Calculator(1+1) x", "［ ", "［" + "b" * 64]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(pieces, st.sampled_from(worst_cases)), max_size=30), data=st.data())
def test_work_per_character_is_bounded(parts: list[str], data: st.DataObject) -> None:
    """Each character is examined a bounded number of times, whatever the chunking: the
    detector is linear in its input (a quadratic one fails this on repeated false starts)."""
    text = "".join(parts) * data.draw(st.integers(min_value=1, max_value=20))
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=7), max_size=len(text) + 1))
    for sizes in (None, cuts, [1] * len(text)):
        detector = Detector(is_tool=lambda n: n == "Calculator", max_call_chars=data.draw(st.sampled_from([20, 8000])))
        pos = 0
        for size in sizes or [len(text)]:
            detector.feed(text[pos : pos + size])
            pos += size
        detector.feed(text[pos:])
        detector.finish()
        assert detector.work <= 4 * len(text) + 8


def test_worst_cases_are_linear() -> None:
    for unit in ("[", "[a", "[Calculator(1+1) x", "［", "［a", "［Calculator(1+1) x"):
        for whole in (True, False):
            counts = []
            for n in (1_000, 4_000):
                text = unit * n
                detector = Detector()
                events = [e for piece in ([text] if whole else text) for e in detector.feed(piece)]
                assert covered(_merge(events + detector.finish())) == text
                counts.append(detector.work)
            assert counts[1] <= 4 * counts[0] + 8, (unit, whole, counts)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(pieces, st.sampled_from([*worst_cases, "  ", ")   x", ")  -", ")  =>", "\u00a0"])), max_size=20),
       limit=st.sampled_from([20, 8000]), tools=st.sampled_from([None, {"Calculator", "a"}]))
def test_one_character_chunks_read_without_a_scan_as_with_one(parts: list[str], limit: int, tools: set[str] | None) -> None:
    """A one-character chunk has shortcuts past the scan; each feed gives the events the
    scan gives, at the same time, and holds the same text."""
    text = "".join(parts)
    is_tool = None if tools is None else tools.__contains__
    quick = Detector(is_tool=is_tool, max_call_chars=limit)
    scan = Detector(is_tool=is_tool, max_call_chars=limit)
    scan._one_char = False  # the open markers are read as if longer: every chunk is scanned
    for c in text + "x":
        assert quick.feed(c) == scan.feed(c), (text, c)
        assert quick.holding == scan.holding
    assert quick.finish() == scan.finish()


long_names = [f"[{'b' * n}(1)]" for n in (MAX_NAME_CHARS - 1, MAX_NAME_CHARS, MAX_NAME_CHARS + 1)]


class _Scanned(Detector):
    """Reads a chunk that opens the arguments or ends the call by the scan, as any other."""

    def _decided(self, buf: str, chunk: str, stop: re.Match[str]) -> list[DetectorEvent] | None:
        return None


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(pieces, st.sampled_from([*worst_cases, "[a(1)]", "[Calculator(x)]", "［a(', ')]", *long_names])),
                      max_size=20),
       sizes=st.lists(st.integers(1, 8), min_size=1, max_size=12),
       limit=st.sampled_from([12, 20, 8000]), tools=st.sampled_from([None, {"Calculator", "a"}]))
def test_a_chunk_that_opens_or_closes_a_call_reads_as_the_scan_reads_it(
        parts: list[str], sizes: list[int], limit: int, tools: set[str] | None) -> None:
    """`[Name` held and a chunk with `(`, or arguments and a chunk ending in `)]`: each feed
    gives the events the scan gives, and holds the same text."""
    text = "".join(parts) + "x"
    is_tool = None if tools is None else tools.__contains__
    quick = Detector(is_tool=is_tool, max_call_chars=limit)
    scan = _Scanned(is_tool=is_tool, max_call_chars=limit)
    pos = 0
    while pos < len(text):
        chunk = text[pos : pos + sizes[pos % len(sizes)]]
        pos += len(chunk)
        assert quick.feed(chunk) == scan.feed(chunk), (text, chunk)
        assert quick.holding == scan.holding
    assert quick.finish() == scan.finish()


def test_names_and_calls_at_their_limits_read_as_the_scan_reads_them() -> None:
    cases = [(text, 8000) for text in long_names] + [(t, 12) for t in ("[a(" + "1" * 9 + ")]", "x [a(" + "1" * 10 + ")]")]
    for text, limit in cases:
        for size in range(1, 9):
            for first in range(1, size + 1):
                quick, scan = Detector(max_call_chars=limit), _Scanned(max_call_chars=limit)
                for chunk in [text[:first]] + [text[i : i + size] for i in range(first, len(text), size)]:
                    assert quick.feed(chunk) == scan.feed(chunk), (text, size, first, chunk)
                    assert quick.holding == scan.holding
                assert quick.finish() == scan.finish()
