"""Units for conversions (`convert(120 km/h, m/s)`, `120 km/h in m/s`), via sympy.physics.units.

Unit names are those of sympy.physics.units (`m`, `km`, `mi`, `ft`, `inch`, `h`, `kg`,
`lb`, `L`, `J`, `eV`, `byte`, …) plus common ones it lacks (`mph`, `kph`, `knot`,
`gallon`, `oz`, `kcal`, `kWh`, `kW`, `MB`, `GB`, `week`, `month`, `acre`, …). Names mean
units only inside a conversion, so elsewhere `m` and `s` stay variables. Temperatures
(`degC`, `°C`, `celsius`, `degF`, `°F`, `fahrenheit`, `K`, `kelvin`; `C` and `F` when
both sides are temperatures) convert with their offsets.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from typing import Any

import sympy

from agent.errors import ToolError

Expr = Any

TEMPERATURES: dict[str, str] = {
    "degC": "C", "celsius": "C", "Celsius": "C", "C": "C",
    "degF": "F", "fahrenheit": "F", "Fahrenheit": "F", "F": "F",
    "K": "K", "kelvin": "K", "kelvins": "K",
}
_TEMPERATURE_SIGNS = {"C": "°C", "F": "°F", "K": "K"}
_DISPLAY = {"degC": "°C", "degF": "°F", "celsius": "°C", "fahrenheit": "°F", "Celsius": "°C", "Fahrenheit": "°F"}
_EXCLUDED = ("planck", "percent", "permille")
_COMPACT = re.compile(r"\s*(\*\*|[*/()])\s*")


@functools.cache
def table() -> dict[str, Expr]:
    """Unit names and the quantities they stand for (sympy.physics.units loads on first use)."""
    import sympy.physics.units as u

    found: dict[str, Expr] = {}
    for name in dir(u):
        value = getattr(u, name)
        if isinstance(value, u.Quantity) and not name.startswith(_EXCLUDED):
            found[name] = value
    found.update(_extra_units())
    return found


def _extra_units() -> dict[str, Expr]:
    import sympy.physics.units as u

    r = sympy.Rational
    kilo, mega, giga, tera = (sympy.Integer(10) ** n for n in (3, 6, 9, 12))
    gallon, ounce = r("3.785411784") * u.liter, r("28.349523125") * u.gram
    byte, calorie = u.byte, r("4.184") * u.joule
    extra: dict[str, Expr] = {
        "mph": u.mile / u.hour, "kph": u.km / u.hour, "kmh": u.km / u.hour,
        "knot": u.nautical_mile / u.hour, "knots": u.nautical_mile / u.hour, "kn": u.nautical_mile / u.hour,
        "gallon": gallon, "gallons": gallon, "gal": gallon,
        "pint": r("0.473176473") * u.liter, "pints": r("0.473176473") * u.liter,
        "cup": r("0.2365882365") * u.liter, "cups": r("0.2365882365") * u.liter,
        "floz": r("29.5735295625") * u.milliliter,
        "oz": ounce, "ounce": ounce, "ounces": ounce, "lb": u.pound, "lbs": u.pound,
        "cal": calorie, "calorie": calorie, "calories": calorie, "kcal": kilo * calorie,
        "Wh": u.watt * u.hour, "kWh": kilo * u.watt * u.hour, "MWh": mega * u.watt * u.hour,
        "kW": kilo * u.watt, "MW": mega * u.watt, "GW": giga * u.watt, "kJ": kilo * u.joule,
        "MJ": mega * u.joule, "kN": kilo * u.newton, "hPa": 100 * u.pascal, "MPa": mega * u.pascal,
        "GPa": giga * u.pascal, "mA": u.ampere / kilo, "kV": kilo * u.volt, "mV": u.volt / kilo,
        "kHz": kilo * u.hertz, "MHz": mega * u.hertz, "GHz": giga * u.hertz,
        "B": byte, "kB": kilo * byte, "KB": kilo * byte, "MB": mega * byte, "GB": giga * byte, "TB": tera * byte,
        "KiB": u.kibibyte, "MiB": u.mebibyte, "GiB": u.gibibyte, "TiB": u.tebibyte,
        "sec": u.second, "secs": u.second, "min": u.minute, "mins": u.minute, "hr": u.hour, "hrs": u.hour,
        "week": 7 * u.day, "weeks": 7 * u.day, "wk": 7 * u.day, "month": u.year / 12, "months": u.year / 12,
        "yr": u.year, "yrs": u.year, "acre": r("4046.8564224") * u.meter**2,
        "acres": r("4046.8564224") * u.meter**2,
    }
    return extra


def lookup(name: str) -> Expr | None:
    return table().get(name)


def display(text: str) -> str:
    """A unit as written in the call, compact: `km / h` is `km/h`."""
    compact = _COMPACT.sub(r"\1", text).replace("**", "^")
    return _DISPLAY.get(compact, compact)


def convert(value: Expr, target: Expr, shown: str, number: Any) -> str:
    """`value` in the unit `target`, as text like "33.3333 m/s"; `number` formats the amount."""
    from sympy.physics.units import Quantity, convert_to

    if not target.has(Quantity):
        raise ToolError("convert to a unit, as in convert(120 km/h, m/s)")
    if not value.has(Quantity):
        raise ToolError(f"{sympy.sstr(value)} has no unit to convert")
    have, want = dimension(value), dimension(target)
    if have[1] != want[1]:
        raise ToolError(f"cannot convert {have[0]} to {want[0]}")
    ratio = convert_to(value, sorted(target.atoms(Quantity), key=str)) / target
    if ratio.has(Quantity):
        ratio = convert_to(ratio, _base_units())
    if ratio.has(Quantity) or ratio.free_symbols:
        raise ToolError(f"cannot convert {sympy.sstr(value)} to {shown}")
    return f"{number(ratio)} {shown}"


def dimension(value: Expr) -> tuple[str, dict[str, int]]:
    from sympy.physics.units import Dimension
    from sympy.physics.units.systems.si import SI, dimsys_SI

    expr = SI.get_dimensional_expr(value)
    deps = dimsys_SI.get_dimensional_dependencies(Dimension(expr))
    name = "a plain number" if expr == 1 else sympy.sstr(expr).replace("**", "^")
    return name, {str(getattr(k, "name", k)): int(v) for k, v in deps.items()}


@functools.cache
def _base_units() -> list[Expr]:
    import sympy.physics.units as u

    return [u.meter, u.kilogram, u.second, u.ampere, u.kelvin, u.mole, u.candela, u.radian, u.byte]


def temperature(amount: Fraction | Expr, source: str, target: str) -> Expr:
    """`amount` degrees on the scale `source` ("C", "F", "K") on the scale `target`."""
    kelvin = {
        "C": lambda t: t + sympy.Rational(27315, 100),
        "F": lambda t: (t - 32) * sympy.Rational(5, 9) + sympy.Rational(27315, 100),
        "K": lambda t: t,
    }[source](amount)
    if kelvin.is_number and kelvin.is_extended_negative:
        raise ToolError("that temperature is below absolute zero")
    return {
        "C": lambda k: k - sympy.Rational(27315, 100),
        "F": lambda k: (k - sympy.Rational(27315, 100)) * sympy.Rational(9, 5) + 32,
        "K": lambda k: k,
    }[target](kelvin)


def temperature_sign(scale: str) -> str:
    return _TEMPERATURE_SIGNS[scale]
