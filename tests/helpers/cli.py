"""Running the installed `agent` script as a user does, in a folder of the test's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
AGENT = str(Path(sys.executable).parent / "agent")
MODEL = "python:helpers.models:make_model"
"""The scripted model of `helpers.models`, as a `--model` spec."""


def agent_env(tmp_path: Path, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This environment with the runs and the index under `tmp_path`, the test helpers
    importable, and no model, search backend or `drop` variable chosen from outside."""
    values = dict(os.environ)
    values.update({
        "INTERLEAF_HOME": str(tmp_path / "home"), "INTERLEAF_INDEX": str(tmp_path / "index.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
    })
    for name in ("INTERLEAF_MODEL", "INTERLEAF_SEARCH", *drop):
        values.pop(name, None)
    return values
