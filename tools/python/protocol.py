"""The host's end of the pipes to the sandbox: length-prefixed JSON with deadlines."""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")


class ChannelClosed(Exception):
    """The sandbox closed its end: it exited or was killed."""


class ChannelTimeout(Exception):
    """No complete message before the deadline."""


class ProtocolError(Exception):
    """The sandbox sent something that is not a valid message."""


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return HEADER.pack(len(data)) + data


class Channel:
    """Requests go to `write_fd`, replies come from `read_fd`; both are made non-blocking."""

    def __init__(self, read_fd: int, write_fd: int, *, max_message: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_message = max_message
        self._buffer = bytearray()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

    def send(self, message: dict[str, Any], deadline: float) -> None:
        view = memoryview(encode(message))
        while view:
            self._wait(self.write_fd, select.POLLOUT, deadline)
            try:
                view = view[os.write(self.write_fd, view):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise ChannelClosed() from exc

    def receive(self, deadline: float) -> dict[str, Any]:
        while True:
            message = self._take()
            if message is not None:
                return message
            self._wait(self.read_fd, select.POLLIN, deadline)
            try:
                chunk = os.read(self.read_fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                raise ChannelClosed()
            self._buffer += chunk

    def _take(self) -> dict[str, Any] | None:
        if len(self._buffer) < HEADER.size:
            return None
        size = HEADER.unpack_from(self._buffer)[0]
        if size > self.max_message:
            raise ProtocolError(f"a message of {size} bytes is over the limit")
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[HEADER.size:end])
        del self._buffer[:end]
        try:
            message = json.loads(body)
        except ValueError as exc:
            raise ProtocolError("a message is not valid JSON") from exc
        if not isinstance(message, dict):
            raise ProtocolError("a message is not a JSON object")
        return message

    @staticmethod
    def _wait(fd: int, event: int, deadline: float) -> None:
        poller = select.poll()
        poller.register(fd, event)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout()
            if poller.poll(max(1, int(left * 1000) + 1)):
                return
