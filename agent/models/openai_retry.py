"""Retries for the OpenAI backend, kept in the backend's own hands.

The openai client retries every 5xx, including a 500 that a server (llama.cpp's) sends
for a request body it could not validate: that request can never succeed, so it is
sent again for nothing. Here a request is sent again only when a later try can succeed:
the connection failed or timed out, the server was busy (408, 409, 429) or failed for a
reason of its own (5xx that is not a validation error). The client is built with its
own retries off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

import openai

from agent.errors import ContextOverflow

T = TypeVar("T")

BUSY = frozenset({408, 409, 429})
VALIDATION_MARKERS = ("validation error", "input should be", "invalid_request_error")
_TOKENS = re.compile(r"context length is (\d+) tokens.*?requested (\d+) tokens", re.DOTALL)
FIRST_WAIT = 0.5
LONGEST_WAIT = 20.0


def can_succeed_later(error: openai.APIError) -> bool:
    """Whether sending the same request again may get another answer."""
    if isinstance(error, openai.APIConnectionError):  # also APITimeoutError
        return True
    if not isinstance(error, openai.APIStatusError):
        return False
    if error.status_code in BUSY:
        return True
    return error.status_code >= 500 and not is_validation_error(error)


def is_validation_error(error: openai.APIStatusError) -> bool:
    """A 500 whose body says the request itself was invalid (llama.cpp's server answers
    this way for a field it does not accept)."""
    text = f"{error.message} {error.body}".casefold()
    return any(marker in text for marker in VALIDATION_MARKERS)


def context_overflow(error: openai.APIStatusError) -> ContextOverflow | None:
    """The `ContextOverflow` a refusal reports (OpenAI's and llama.cpp's servers both
    answer 400 with code "context_length_exceeded"), else None."""
    body = error.body if isinstance(error.body, dict) else {}
    if error.code != "context_length_exceeded" and body.get("code") != "context_length_exceeded":
        return None
    found = _TOKENS.search(error.message)
    window, needed = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    return ContextOverflow(needed, window)


def wait_before(attempt: int, error: openai.APIError) -> float:
    """Seconds to wait before try `attempt + 1`: the server's Retry-After when it sends
    one, else doubling from FIRST_WAIT; never more than LONGEST_WAIT."""
    response = getattr(error, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        asked = float(header) if header is not None else None
    except ValueError:
        asked = None
    wait = asked if asked is not None and asked >= 0 else FIRST_WAIT * 2**attempt
    return min(wait, LONGEST_WAIT)


def with_retries(send: Callable[[], T], *, retries: int, sleep: Callable[[float], None] = time.sleep) -> T:
    """`send()`, tried again up to `retries` times while its failure can succeed later;
    the last failure is raised as it came."""
    attempt = 0
    while True:
        try:
            return send()
        except openai.APIError as error:
            if attempt >= retries or not can_succeed_later(error):
                raise
            sleep(wait_before(attempt, error))
            attempt += 1
