from __future__ import annotations

import pytest

from tools.python import Sandbox, SandboxUnavailable


@pytest.fixture(scope="module")
def isolation() -> None:
    """Skips the module's tests where the sandbox cannot isolate."""
    try:
        with Sandbox() as sb:
            sb.start()
    except SandboxUnavailable as exc:
        pytest.skip(f"no isolation on this machine: {exc}")
