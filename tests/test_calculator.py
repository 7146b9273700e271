from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import ConfigError, ToolError
from agent.markup import DEFAULT_MARKUP, ParsedCall
from tools.calculator import EXAMPLES, calculate, calculator, make_calculator, stop_worker


@pytest.fixture(scope="module", autouse=True)
def _worker() -> Iterator[None]:
    yield
    stop_worker()


ARITHMETIC = [
    ("400 / 1400", "0.285714"), ("2 + 2", "4"), ("15 * 24", "360"), ("52.50 - 18.75", "33.75"),
    ("12 / 30 * 100", "40"), ("0.1 + 0.2", "0.3"), ("10 / 4", "2.5"), ("1 / 3", "0.333333"), ("2 / 3", "0.666667"),
    ("-7 / 2", "-3.5"), ("2^10", "1024"), ("2**10", "1024"), ("-2^2", "-4"), ("2^-1", "0.5"), ("2^3^2", "512"),
    ("17 % 5", "2"), ("17 // 5", "3"), ("-7 // 2", "-4"), ("10 % 3.5", "3"), ("3(4 + 5)", "27"), ("(2)(3)", "6"),
    ("2pi", "6.28319"), ("1e-7", "1e-7"), ("1.5e3", "1500"), ("2.5E-3", "0.0025"), (".5 + .25", "0.75"),
    ("123456789.123", "1.23457e8"), ("0.000123456789", "0.000123457"), ("0.0000123456", "1.23456e-5"),
    ("1/8", "0.125"), ("2**64", "18446744073709551616"), ("2**100", "1.26765e30"), ("2**-10000", "5.01237e-3011"),
    ("10**999 * 10**999", "1e1998"), ("2 + 2 =", "4"), ("  7  ", "7"), ("1e5", "100000"), ("999999.5", "1e6"),
    ("0.5 * 0.5", "0.25"),
]
UNICODE_AND_WORDS = [
    ("3 × 4 ÷ 2", "6"), ("2·3", "6"), ("2⋅3", "6"), ("5 − 3", "2"), ("π", "3.14159"), ("3²", "9"),
    ("2³", "8"), ("√16", "4"), ("√(9 + 16)", "5"), ("3 x 4", "12"), ("3x4", "12"), ("$52.50 - $18.75", "33.75"),
    ("sin(30°)", "0.5"), ("sin(30 deg)", "0.5"), ("5!", "120"), ("(2 + 1)!", "6"), ("2 * 3!", "12"),
]
THOUSANDS = [
    ("1,234,567 * 2", "2469134"), ("1,234.5 + 1", "1235.5"), ("1,000.50 * 2", "2001"), ("(1,000 + 1)", "1001"),
    ("sqrt(1,000,000)", "1000"), ("max(1, 2)", "2"), ("max(1,234)", "234"), ("gcd(12,18)", "6"),
    ("max(1,000, 2,500)", "2500"), ("convert(1,000 km, m)", "1000000 m"), ("1,000 km in m", "1000000 m"),
]
PERCENT = [
    ("15% of 80", "12"), ("80 * 15%", "12"), ("15%", "0.15"), ("200 + 10%", "220"), ("200 - 10%", "180"),
    ("100 - 20%", "80"), ("(1 + 5%)^10", "1.62889"), ("50% of 50% of 80", "20"), ("20 percent of 50", "10"),
    ("10% + 5%", "0.15"), ("200 + 10% of 50", "205"), ("10 % 3", "1"), ("10 % (3)", "1"),
]
FUNCTIONS = [
    ("sqrt(2)", "1.41421"), ("sqrt(-4)", "2i"), ("cbrt(-8)", "-2"), ("cbrt(27)", "3"), ("root(32, 5)", "2"),
    ("exp(1)", "2.71828"), ("e^2", "7.38906"), ("ln(e)", "1"), ("log(e^3)", "3"), ("log(100, 10)", "2"),
    ("log(8, 2)", "3"), ("log10(1000)", "3"), ("log2(1024)", "10"), ("log(2)", "0.693147"), ("sin(pi/6)", "0.5"),
    ("cos(pi)", "-1"), ("tan(45 deg)", "1"), ("asin(1)", "1.5708"), ("acos(0)", "1.5708"),
    ("atan(1) * 4", "3.14159"), ("arctan(1)", "0.785398"), ("atan2(1, 1)", "0.785398"), ("sinh(0)", "0"),
    ("cosh(0)", "1"), ("tanh(1)", "0.761594"), ("factorial(5)", "120"), ("factorial(20)", "2432902008176640000"),
    ("factorial(500)", "1.22014e1134"), ("factorial(10**5)", "2.82423e456573"), ("abs(-5)", "5"),
    ("abs(3 + 4i)", "5"), ("round(2.5)", "3"), ("round(-2.5)", "-3"), ("round(2.675, 2)", "2.68"),
    ("round(3.14159, 2)", "3.14"), ("round(1234, -2)", "1200"), ("round(pi, 3)", "3.142"), ("floor(-2.5)", "-3"),
    ("ceil(2.1)", "3"), ("ceiling(2.1)", "3"), ("gcd(12, 18)", "6"), ("gcd(12, 18, 8)", "2"), ("lcm(4, 6)", "12"),
    ("binomial(10, 3)", "120"), ("nCr(5, 2)", "10"), ("binomial(3, 5)", "0"), ("min(3, 1, 2)", "1"),
    ("max(2, pi)", "3.14159"), ("mean(1, 2, 3, 4)", "2.5"), ("average(2, 4)", "3"), ("sum(1, 2, 3)", "6"),
]
CONSTANTS_AND_COMPLEX = [
    ("pi", "3.14159"), ("e", "2.71828"), ("tau", "6.28319"), ("i^2", "-1"), ("e^(i pi)", "-1"),
    ("(1 + 2i) * (3 - i)", "5 + 5i"), ("5 + 3i", "5 + 3i"), ("2 - i", "2 - i"), ("(-8)^(1/3)", "1 + 1.73205i"),
    ("sqrt(2)^2", "2"), ("2 + 2 = 4", "true"), ("2 + 2 = 5", "false"), ("i^i", "0.20788"),
    ("e^(10^6 i)", "0.936752 - 0.349994i"), ("2^(i*10^9)", "0.887194 + 0.461397i"),
    ("(1+i)^(10^6)", "9.9502e150514"), ("(-2)^(10^6+0.5)", "1.40016e301030i"), ("2^0.123", "1.089"),
    ("2**(10**6 + 0.5)", "1.40016e301030"), ("sqrt(10**999)", "3.16228e499"),
    ("floor(2.0**(10**5))", "9.99002e30102"), ("asin(2)", "1.5708 - 1.31696i"),
]
WORKER_FALLBACK = [
    ("floor(sqrt(50))", "7"), ("17 % pi", "1.29204"), ("max(sqrt(2), 1.4)", "1.41421"), ("floor(x)", "floor(x)"),
    ("x % 3", "Mod(x, 3)"), ("sin(e^2)", "0.893855"), ("sin(sin(sin(sin(1))))", "0.627572"),
    ("exp(sin(cos(tan(1))))", "1.01348"), ("ceil(log(1000, 2))", "10"),
]
SYMBOLS = [
    ("x + x", "2*x"), ("(x + 1)^2", "(x + 1)**2"), ("2x * 3y", "6*x*y"), ("x(x + 1)", "x*(x + 1)"),
]
UNITS = [
    ("120 km/h in m/s", "33.3333 m/s"), ("convert(120 km/h, m/s)", "33.3333 m/s"), ("5 miles in km", "8.04672 km"),
    ("100 km in miles", "62.1371 miles"), ("60 mph to km/h", "96.5606 km/h"), ("1 GB in MB", "1000 MB"),
    ("1 gallon in L", "3.78541 L"), ("90 deg in rad", "1.5708 rad"), ("3 hours in minutes", "180 minutes"),
    ("30 min in h", "0.5 h"), ("1 week in days", "7 days"), ("5 ft in cm", "152.4 cm"), ("2 kWh in J", "7200000 J"),
    ("1 m^2 in cm^2", "10000 cm^2"), ("1 km + 500 m in m", "1500 m"), ("50 km/h * 2 h in km", "100 km"),
    ("9.81 m/s^2 * 70 kg in N", "686.7 N"), ("c in km/s", "299792 km/s"), ("1 lb in kg", "0.453592 kg"),
    ("100 °F in °C", "37.7778 °C"), ("-40 degF to degC", "-40 °C"), ("300 K in degC", "26.85 °C"),
    ("0 K in degF", "-459.67 °F"), ("37 C to F", "98.6 °F"), ("convert(100 celsius, fahrenheit)", "212 °F"),
]
SYMBOLIC = [
    ("solve(x^2 - 4, x)", "x = -2 or x = 2"),
    ("solve(x^2 = 2)", "x = -sqrt(2) ≈ -1.41421 or x = sqrt(2) ≈ 1.41421"), ("x^2 - 5x + 6 = 0", "x = 2 or x = 3"),
    ("2x + 3 = 7", "x = 2"), ("solve(x + y = 3, x - y = 1)", "x = 2, y = 1"),
    ("solve(3x = 1)", "x = 1/3 ≈ 0.333333"), ("solve(x^2 + 2x + 5 = 0)", "x = -1 - 2i or x = -1 + 2i"),
    ("solve(2 = 3)", "no solution"), ("solve(x^2 + y^2 = 1, x)", "x = -sqrt(1 - y**2) or x = sqrt(1 - y**2)"),
    ("solve(x^5 - x + 1)",
     "x ≈ -1.1673 or x ≈ -0.181232 - 1.08395i or x ≈ -0.181232 + 1.08395i or x ≈ 0.764884 - 0.352472i"
     " or x ≈ 0.764884 + 0.352472i"),
    ("solve(cos(x) = x)", "x ≈ 0.739085"), ("solve(abs(x - 1) = 3)", "x = -2 or x = 4"),
    ("solve(x e^x = 1)", "x = LambertW(1) ≈ 0.567143"), ("simplify(sin(x)^2 + cos(x)^2)", "1"),
    ("simplify((x^2 - 1)/(x - 1))", "x + 1"), ("simplify(sqrt(8))", "2*sqrt(2) ≈ 2.82843"),
    ("expand((x + 1)^3)", "x**3 + 3*x**2 + 3*x + 1"), ("factor(x^4 - 1)", "(x - 1)*(x + 1)*(x**2 + 1)"),
    ("factor(360)", "2^3 * 3^2 * 5"), ("factor(-12)", "-1 * 2^2 * 3"), ("diff(x^3, x)", "3*x**2"),
    ("diff(sin(x))", "cos(x)"), ("diff(x^4, x, 2)", "12*x**2"), ("derivative(x^2 y, y)", "x**2"),
    ("integrate(x^2, x)", "x**3/3"), ("integrate(x^2, x, 0, 1)", "1/3 ≈ 0.333333"),
    ("integrate(x^2, (x, 0, 3))", "9"), ("integrate(x^2, 0, 3)", "9"), ("integrate(1/x, x, 1, e)", "1"),
    ("integrate(exp(-x^2), x, -oo, oo)", "sqrt(pi) ≈ 1.77245"), ("integrate(sin(x)^2, x, 0, pi)", "pi/2 ≈ 1.5708"),
    ("integrate(exp(-x^2), (x, 0, 1))", "sqrt(pi)*erf(1)/2 ≈ 0.746824"), ("limit(sin(x)/x, x, 0)", "1"),
    ("limit((1 + 1/n)^n, n, oo)", "E ≈ 2.71828"), ("limit(1/x, x, oo)", "0"), ("2 * integrate(x, x, 0, 1)", "1"),
]


