"""Ctrl-C as a request to stop: the first sets the run's cancel event (the run stops
at its next check and saves), the second raises KeyboardInterrupt."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def cancel_on_signals(cancel: threading.Event, on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """`on_stop` is called at the first signal, to tell the user the run is stopping."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cancel.set()
        if on_stop is not None:
            on_stop()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
