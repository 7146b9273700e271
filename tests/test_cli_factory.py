"""`--model python:MODULE:FACTORY` through the installed `agent` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.setup import load_model
from agent.errors import ModelNotFound
from agent.testing import ScriptedModel

AGENT = Path(sys.executable).parent / "agent"
MODEL_FILE = '''
from agent.testing import ScriptedModel


def make():
    return ScriptedModel(["Two and two make 4, the answer from mymodel."])
'''


def test_a_factory_module_in_the_current_folder_is_found(tmp_path: Path) -> None:
    (tmp_path / "mymodel.py").write_text(MODEL_FILE, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "INTERLEAF_MODEL")}
    env["INTERLEAF_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [str(AGENT), "run", "--single", "What is 2 + 2?", "--model", "python:mymodel:make", "--tools", ""],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "the answer from mymodel" in result.stdout


def test_the_import_path_is_restored_after_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd_factory_model.py").write_text(MODEL_FILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "cwd_factory_model", raising=False)
    before = list(sys.path)
    assert isinstance(load_model("python:cwd_factory_model:make"), ScriptedModel)
    assert sys.path == before
    with pytest.raises(ModelNotFound):
        load_model("python:cwd_factory_model:missing")
    assert sys.path == before
