"""Saved KV states of the llama.cpp context, so a prompt that shares a long prefix with
an earlier one, though other prompts ran in between, evaluates only what is new.

A state is the KV cache of sequence 0 (`llama_state_seq_get_data`), copied out together
with the tokens it holds. Restoring one (`llama_state_seq_set_data`) replaces the live
cache with it; the caller then cuts it back to the prefix it shares with the new prompt.
The copy is of the evaluated cells themselves, so a restored state continues exactly as
the cache it was saved from would have. The states are kept least recently used first,
within a budget of bytes.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

Tokens = npt.NDArray[np.intc]


def as_tokens(tokens: Sequence[int] | Tokens) -> Tokens:
    return np.asarray(tokens, dtype=np.intc)


def common_prefix(a: Tokens, b: Tokens) -> int:
    """How many leading tokens `a` and `b` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


@dataclass(eq=False)
class SavedState:
    tokens: Tokens
    """The tokens the saved cache holds, in order from position 0."""
    data: npt.NDArray[np.uint8]

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.tokens.nbytes)


@dataclass
class StateStats:
    saved: int = 0
    restored: int = 0
    evicted: int = 0
    failed: int = 0
    """Captures or restores llama.cpp refused (the engine then evaluates from scratch)."""
    spared: int = 0
    """Prompt tokens taken from restored states instead of being evaluated."""


def capture(ctx: Any, tokens: Tokens) -> SavedState | None:
    """The KV state of sequence 0, which holds `tokens`; None if llama.cpp cannot copy it."""
    size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
    if size <= 0:
        return None
    data = np.empty(size, dtype=np.uint8)
    written = int(llama_cpp.llama_state_seq_get_data(ctx, _pointer(data), size, 0))
    if written <= 0 or written > size:
        return None
    return SavedState(tokens.copy(), data[:written])


def restore(ctx: Any, state: SavedState) -> bool:
    """Replace sequence 0 with `state`; False if llama.cpp refused (sequence 0 is then empty)."""
    return int(llama_cpp.llama_state_seq_set_data(ctx, _pointer(state.data), state.data.nbytes, 0)) > 0


def _pointer(data: npt.NDArray[np.uint8]) -> Any:
    return data.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


@dataclass
class StateCache:
    """Saved states, least recently used first, holding at most `capacity` bytes
    (0: nothing is kept). A state whose tokens begin another's is dropped: the longer
    one serves every prompt the shorter one would."""

    capacity: int
    stats: StateStats = field(default_factory=StateStats)
    _states: OrderedDict[int, SavedState] = field(default_factory=OrderedDict)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def states(self) -> list[SavedState]:
        """The saved states, most recently used first."""
        return list(reversed(self._states.values()))

    def best(self, tokens: Tokens) -> tuple[SavedState | None, int]:
        """The state sharing the longest prefix with `tokens`, and that prefix's length."""
        found: SavedState | None = None
        longest = 0
        for state in self.states():
            shared = common_prefix(state.tokens, tokens)
            if shared > longest:
                found, longest = state, shared
        return found, longest

    def covers(self, tokens: Tokens) -> bool:
        """A saved state already holds all of `tokens` at its start."""
        return any(len(s.tokens) >= len(tokens) and common_prefix(s.tokens, tokens) == len(tokens)
                   for s in self._states.values())

    def add(self, state: SavedState) -> None:
        if state.nbytes > self.capacity:
            return
        n = len(state.tokens)
        for key, old in list(self._states.items()):
            if len(old.tokens) <= n and common_prefix(old.tokens, state.tokens) == len(old.tokens):
                del self._states[key]
        self._states[id(state)] = state
        self.stats.saved += 1
        total = self.nbytes
        while total > self.capacity:
            _, dropped = self._states.popitem(last=False)
            total -= dropped.nbytes
            self.stats.evicted += 1

    def used(self, state: SavedState) -> None:
        """Mark `state` most recently used (if it is still kept)."""
        if id(state) in self._states:
            self._states.move_to_end(id(state))

    def discard(self, state: SavedState) -> None:
        self._states.pop(id(state), None)

    def clear(self) -> None:
        self._states.clear()
