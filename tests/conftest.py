from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.server import TOOLS_FORMAT, llama_server

from tools.python import Sandbox, SandboxUnavailable


@pytest.fixture(scope="module")
def isolation() -> None:
    """Skips the module's tests where the sandbox cannot isolate."""
    try:
        with Sandbox() as sb:
            sb.start()
    except SandboxUnavailable as exc:
        pytest.skip(f"no isolation on this machine: {exc}")


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server as a user starts it (the model's own chat template)."""
    with llama_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def tools_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server with a chat format that does function calling."""
    with llama_server(tmp_path_factory.mktemp("tools-server"), chat_format=TOOLS_FORMAT) as url:
        yield url
