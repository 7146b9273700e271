"""The Calculator's grammar for constrained decoding: what a small model may write after
`[Calculator(` when decoding is constrained (the full calculator accepts much more)."""

from __future__ import annotations

MAX_TERMS = 12

ARITHMETIC = """root ::= expr ")" close
expr ::= term (ws op ws term){0,%d}
term ::= "-"? (num | num "%% of " num | "(" ws expr ws ")" | "sqrt(" expr ")")
num ::= [0-9]{1,12} ("." [0-9]{1,8})?
op ::= [-+*/^%%]
ws ::= " "?""" % MAX_TERMS
"""Arithmetic over decimal numbers: + - * / ^ %, percentages (`17% of 2340`),
parentheses and sqrt. The `close` rule is supplied by the markup."""