@pytest.mark.parametrize(
    ("expression", "expected"),
    ARITHMETIC + UNICODE_AND_WORDS + THOUSANDS + PERCENT + FUNCTIONS + CONSTANTS_AND_COMPLEX + SYMBOLS + UNITS,
)
def test_values(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(("expression", "expected"), SYMBOLIC + WORKER_FALLBACK)
def test_symbolic_values(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


@pytest.mark.parametrize(("expression", "digits", "expected"), [
    ("400 / 1400", 3, "0.286"), ("400 / 1400", 12, "0.285714285714"), ("pi", 1, "3"),
    ("pi", 20, "3.1415926535897932385"), ("2/3", 2, "0.67"), ("123456", 3, "123456"), ("1234.5", 3, "1.23e3"),
    ("0.125", 2, "0.13"),
    ("120 km/h in m/s", 3, "33.3 m/s"), ("solve(x^2 = 2)", 3, "x = -sqrt(2) ≈ -1.41 or x = sqrt(2) ≈ 1.41"),
])
def test_digits(expression: str, digits: int, expected: str) -> None:
    assert calculate(expression, digits=digits) == expected


HOSTILE = [
    ("9**9**9**9", "too large"), ("9^9^9", "too large"), ("10**10**10", "too large"),
    ("factorial(10**9)", "too large"), ("binomial(10**6, 5*10**5)", "too large"), ("exp(10**7)", "too large"),
    ("e**(10**10)", "too large"), ("pi**(10**7)", "too large"), ("0.5**(10**7)", "too small"),
    ("(2*x)**100000", "exponent 100000 is too large"), ("x**(10**9)", "too large"), ("sin(10**400)", "too large"),
    ("(" * 41 + "1" + ")" * 41, "nested too deeply"), ("(" * 5000 + "1" + ")" * 5000, "too long"),
    ("-" * 150 + "1", "nested too deeply"), ("-" * 900 + "1", "too long"), ("+".join(["1"] * 300), "too long"),
    ("1" * 250, "too many digits"), ("1e99999", "out of range"), ("1" * 100_000, "too long"),
    ("(1).__class__", "attribute access"), ("x.real", "attribute access"),
    ("__import__('os')", "unknown name '__import__'"), ("_x", "unknown name"),
    ("lambda: 1", "'lambda' is not supported"), ("[x for x in range(10)]", "brackets"),
    ("(x for x in y)", "'for' is not supported"), ("import os", "'import' is not supported"),
    ("1 if 1 else 2", "'if' is not supported"), ("open('f')", "quotes"), ("a;b", "unexpected character ';'"),
    ("print(1)", "unknown function 'print'"), ("eval(1)", "unknown function 'eval'"),
    ("sqrt(x=2)", "cannot be used inside"), ("{1: 2}", "braces"), ("1]", "brackets are not supported"),
    ("1 @ 2", "unexpected character '@'"), ("1 < 2", "unexpected character '<'"), ("\x00", "unexpected character"),
    ("1/0", "division by zero"), ("0**-1", "division by zero"), ("10 % 0", "division by zero"),
    ("tan(pi/2)", "division by zero"), ("log(0)", "logarithm of 0"), ("factorial(-1)", "0 or more"),
    ("factorial(2.5)", "whole numbers"), ("gcd(1.5, 2)", "whole numbers"), ("round(1.5, 1000)", "at most 100"),
    ("max(1, i)", "complex"), ("sqrt(1, 2)", "sqrt takes 1 argument, got 2"),
    ("max()", "max takes at least 1 argument, got 0"), ("foo(3)", "unknown function 'foo'"),
    ("km + 1", "units work in conversions"), ("sin", "sin is a function"), ("sin x", "write sin(...)"),
    ("2 3", "missing operator"), ("x 2", "missing operator"), ("1,23", "commas separate"),
    ("1, 2", "commas separate"), ("", "empty"), ("   ", "empty"), ("%5", "cannot parse"),
    ("5 of 3", "'of' must follow a percentage"), ("1 in", "needs a quantity"), ("1 km in m in cm", "once"),
    ("max(1 in m)", "top level"), ("((1)", "never closed"), ("1)", "has no '('"), ("2 +* 3", "cannot parse"),
    ("5!!", "not supported"), ("√", "needs a number"), ("convert(5 km, kg)", "cannot convert length to mass"),
    ("convert(5, m)", "has no unit"), ("5 km in 3", "convert to a unit"), ("5 km in foo", "unknown unit 'foo'"),
    ("-300 degC in K", "below absolute zero"), ("5 m in degC", "temperature"), ("solve(5)", "nothing to solve"),
    ("integrate(x*y)", "needs the variable"), ("diff(5)", "needs an expression with a variable"),
    ("diff(x^2, x, 1000)", "orders from 1 to 100"), ("solve(x = 1) + 1", "cannot be used inside"),
    ("(x = 1) + 1", "cannot be used inside"), ("1 = 1 = 1", "one '=' sign"), ("integrate(x, (x, 1))", "bounds"),
    ("max((1, 2))", "commas separate"), ("x^2 1", "missing operator"),
    ("e^(10^200 i)", "cannot be computed accurately"), ("exp(10^12 i)", "cannot be computed accurately"),
    ("sin(10^20 + i)", "cannot be computed accurately"), ("sin(10^200 i)", "cannot be computed accurately"),
    ("sinh(10^7)", "too large"), ("12 // tanh(10**30)", "precisely enough"), ("atan2(1, i)", "real numbers"),
    ("tanh(sin(acos(sin(i * 37.3461) + asin(2.5))))", "cannot be computed accurately"),
]


@pytest.mark.parametrize(("expression", "message"), HOSTILE)
def test_hostile_and_invalid_input_raises_a_clear_tool_error(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=re.escape(message)) as raised:
        calculate(expression)
    text = str(raised.value)
    assert len(text) <= 160 and "\n" not in text and "]" not in text


@pytest.mark.parametrize("expression", [
    "expand((x + y + z)**1000)", "integrate(exp(x**x**x), x)", "factor(2**256 + 1)",
])
def test_long_symbolic_work_is_stopped_at_the_time_limit(expression: str) -> None:
    with pytest.raises(ToolError, match="took longer than 0.2 s"):
        calculate(expression, time_limit=0.2)
    assert calculate("solve(x - 1)") == "x = 1"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/^%!().,= xeipn", max_size=30))
def test_any_text_gives_text_or_a_tool_error(expression: str) -> None:
    try:
        result = calculate(expression, time_limit=0.5)
    except ToolError as exc:
        assert str(exc)
    else:
        assert isinstance(result, str) and result and len(result) <= 200 and "]" not in result


_CALL = re.compile(r"\[Calculator\((.*?)\) → ([^\]]*)\]")


@pytest.mark.parametrize("text", EXAMPLES)
def test_examples_show_what_the_calculator_returns(text: str) -> None:
    calls = _CALL.findall(text)
    assert calls
    for raw, result in calls:
        assert calculate(raw) == result
        bound = calculator.bind(ParsedCall.of("Calculator", raw))
        assert calculate(bound["expression"]) == result
        assert DEFAULT_MARKUP.completed("Calculator", raw, result) in text


def test_the_tool_takes_the_raw_expression() -> None:
    assert calculator.name == "Calculator"
    assert calculator.raw_param == "expression"
    assert calculator.examples == EXAMPLES and any(e.startswith("Question: ") for e in EXAMPLES)
    assert calculator.timeout is not None and calculator.timeout >= 1
    assert len(calculator.description) < 150 and "\n" not in calculator.description
    assert calculator.param_docs["expression"]
    for raw, expression in [("400 / 1400", "400 / 1400"), ("2", "2"), ("max(1, 2)", "max(1, 2)"),
                            ("1, 2", "1, 2"), ("-5", "-5"), ('"2 + 2"', "2 + 2")]:
        assert calculator.bind(ParsedCall.of("Calculator", raw)) == {"expression": expression}
    assert calculator.fn("15% of 80") == "12"


def test_make_calculator_rounds_to_its_digits_and_shows_it_in_its_examples() -> None:
    tool = make_calculator(digits=3, time_limit=2.0, name="Calc")
    assert tool.name == "Calc"
    assert tool.fn("400 / 1400") == "0.286"
    assert "[Calc(400 / 1400) → 0.286]" in tool.examples[-1]
    assert "[Calc(120 km/h in m/s) → 33.3 m/s]" in tool.examples[-3]
    assert tool.description == calculator.description
    for text in tool.examples:
        for raw, result in re.findall(r"\[Calc\((.*?)\) → ([^\]]*)\]", text):
            assert calculate(raw, digits=3) == result


@pytest.mark.parametrize("options", [{"digits": 0}, {"digits": 31}, {"time_limit": 0}, {"time_limit": -1.0}])
def test_bad_settings_are_a_config_error(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        make_calculator(**options)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        calculate("1", **options)  # type: ignore[arg-type]
