"""The Calculator's defaults, apart from the engine so that naming them loads no sympy."""

DEFAULT_DIGITS = 6
DEFAULT_TIME_LIMIT = 0.8
"""Seconds a symbolic operation may run; keeps every answer, even a refusal, under 1 s."""
