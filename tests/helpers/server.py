"""A real OpenAI-compatible server for tests: llama-cpp-python's, with the packaged
smollm2-135m, on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from agent.models.catalog import model_path

SERVE = ("import runpy; from agent.models.llama_cpu import plain_buffers; plain_buffers(); "
         "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")
"""`python -m llama_cpp.server`, with the weights in plain buffers on a CPU with AMX."""

TOOLS_FORMAT = "chatml-function-calling"
"""llama-cpp-python's chat format with function calling for ChatML models (SmolLM2 is one)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(log_dir: Path, *, chat_format: str | None = None, n_ctx: int = 2048) -> Iterator[str]:
    """The server's base URL while it runs; stopped on leaving."""
    port = free_port()
    log = log_dir / "server.log"
    command = [sys.executable, "-c", SERVE, "--model", str(model_path("smollm2-135m")),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False"]
    if chat_format is not None:
        command += ["--chat_format", chat_format]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the server did not come up:\n{log.read_text()[-3000:]}")


def recording_client(url: str, sent: list[dict[str, Any]]) -> openai.OpenAI:
    """An OpenAI client for `url` (no retries of its own) that appends each request's
    JSON body to `sent`."""

    def record(request: Any) -> None:
        sent.append(json.loads(request.content or b"{}"))

    http = openai.DefaultHttpxClient(event_hooks={"request": [record]})
    return openai.OpenAI(base_url=url, api_key="no-key", max_retries=0, http_client=http)
