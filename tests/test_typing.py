from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent


def test_the_packages_type_check_strictly() -> None:
    out, err, status = api.run(["--strict", "--config-file", str(ROOT / "pyproject.toml"), "-p", "agent", "-p", "tools"])
    assert status == 0, out + err
